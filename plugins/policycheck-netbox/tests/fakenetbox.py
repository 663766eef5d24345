"""A small local HTTP server answering NetBox's documented REST shapes (paginated lists, error bodies)
for what a real NetBox cannot easily be made to do: 403, 500, invalid JSON, a page that never ends.
Built on policycheck.testing.FakeHTTPServer (transport, TLS, faults); this module only says what NetBox
answers."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from policycheck.testing import Answer, FakeHTTPServer, Request, json_answer

LISTS = {
    "/api/dcim/devices/": "devices",
    "/api/virtualization/virtual-machines/": "vms",
    "/api/ipam/services/": "services",
    "/api/ipam/ip-addresses/": "ips",
    "/api/ipam/fhrp-group-assignments/": "fhrp",
}
#: what a page that never finishes announces (more than it will ever send)
NEVER_ENDS = {"Content-Type": "application/json", "Content-Length": "100000"}


class FakeNetBox:
    """``data`` maps devices/vms/services/ips to lists of objects. ``faults`` maps a list path to one of
    403, 401, 500, 503-once, 'badjson', 'html', 'hang', 'dribble', 'truncate', 'count', 'nextother',
    'echo403'. ``requests``: (path, {param: last value}, headers) of every request received."""

    def __init__(self, data: dict | None = None, token: str = "nbt_abcdefghijkl.SECRETsecretSECRETsecret00",
                 tls: tuple | None = None):
        self.data = {k: list(v) for k, v in (data or {}).items()}
        self.token = token
        self.faults: dict[str, object] = {}
        self.server = FakeHTTPServer(default=self._answer, tls=tls)
        self.url = self.server.url

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.close()  # also releases a 'hang' or 'dribble' answer still holding its connection

    @property
    def requests(self) -> list[tuple[str, dict, dict]]:
        return [(r.path, {k: v[-1] for k, v in parse_qs(urlsplit(r.target).query).items()}, r.headers)
                for r in self.server.requests]

    def list_calls(self):
        return [p for p, _, _ in self.requests]

    def _answer(self, req: Request) -> Answer:
        q = {k: v[-1] for k, v in parse_qs(urlsplit(req.target).query).items()}
        auth = req.headers.get("Authorization", "")
        want = ("Bearer " if self.token.startswith("nbt_") else "Token ") + self.token
        if auth != want:
            return json_answer({"detail": "Invalid v2 token"}, 403)
        fault = self.faults.get(req.path)
        if fault == "echo403":  # a proxy/server that echoes the credentials it refused
            return json_answer({"detail": f"token {auth} may not view this", "headers": req.headers}, 403)
        if fault == 403:
            return json_answer({"detail": "You do not have permission to perform this action."}, 403)
        if fault == 401:
            return json_answer({"detail": "Authentication credentials were not provided."}, 401)
        if fault == 500:
            return Answer(500, b"<h1>Server Error (500)</h1>", {"Content-Type": "text/html"})
        if fault == "503-once":
            self.faults.pop(req.path)
            return json_answer({"detail": "Service temporarily unavailable"}, 503)
        if fault == "html":
            return Answer(200, b"<html><body>Please log in</body></html>", {"Content-Type": "text/html"})
        if fault == "badjson":
            return Answer(200, b'{"count": 1, "next": null, "results": [{"id": 1,')
        if fault == "hang":  # headers, part of the body, then nothing until the client gives up
            head = b'{"count": 1, "next": null, "results": ['
            return Answer(200, head, NEVER_ENDS, stall_after=len(head))
        if fault == "dribble":  # one byte every 0.15 s for 3 s (past the tests' budget), then nothing
            return Answer(200, b" " * 20, NEVER_ENDS, stall_after=20, trickle=3.0)
        if fault == "truncate":  # half the page, Content-Length announcing all of it, then the connection closes
            body = json_answer(self._page(req, q)).body
            return Answer(200, body, cut_after=len(body) // 2)
        if req.path not in LISTS:
            return json_answer({"detail": "Not found."}, 404)
        page = self._page(req, q)
        if fault == "count":
            page["count"] += 3
        if fault == "nextother" and page["next"] is None:
            page["next"] = "http://127.0.0.2:9/api/dcim/devices/?limit=1&offset=99"
        return json_answer(page)

    def _page(self, req: Request, q: dict) -> dict:
        path = req.path
        items = self.data.get(LISTS.get(path, ""), [])
        limit = int(q.get("limit", 50))
        offset = int(q.get("offset", 0))
        host = req.headers.get("Host")
        chunk = items[offset: offset + limit]
        nxt = None
        if offset + limit < len(items):
            rest = "&".join(f"{k}={v}" for k, v in q.items() if k not in ("offset", "limit"))
            nxt = f"http://{host}{path}?limit={limit}&offset={offset + limit}" + (f"&{rest}" if rest else "")
        prev = f"http://{host}{path}?limit={limit}" if offset else None
        return {"count": len(items), "next": nxt, "previous": prev, "results": chunk}


def ref(kind: str, oid: int, name: str, base="http://127.0.0.1") -> dict:
    path = {"device": "dcim/devices", "vm": "virtualization/virtual-machines"}[kind]
    return {"id": oid, "url": f"{base}/api/{path}/{oid}/", "display": name, "name": name, "description": ""}


def sample_data() -> dict:
    """NetBox 4.7 shapes (fields= selection) for a small site: a backup server that also serves NFS,
    a clean backup server, a DNS VM, a blade in a chassis."""
    role = lambda name, slug: {"id": hash(slug) % 1000, "url": "", "display": name, "name": name, "slug": slug,  # noqa: E731
                               "description": ""}
    plat = lambda name, slug: {"id": hash(slug) % 1000, "url": "", "display": name, "name": name, "slug": slug,  # noqa: E731
                               "description": ""}
    ipb = lambda i, addr: {"id": i, "url": "", "display": addr, "family": {"value": 4, "label": "IPv4"},  # noqa: E731
                           "address": addr, "description": ""}
    tag = lambda name, slug: {"id": 1, "url": "", "display": name, "name": name, "slug": slug, "color": "ff0000"}  # noqa: E731
    st = {"value": "active", "label": "Active"}
    devices = [
        {"id": 1, "name": "NSR-DIR.corp.example", "status": st, "role": role("Backup Server", "backup-server"),
         "platform": plat("RHEL 9", "rhel-9"), "site": {"id": 1, "name": "DC1", "slug": "dc1"},
         "parent_device": None, "primary_ip4": ipb(11, "10.0.0.10/24"), "primary_ip6": None,
         "tags": [tag("bmr:ReaR", "bmr-rear")],
         "custom_fields": {"depends_on": [ref("vm", 7, "dns01")], "bmr_methods": None,
                           "independent_recovery": None, "backup_product": "networker"}},
        {"id": 2, "name": "bkp2", "status": st, "role": role("Backup Server", "backup-server"),
         "platform": plat("Windows Server 2022", "windows-server-2022"), "site": None, "parent_device": None,
         "primary_ip4": None, "primary_ip6": None, "tags": [],
         "custom_fields": {"depends_on": None, "bmr_methods": [{"value": "windows_bmr", "label": "Windows BMR"}], "independent_recovery": None,
                           "backup_product": None}},
        {"id": 3, "name": "chassis01", "status": st, "role": role("Blade Chassis", "blade-chassis"),
         "platform": None, "site": None, "parent_device": None, "primary_ip4": None, "primary_ip6": None,
         "tags": [], "custom_fields": {"depends_on": None, "bmr_methods": None, "independent_recovery": None,
                                       "backup_product": None}},
        {"id": 4, "name": "blade01", "status": st, "role": role("File Server", "file-server"),
         "platform": plat("Solaris 11", "solaris-11"), "site": None,
         "parent_device": {"id": 3, "url": "", "display": "chassis01", "name": "chassis01",
                           "device_bay": {"id": 1, "url": "", "display": "Bay 1", "name": "Bay 1"}},
         "primary_ip4": None, "primary_ip6": None, "tags": [tag("role:sunray-server", "role-sunray-server")],
         "custom_fields": {"depends_on": "dns01, ldap01", "bmr_methods": ["jumpstart"],
                           "independent_recovery": True, "backup_product": None}},
        {"id": 5, "name": None, "status": st, "role": role("Patch Panel", "patch-panel"), "platform": None,
         "site": None, "parent_device": None, "primary_ip4": None, "primary_ip6": None, "tags": [],
         "custom_fields": {}},
    ]
    vms = [
        {"id": 7, "name": "dns01", "status": st, "role": role("DNS Server", "dns-server"),
         "platform": plat("Debian 12", "debian-12"), "site": None,
         "cluster": {"id": 1, "url": "", "display": "prod", "name": "prod", "description": ""},
         "primary_ip4": ipb(12, "10.0.0.53/24"), "primary_ip6": None, "tags": [],
         "custom_fields": {"bmr_methods": [{"value": "template", "label": "VM template"}]}},
    ]
    services = [
        {"id": 1, "name": "nfs", "protocol": {"value": "tcp", "label": "TCP"}, "ports": [2049],
         "parent_object_type": "dcim.device", "parent_object_id": 1},
        {"id": 2, "name": "NetWorker", "protocol": {"value": "tcp", "label": "TCP"}, "ports": [7937, 7938],
         "parent_object_type": "dcim.device", "parent_object_id": 1},
        {"id": 3, "name": "Domain", "protocol": {"value": "udp", "label": "UDP"}, "ports": [53],
         "parent_object_type": "virtualization.virtualmachine", "parent_object_id": 7},
        {"id": 4, "name": "thinclients", "protocol": {"value": "udp", "label": "UDP"}, "ports": [7009],
         "parent_object_type": "dcim.device", "parent_object_id": 4},
        {"id": 5, "name": "vrrp", "protocol": {"value": "udp", "label": "UDP"}, "ports": [112],
         "parent_object_type": "ipam.fhrpgroup", "parent_object_id": 1},
    ]
    ips = [
        {"id": 11, "address": "10.0.0.10/24", "dns_name": "nsr-dir.corp.example",
         "assigned_object_type": "dcim.interface", "assigned_object_id": 1,
         "assigned_object": {"id": 1, "name": "eth0", "device": {"id": 1, "name": "NSR-DIR.corp.example"}}},
        {"id": 13, "address": "192.168.9.10/24", "dns_name": "",
         "assigned_object_type": "dcim.interface", "assigned_object_id": 2,
         "assigned_object": {"id": 2, "name": "eth1", "device": {"id": 1, "name": "NSR-DIR.corp.example"}}},
        {"id": 12, "address": "10.0.0.53/24", "dns_name": "dns01.corp.example",
         "assigned_object_type": "virtualization.vminterface", "assigned_object_id": 3,
         "assigned_object": {"id": 3, "name": "eth0", "virtual_machine": {"id": 7, "name": "dns01"}}},
    ]
    # NetBox 4.7 shape of /api/ipam/fhrp-group-assignments/ (interface: the GFK's nested interface)
    fhrp = [
        {"id": 1, "group": {"id": 1, "url": "", "display": "VRRP 1", "protocol": "vrrp3", "group_id": 1},
         "interface_type": "dcim.interface", "interface_id": 9,
         "interface": {"id": 9, "url": "", "display": "eth0", "name": "eth0",
                       "device": {"id": 3, "url": "", "display": "chassis01", "name": "chassis01"}}},
    ]
    return {"devices": devices, "vms": vms, "services": services, "ips": ips, "fhrp": fhrp}
