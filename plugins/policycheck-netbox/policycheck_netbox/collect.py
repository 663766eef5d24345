"""The netbox collector: one list call per NetBox kind, then hosts, backup servers, VMs and clusters."""
from __future__ import annotations

import re
import time

from policycheck.api import CollectorError

from policycheck_netbox import mapping as m
from policycheck_netbox.api import NetBoxAPI
from policycheck_netbox.config import DEFAULT_OS_RULES, effective

DEVICE_FIELDS = "id,name,status,role,platform,site,parent_device,primary_ip4,primary_ip6,tags,custom_fields"
VM_FIELDS = "id,name,status,role,platform,site,cluster,primary_ip4,primary_ip6,tags,custom_fields"
SERVICE_FIELDS = "id,name,protocol,ports,parent_object_type,parent_object_id"
IP_FIELDS = "id,address,dns_name,assigned_object_type,assigned_object_id,assigned_object"

_URL_REF = re.compile(r"/api/(dcim/devices|virtualization/virtual-machines)/(\d+)/?$")


def _filters(f: dict) -> dict:
    """Config filters as query parameters (a list repeats the parameter, as NetBox's filters expect)."""
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in (f or {}).items()}


def collect(settings: dict, ctx) -> dict:
    cfg = effective(settings)
    t0 = time.monotonic()
    api = NetBoxAPI(ctx, cfg["url"], cfg["token"], token_version=cfg["token_version"],
                    verify_tls=cfg["verify_tls"], ca_bundle=cfg.get("ca_bundle"), retries=cfg["retries"],
                    page_size=cfg["page_size"], deadline=t0 + float(ctx.timeout))
    try:
        devices = (api.list("dcim/devices/", "devices", {"fields": DEVICE_FIELDS, **_filters(cfg["device_filters"])})
                   if cfg["include_devices"] else [])
        vms = (api.list("virtualization/virtual-machines/", "virtual machines",
                        {"fields": VM_FIELDS, **_filters(cfg["vm_filters"])})
               if cfg["include_virtual_machines"] else [])
        services = api.list("ipam/services/", "IPAM services", {"fields": SERVICE_FIELDS})
        ips = api.list("ipam/ip-addresses/", "IP addresses",
                       {"fields": IP_FIELDS, "assigned_to_interface": "true"})
    finally:
        api.close()
    fragment = build(cfg, devices, vms, services, ips)
    ctx.progress(len(fragment["entities"]["host"]))
    return fragment


def _check_obj(obj, what: str):
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), int):
        raise CollectorError(f"NetBox returned a malformed {what} record (no numeric id): {str(obj)[:120]}")


def build(cfg: dict, devices: list, vms: list, services: list, ips: list) -> dict:
    """The fragment from the four NetBox lists (pure; unit-testable without a server)."""
    for o in devices:
        _check_obj(o, "device")
    for o in vms:
        _check_obj(o, "virtual machine")

    # IP addresses per (object type, object id), and by IP id for the primary IP's DNS name.
    ip_by_id: dict[int, dict] = {}
    addrs: dict[tuple, list[str]] = {}
    for ip in ips:
        if not isinstance(ip, dict) or "address" not in ip:
            raise CollectorError(f"NetBox returned a malformed IP address record: {str(ip)[:120]}")
        ip_by_id[ip.get("id")] = ip
        ao = ip.get("assigned_object") or {}
        owner = None
        if isinstance(ao, dict) and isinstance(ao.get("device"), dict):
            owner = (m.DEVICE, ao["device"].get("id"))
        elif isinstance(ao, dict) and isinstance(ao.get("virtual_machine"), dict):
            owner = (m.VM, ao["virtual_machine"].get("id"))
        if owner:
            addrs.setdefault(owner, []).append(m.strip_prefix(ip["address"]))

    svc_by_owner: dict[tuple, list[str]] = {}
    for s in services:
        if not isinstance(s, dict):
            raise CollectorError(f"NetBox returned a malformed IPAM service record: {str(s)[:120]}")
        ptype, pid = s.get("parent_object_type"), s.get("parent_object_id")
        if ptype is None and (s.get("device") or s.get("virtual_machine")):  # NetBox < 4.3 shape
            ptype = m.DEVICE if s.get("device") else m.VM
            pid = (s.get("device") or s.get("virtual_machine")).get("id")
        if ptype in (m.DEVICE, m.VM):
            svc_by_owner.setdefault((ptype, pid), []).append(m.map_service(s, cfg))

    # First pass: ids, so custom-field references to other objects resolve to our host ids.
    objs = [(m.DEVICE, d) for d in devices] + [(m.VM, v) for v in vms]
    ident: dict[tuple, tuple[str, str | None]] = {}
    for otype, o in objs:
        name = o.get("name")
        if not name:
            continue  # unnamed devices (patch panels, shelves) cannot be joined with anything
        fqdn = None
        for key in ("primary_ip4", "primary_ip6"):
            pip = o.get(key)
            if isinstance(pip, dict):
                dns = (ip_by_id.get(pip.get("id")) or {}).get("dns_name") or pip.get("dns_name")
                if dns:
                    fqdn = dns.strip().rstrip(".").lower()
                    break
        if fqdn is None and "." in name and m.short(name) != name:
            fqdn = name.strip().rstrip(".").lower()
        ident[(otype, o["id"])] = (fqdn or name.strip().lower(), fqdn)

    def resolve(brief: dict) -> str:
        mt = _URL_REF.search(str(brief.get("url") or ""))
        if mt:
            otype = m.DEVICE if mt.group(1).startswith("dcim") else m.VM
            hit = ident.get((otype, int(mt.group(2))))
            if hit:
                return hit[0]
        return str(brief.get("name") or brief.get("display") or "").strip().lower()

    hosts: dict[str, dict] = {}
    backup_servers, vm_ents, clusters = [], [], {}
    bs_cfg = cfg["backup_server"]
    for otype, o in objs:
        if (otype, o["id"]) not in ident:
            continue
        hid, fqdn = ident[(otype, o["id"])]
        name = o["name"]
        label = "device" if otype == m.DEVICE else "virtual machine"
        ent: dict = {"id": hid, "hostname": name}
        if fqdn:
            ent["fqdn"] = fqdn
        unknown: dict = {}
        aliases = [name, name.lower(), m.short(name).lower()]
        if fqdn:
            aliases += [fqdn, m.short(fqdn)]
        ips_here = []
        for key in ("primary_ip4", "primary_ip6"):
            pip = o.get(key)
            if isinstance(pip, dict) and pip.get("address"):
                ips_here.append(m.strip_prefix(pip["address"]))
        ips_here += addrs.get((otype, o["id"]), [])
        ips_here = _uniq(ips_here)
        if ips_here:
            ent["addresses"] = ips_here
            aliases += ips_here
        if otype == m.DEVICE:
            ent["platform"] = "blade" if o.get("parent_device") else "physical"
        else:
            ent["platform"] = "virtual"
        os_name = m.map_os(o.get("platform"), cfg, DEFAULT_OS_RULES)
        if os_name:
            ent["os"] = os_name
            ent["netbox_platform"] = (o.get("platform") or {}).get("name")
        roles = m.map_role(o.get("role"), cfg)
        if cfg.get("role_tag_prefix"):
            for v in m.tag_values(o, cfg["role_tag_prefix"]):
                roles += m.map_role({"slug": v.lower(), "name": v}, cfg)
        ent["roles"] = _uniq(roles)
        ent["services"] = _uniq(svc_by_owner.get((otype, o["id"]), []))
        deps = m.list_attr(o, label, "depends_on", cfg["depends_on"], resolve, unknown)
        if deps is not None:
            ent["depends_on"] = [d for d in deps if d.lower() not in (hid, name.lower())]
        bmr = m.list_attr(o, label, "bmr_methods", cfg["bmr_methods"], resolve, unknown)
        if bmr is not None:
            ent["bmr_methods"] = _uniq(m.norm(b) for b in bmr)
        try:
            present, ind = m.bool_attr(o, cfg["independent_recovery"].get("custom_field"))
        except ValueError as exc:
            present, ind = False, None
            unknown["independent_recovery"] = str(exc)
        if present and ind is not None:
            ent["independent_recovery"] = ind
        ent["netbox_id"] = o["id"]
        ent["netbox_type"] = otype
        if isinstance(o.get("status"), dict):
            ent["netbox_status"] = o["status"].get("value")
        if isinstance(o.get("site"), dict):
            ent["netbox_site"] = o["site"].get("name")
        if otype == m.VM:
            cl = o.get("cluster")
            cname = cl.get("name") if isinstance(cl, dict) else None
            ent["netbox_cluster"] = cname
            if cname:
                clusters[cname] = {"id": cname, "name": cname, "aliases": [cname]}
            vm_ents.append({"id": name, "name": name, "cluster": cname,
                            "aliases": _uniq([name, name.lower(), hid]), "netbox_id": o["id"]})
        if unknown:
            ent["_unknown"] = unknown
        ent["aliases"] = _uniq(aliases)
        if hid in hosts:
            _merge_duplicate(hosts[hid], ent)
        else:
            hosts[hid] = ent

        tags = {t.lower() for pair in m.tag_names(o) for t in pair}
        if set(ent["roles"]) & set(bs_cfg.get("roles") or []) or (bs_cfg.get("tag") and bs_cfg["tag"].lower() in tags):
            bs = {"id": hid, "host": hid, "aliases": list(ent["aliases"])}
            pcf = bs_cfg.get("product_custom_field")
            cfs = o.get("custom_fields") or {}
            if pcf and isinstance(cfs, dict) and cfs.get(pcf):
                v = cfs[pcf]
                bs["product"] = str(v.get("value") if isinstance(v, dict) else v).lower()
            elif bs_cfg.get("product"):
                bs["product"] = bs_cfg["product"]
            backup_servers.append(bs)

    return {"entities": {"host": list(hosts.values()), "backup_server": _dedupe(backup_servers),
                         "vm": _dedupe(vm_ents), "cluster": list(clusters.values())}}


def _merge_duplicate(old: dict, new: dict):
    """A device and a VM (or two objects) that resolve to one host id: unite lists, and mark
    scalars they disagree on as unknown instead of picking one."""
    for k, v in new.items():
        if k in ("id",):
            continue
        if k not in old:
            old[k] = v
        elif isinstance(v, list) and isinstance(old[k], list):
            old[k] = _uniq(old[k] + v)
        elif k == "_unknown":
            old[k] = {**old[k], **v}
        elif old[k] != v:
            old.setdefault("_unknown", {})[k] = (f"two NetBox objects are named {old['id']!r} and disagree "
                                                 f"on {k} ({old[k]!r} vs {v!r}); rename one of them")
            del old[k]


def _uniq(seq) -> list:
    seen, out = set(), []
    for x in seq:
        if x is None or x == "":
            continue
        key = x.lower() if isinstance(x, str) else x
        if key not in seen:
            seen.add(key)
            out.append(x)
    return out


def _dedupe(ents: list) -> list:
    out: dict = {}
    for e in ents:
        out.setdefault(e["id"].lower(), e)
    return list(out.values())
