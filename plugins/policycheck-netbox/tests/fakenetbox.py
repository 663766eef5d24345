"""A small local HTTP server answering NetBox's documented REST shapes (paginated lists, error bodies)
for what a real NetBox cannot easily be made to do: 403, 500, invalid JSON, a page that never ends."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LISTS = {
    "/api/dcim/devices/": "devices",
    "/api/virtualization/virtual-machines/": "vms",
    "/api/ipam/services/": "services",
    "/api/ipam/ip-addresses/": "ips",
    "/api/ipam/fhrp-group-assignments/": "fhrp",
}


class FakeNetBox:
    """``data`` maps devices/vms/services/ips to lists of objects. ``faults`` maps a list path to one of
    403, 401, 500, 503-once, 'badjson', 'html', 'hang', 'dribble', 'truncate', 'count', 'nextother'."""

    def __init__(self, data: dict | None = None, token: str = "nbt_abcdefghijkl.SECRETsecretSECRETsecret00",
                 tls: tuple | None = None):
        self.data = {k: list(v) for k, v in (data or {}).items()}
        self.token = token
        self.faults: dict[str, object] = {}
        self.requests: list[tuple[str, dict, dict]] = []
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, code, body: bytes, ctype="application/json", length=None):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, code, obj):
                self._send(code, json.dumps(obj).encode())

            def do_GET(self):  # noqa: N802
                u = urlsplit(self.path)
                q = {k: v[-1] for k, v in parse_qs(u.query).items()}
                fake.requests.append((u.path, q, dict(self.headers)))
                auth = self.headers.get("Authorization", "")
                want = ("Bearer " if fake.token.startswith("nbt_") else "Token ") + fake.token
                if auth != want:
                    return self._json(403, {"detail": "Invalid v2 token"})
                fault = fake.faults.get(u.path)
                if fault == "echo403":  # a proxy/server that echoes the credentials it refused
                    return self._json(403, {"detail": f"token {auth} may not view this",
                                            "headers": dict(self.headers)})
                if fault == 403:
                    return self._json(403, {"detail": "You do not have permission to perform this action."})
                if fault == 401:
                    return self._json(401, {"detail": "Authentication credentials were not provided."})
                if fault == 500:
                    return self._send(500, b"<h1>Server Error (500)</h1>", "text/html")
                if fault == "503-once":
                    fake.faults.pop(u.path)
                    return self._json(503, {"detail": "Service temporarily unavailable"})
                if fault == "html":
                    return self._send(200, b"<html><body>Please log in</body></html>", "text/html")
                if fault == "badjson":
                    return self._send(200, b'{"count": 1, "next": null, "results": [{"id": 1,')
                if fault == "hang":  # headers, part of the body, then nothing until the client gives up
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(b'{"count": 1, "next": null, "results": [')
                    self.wfile.flush()
                    fake._stop.wait(30)
                    return
                if fault == "dribble":  # one byte a (short) while, never finishing within the budget
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    for _ in range(300):
                        if fake._stop.wait(0.1):
                            return
                        try:
                            self.wfile.write(b" ")
                            self.wfile.flush()
                        except OSError:
                            return
                    return
                if fault == "truncate":
                    body = json.dumps(self._page(u.path, q)).encode()
                    self._send(200, body[: len(body) // 2], length=len(body))
                    self.close_connection = True
                    return
                if u.path not in LISTS:
                    return self._json(404, {"detail": "Not found."})
                page = self._page(u.path, q)
                if fault == "count":
                    page["count"] += 3
                if fault == "nextother" and page["next"] is None:
                    page["next"] = "http://127.0.0.2:9/api/dcim/devices/?limit=1&offset=99"
                return self._json(200, page)

            def _page(self, path, q):
                items = fake.data.get(LISTS.get(path, ""), [])
                limit = int(q.get("limit", 50))
                offset = int(q.get("offset", 0))
                host = self.headers.get("Host")
                chunk = items[offset: offset + limit]
                nxt = None
                if offset + limit < len(items):
                    rest = "&".join(f"{k}={v}" for k, v in q.items() if k not in ("offset", "limit"))
                    nxt = f"http://{host}{path}?limit={limit}&offset={offset + limit}" + (f"&{rest}" if rest else "")
                prev = f"http://{host}{path}?limit={limit}" if offset else None
                return {"count": len(items), "next": nxt, "previous": prev, "results": chunk}

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls:  # (certfile, keyfile)
            import ssl

            sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sctx.load_cert_chain(*tls)
            self.server.socket = sctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    def list_calls(self):
        return [p for p, _, _ in self.requests]


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
