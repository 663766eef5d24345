"""Users, tokens and test objects for a real NetBox started by nbserver.py.

Users and tokens are made in one `netbox shell` (tokens cannot be created with a known value through
the API); every test object is created through the REST API, as an administrator would."""
from __future__ import annotations

import json
import secrets as _secrets

import requests

READ_OBJECT_TYPES = ["dcim.device", "virtualization.virtualmachine", "ipam.service", "ipam.ipaddress",
                     "ipam.fhrpgroupassignment"]  # the last only needed for services on FHRP groups

_SHELL = r'''
import json
from core.models import ObjectType
from users.models import ObjectPermission, Token, User
out = {}
admin = User.objects.create_user("admin", password=None, is_superuser=True)
t = Token(user=admin, version=2, pepper_id=1, token=ADMIN_SECRET, write_enabled=True); t.save()
out["admin"] = "nbt_" + t.key + "." + ADMIN_SECRET
reader = User.objects.create_user("policycheck-reader", password=None)
perm = ObjectPermission(name="policycheck read-only", actions=["view"]); perm.save()
perm.users.add(reader)
for ot in READ_OBJECT_TYPES:
    app, model = ot.split(".")
    perm.object_types.add(ObjectType.objects.get(app_label=app, model=model))
t = Token(user=reader, version=2, pepper_id=1, token=READER_SECRET, write_enabled=False); t.save()
out["reader"] = "nbt_" + t.key + "." + READER_SECRET
t = Token(user=reader, version=1, token=READER_V1, write_enabled=False); t.save()
out["reader_v1"] = READER_V1
nofhrp = User.objects.create_user("policycheck-no-fhrp", password=None)
perm = ObjectPermission(name="policycheck read-only without FHRP", actions=["view"]); perm.save()
perm.users.add(nofhrp)
for ot in READ_OBJECT_TYPES[:4]:
    app, model = ot.split(".")
    perm.object_types.add(ObjectType.objects.get(app_label=app, model=model))
t = Token(user=nofhrp, version=1, token=NOFHRP_V1, write_enabled=False); t.save()
out["nofhrp_v1"] = NOFHRP_V1
nobody = User.objects.create_user("nobody", password=None)
t = Token(user=nobody, version=1, token=NOBODY_V1, write_enabled=False); t.save()
out["nobody_v1"] = NOBODY_V1
print("TOKENS=" + json.dumps(out))
'''


def make_tokens(server) -> dict:
    alnum = lambda n: "".join(_secrets.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")  # noqa: E731
                              for _ in range(n))
    code = (f"ADMIN_SECRET={alnum(40)!r}\nREADER_SECRET={alnum(40)!r}\nNOBODY_V1={_secrets.token_hex(20)!r}\n"
            f"READER_V1={_secrets.token_hex(20)!r}\nNOFHRP_V1={_secrets.token_hex(20)!r}\n"
            f"READ_OBJECT_TYPES={READ_OBJECT_TYPES!r}\n" + _SHELL)
    out = server.manage("shell", "--no-imports", "-c", code, timeout=300)
    line = [ln for ln in out.splitlines() if ln.startswith("TOKENS=")][-1]
    return json.loads(line[len("TOKENS="):])


class Api:
    def __init__(self, url, token):
        self.url = url.rstrip("/") + "/api/"
        self.s = requests.Session()
        self.s.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def post(self, path, data):
        r = self.s.post(self.url + path, json=data, timeout=60)
        if r.status_code >= 300:
            raise RuntimeError(f"POST {path} {data!r}: {r.status_code} {r.text[:800]}")
        return r.json()

    def patch(self, path, data):
        r = self.s.patch(self.url + path, json=data, timeout=60)
        if r.status_code >= 300:
            raise RuntimeError(f"PATCH {path}: {r.status_code} {r.text[:800]}")
        return r.json()

    def get(self, path, **params):
        r = self.s.get(self.url + path, params=params, timeout=60)
        r.raise_for_status()
        return r.json()


def seed(url: str, admin_token: str, fillers: int = 23) -> dict:
    """The test datazone. Returns {name: id}."""
    a = Api(url, admin_token)
    ids: dict = {}
    both = ["dcim.device", "virtualization.virtualmachine"]
    cs = a.post("extras/custom-field-choice-sets/", {
        "name": "BMR methods", "extra_choices": [["rear", "ReaR"], ["windows_bmr", "Windows BMR"],
                                                 ["template", "VM template"], ["kickstart", "Kickstart"]]})
    a.post("extras/custom-fields/", [
        {"name": "depends_on", "label": "Depends on", "type": "text", "object_types": both},
        {"name": "bmr_methods", "label": "BMR methods", "type": "multiselect", "choice_set": cs["id"],
         "object_types": both},
        {"name": "independent_recovery", "label": "Independent recovery", "type": "boolean", "object_types": both},
        {"name": "backup_product", "label": "Backup product", "type": "text", "object_types": ["dcim.device"]},
        {"name": "depends_on_vms", "label": "Depends on VMs", "type": "multiobject",
         "related_object_type": "virtualization.virtualmachine", "object_types": ["dcim.device"]},
        {"name": "backup_exempt_reason", "label": "Backup exempt reason", "type": "longtext", "object_types": both},
        {"name": "backup_owner", "label": "Backup owner", "type": "text", "object_types": both},
    ])
    site = a.post("dcim/sites/", {"name": "DC1", "slug": "dc1"})["id"]
    mf = a.post("dcim/manufacturers/", {"name": "Acme", "slug": "acme"})["id"]
    server_t = a.post("dcim/device-types/", {"manufacturer": mf, "model": "R1", "slug": "r1", "u_height": 1})["id"]
    chassis_t = a.post("dcim/device-types/", {"manufacturer": mf, "model": "C10", "slug": "c10", "u_height": 10,
                                              "subdevice_role": "parent"})["id"]
    blade_t = a.post("dcim/device-types/", {"manufacturer": mf, "model": "B1", "slug": "b1", "u_height": 0,
                                            "subdevice_role": "child"})["id"]
    a.post("dcim/device-bay-templates/", [{"device_type": chassis_t, "name": f"Bay {i}"} for i in (1, 2)])
    roles = {}
    for name, slug, vm in [("Backup Server", "backup-server", False), ("File Server", "file-server", False),
                           ("Blade Chassis", "blade-chassis", False), ("DNS Server", "dns-server", True),
                           ("Domain Controller", "domain-controller", True), ("Filler", "filler", False)]:
        roles[slug] = a.post("dcim/device-roles/", {"name": name, "slug": slug, "color": "00aa00",
                                                    "vm_role": vm})["id"]
    plats = {}
    for name, slug in [("RHEL 9", "rhel-9"), ("Windows Server 2022", "windows-server-2022"),
                       ("Debian 12", "debian-12")]:
        plats[slug] = a.post("dcim/platforms/", {"name": name, "slug": slug})["id"]
    ctype = a.post("virtualization/cluster-types/", {"name": "vSphere", "slug": "vsphere"})["id"]
    cluster = a.post("virtualization/clusters/", {"name": "prod-cluster", "type": ctype})["id"]
    tag = a.post("extras/tags/", {"name": "role:license-server", "slug": "role-license-server"})["id"]

    def device(name, role, dtype=server_t, platform=None, cf=None):
        d = a.post("dcim/devices/", {"name": name, "role": roles[role], "device_type": dtype, "site": site,
                                     "platform": plats.get(platform), "custom_fields": cf or {}})
        ids[name] = d["id"]
        return d["id"]

    def vm(name, role, platform, cf=None, tags=()):
        v = a.post("virtualization/virtual-machines/", {
            "name": name, "role": roles[role], "cluster": cluster, "platform": plats[platform],
            "custom_fields": cf or {}, "tags": list(tags)})
        ids[name] = v["id"]
        return v["id"]

    nsr = device("NSR-DIR.corp.example", "backup-server", platform="rhel-9",
                 cf={"depends_on": "dns01.corp.example, ldap01", "bmr_methods": ["rear"],
                     "backup_product": "NetWorker"})
    clean = device("bkp-clean.corp.example", "backup-server", platform="rhel-9",
                   cf={"bmr_methods": ["rear"], "backup_product": "bacula"})
    chassis = device("chassis01", "blade-chassis", dtype=chassis_t)
    blade = device("blade01", "file-server", dtype=blade_t, platform="windows-server-2022",
                   cf={"bmr_methods": ["windows_bmr"]})
    bay = a.get("dcim/device-bays/", device_id=chassis, name="Bay 1")["results"][0]["id"]
    a.patch(f"dcim/device-bays/{bay}/", {"installed_device": blade})
    dns = vm("dns01", "dns-server", "debian-12", cf={"independent_recovery": True, "bmr_methods": ["template"]})
    ldap = vm("ldap01", "domain-controller", "debian-12", cf={"depends_on": "dns01.corp.example"}, tags=[tag])
    a.patch(f"dcim/devices/{clean}/", {"custom_fields": {"depends_on_vms": [dns]}})

    def address(owner_kind, owner, addr, dns_name="", primary=True):
        ifname = f"eth{len(ids)}"
        ids[ifname] = addr
        if owner_kind == "device":
            itf = a.post("dcim/interfaces/", {"device": owner, "name": ifname, "type": "1000base-t"})["id"]
            otype, path = "dcim.interface", f"dcim/devices/{owner}/"
        else:
            itf = a.post("virtualization/interfaces/", {"virtual_machine": owner, "name": ifname})["id"]
            otype, path = "virtualization.vminterface", f"virtualization/virtual-machines/{owner}/"
        ip = a.post("ipam/ip-addresses/", {"address": addr, "dns_name": dns_name, "assigned_object_type": otype,
                                           "assigned_object_id": itf})["id"]
        if primary:
            a.patch(path, {"primary_ip4": ip})

    address("device", nsr, "10.0.0.10/24", "nsr-dir.corp.example")
    address("device", nsr, "192.168.9.10/24", primary=False)
    address("device", clean, "10.0.0.11/24", "bkp-clean.corp.example")
    address("vm", dns, "10.0.0.53/24", "dns01.corp.example")
    address("vm", ldap, "10.0.0.54/24", "ldap01.corp.example")
    for parent, pid, name, proto, ports in [
            ("dcim.device", nsr, "nfs", "tcp", [2049]), ("dcim.device", nsr, "NetWorker", "tcp", [7937, 7938]),
            ("dcim.device", blade, "SMB", "tcp", [445]), ("dcim.device", clean, "bacula-dir", "tcp", [9101]),
            ("virtualization.virtualmachine", dns, "DNS", "udp", [53]),
            ("virtualization.virtualmachine", ldap, "LDAP", "tcp", [389, 636])]:
        a.post("ipam/services/", {"parent_object_type": parent, "parent_object_id": pid, "name": name,
                                  "protocol": proto, "ports": ports})
    # a VRRP group on chassis01's interface with a service on the group (NetBox 4.3+: parent ipam.fhrpgroup)
    itf = a.post("dcim/interfaces/", {"device": chassis, "name": "mgmt0", "type": "1000base-t"})["id"]
    grp = a.post("ipam/fhrp-groups/", {"protocol": "vrrp3", "group_id": 7})["id"]
    a.post("ipam/fhrp-group-assignments/", {"group": grp, "interface_type": "dcim.interface",
                                            "interface_id": itf, "priority": 100})
    a.post("ipam/services/", {"parent_object_type": "ipam.fhrpgroup", "parent_object_id": grp, "name": "mgmt-web",
                              "protocol": "tcp", "ports": [443]})
    made = a.post("dcim/devices/", [{"name": f"filler-{i:02d}", "role": roles["filler"], "device_type": server_t,
                                     "site": site} for i in range(fillers)])
    # backup exemptions (COV-001): filler-00 with a reason and an owner, filler-01 tagged without a reason
    exempt = a.post("extras/tags/", {"name": "Backup exempt", "slug": "backup-exempt"})["id"]
    a.patch(f"dcim/devices/{made[0]['id']}/", {"tags": [exempt], "custom_fields": {
        "backup_exempt_reason": "lab box, rebuilt from kickstart", "backup_owner": "lab-team"}})
    a.patch(f"dcim/devices/{made[1]['id']}/", {"tags": [exempt]})
    return ids
