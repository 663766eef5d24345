"""Pure mapping of NetBox list answers to a fragment: hosts (tags, exemptions), backup servers, VMs, clusters."""
from __future__ import annotations

import re

from policycheck.kit.names import is_fqdn, norm_host, norm_label, short_name
from policycheck_netbox import fields as m
from policycheck_netbox.owners import EP_FHRP, FHRP, fhrp_members, is_id, owner_of, service_owners, show
from policycheck_netbox.schema import DEFAULT_OS_RULES

__all__ = ["EP_FHRP", "FHRP", "build", "fhrp_members"]

_URL_REF = re.compile(r"/api/(dcim/devices|virtualization/virtual-machines)/(\d+)/?$")

EP_DEV = "/api/dcim/devices/"
EP_VM = "/api/virtualization/virtual-machines/"
EP_SVC = "/api/ipam/services/"
EP_IP = "/api/ipam/ip-addresses/"
LIST_ATTRS = ("roles", "services", "depends_on", "bmr_methods")


def build(cfg: dict, devices: list, vms: list, services: list, ips: list, fhrp=None,
          malformed: list | None = None, note_list: list | None = None) -> dict:
    """The fragment from the NetBox lists (pure; unit-testable without a server).

    A malformed element is never dropped: the facts it feeds become ``_unknown`` with a reason naming
    the endpoint, the element and the field (or, when not even its host can be told, the fragment's
    ``incomplete`` list gets an entry). Each reason is also appended to ``malformed``; ``note_list``
    gets what the site should fix that is not malformed (an exemption tag without a reason).
    """
    bad = malformed if malformed is not None else []
    incomplete: list[dict] = []
    every_host_unknown: dict[str, str] = {}   # attribute -> reason, for elements whose host is unknown
    every_host_partial: dict[str, str] = {}

    # Devices and VMs: which ones are hosts, under which key (services and IPs refer to (type, id)).
    objs: list[tuple[str, tuple, dict]] = []
    obj_unknown: dict[tuple, dict] = {}
    for otype, lst, ep, label in ((m.DEVICE, devices, EP_DEV, "device"), (m.VM, vms, EP_VM, "virtual machine")):
        for i, o in enumerate(lst):
            if not isinstance(o, dict):
                r = f"GET {ep}: element {i} of the list is {show(o)}, not a {label} object"
                bad.append(r)
                incomplete += [{"kind": "host", "reason": r}] + ([{"kind": "vm", "reason": r}] if otype == m.VM else [])
                continue
            name = o.get("name")
            if name is None or name == "":
                continue  # unnamed devices (patch panels, shelves) cannot be joined with anything
            if not isinstance(name, str) or not name.strip():
                r = f"GET {ep}: {label} {o.get('id')!r} has name {show(name)}, not text"
                bad.append(r)
                incomplete += [{"kind": "host", "reason": r}] + ([{"kind": "vm", "reason": r}] if otype == m.VM else [])
                continue
            if is_id(o.get("id")):
                key = (otype, o["id"])
            else:
                key = (otype, f"?{i}")
                r = (f"GET {ep}: {label} {name!r} has id {show(o.get('id'))}, not a number, so its IPAM "
                     "services and interface addresses cannot be matched")
                bad.append(r)
                obj_unknown[key] = {"services": r, "addresses": r}
            objs.append((otype, key, o))

    # IP addresses per (object type, object id), and by IP id for the primary IP's DNS name.
    ip_by_id: dict[int, dict] = {}
    addrs: dict[tuple, list[str]] = {}
    addr_bad: dict[tuple, str] = {}
    for i, ip in enumerate(ips):
        if not isinstance(ip, dict):
            r = f"GET {EP_IP}: element {i} of the list is {show(ip)}, not an IP address object"
            bad.append(r)
            every_host_partial.setdefault("addresses", r)
            continue
        owner = owner_of(ip.get("assigned_object"))
        address = ip.get("address")
        if not isinstance(address, str) or not address.strip():
            r = f"GET {EP_IP}: IP address {ip.get('id')!r} has address {show(address)}, not text"
            bad.append(r)
            if owner:
                addr_bad.setdefault(owner, r)
            else:
                every_host_partial.setdefault("addresses", r)
            continue
        if is_id(ip.get("id")):
            ip_by_id[ip["id"]] = ip
        if owner:
            addrs.setdefault(owner, []).append(m.strip_prefix(address.strip()))
        else:  # asked with assigned_to_interface=true: every one belongs to an interface
            r = (f"GET {EP_IP}: IP address {ip.get('id')!r} ({address[:50]}) names no device or VM interface in "
                 f"assigned_object ({show(ip.get('assigned_object'))})")
            bad.append(r)
            every_host_partial.setdefault("addresses", r)

    svc_by_owner: dict[tuple, list[str]] = {}
    svc_bad: dict[tuple, str] = {}
    for i, s in enumerate(services):
        if not isinstance(s, dict):
            r = f"GET {EP_SVC}: element {i} of the list is {show(s)}, not a service object, so any host may serve it"
            bad.append(r)
            every_host_unknown.setdefault("services", r)
            continue
        sname = s.get("name")
        what = f"service {s.get('id')!r}" + (f" ({sname[:60]!r})" if isinstance(sname, str) else "")
        owners, why = service_owners(s, fhrp)
        if why:
            r = f"GET {EP_SVC}: {what} {why}; cannot tell which host serves it"
            bad.append(r)
            every_host_unknown.setdefault("services", r)
            continue
        try:
            svc = m.map_service(s, cfg)
        except ValueError as exc:
            r = f"GET {EP_SVC}: {what} {exc}"
            bad.append(r)
            for o in owners:
                svc_bad.setdefault(o, r)
            continue
        for o in owners:
            svc_by_owner.setdefault(o, []).append(svc)

    # First pass: ids, so custom-field references to other objects resolve to our host ids.
    ident: dict[tuple, tuple[str, str | None]] = {}
    fqdn_bad: dict[tuple, str] = {}
    for _otype, key, o in objs:
        name = o["name"]
        fqdn = None
        for fld in ("primary_ip4", "primary_ip6"):
            pip = o.get(fld)
            if isinstance(pip, dict):
                dns = (ip_by_id.get(pip.get("id")) or {}).get("dns_name") or pip.get("dns_name")
                if dns and not isinstance(dns, str):
                    fqdn_bad[key] = f"the dns_name of its {fld} is {show(dns)}, not text"
                elif dns and norm_host(dns):
                    fqdn = norm_host(dns)
                    break
        if fqdn is None and is_fqdn(name):
            fqdn = norm_host(name)
        ident[key] = (fqdn or norm_host(name), fqdn)

    def resolve(brief: dict) -> str:
        mt = _URL_REF.search(str(brief.get("url") or ""))
        if mt:
            otype = m.DEVICE if mt.group(1).startswith("dcim") else m.VM
            hit = ident.get((otype, int(mt.group(2))))
            if hit:
                return hit[0]
        got = brief.get("name") or brief.get("display")
        if not isinstance(got, str) or not got.strip():
            raise ValueError(f"references an object without a name or a device/VM url ({show(brief)})")
        return norm_host(got)

    hosts: dict[str, dict] = {}
    backup_servers, vm_ents, clusters = [], [], {}
    bs_cfg = cfg["backup_server"]
    ex_cfg = cfg["backup_exemption"]
    notes = note_list if note_list is not None else []
    complete = set(cfg.get("complete") or ())
    for otype, key, o in objs:
        hid, fqdn = ident[key]
        name = o["name"]
        label = "device" if otype == m.DEVICE else "virtual machine"
        ep = EP_DEV if otype == m.DEVICE else EP_VM
        where = f"GET {ep}: {label} {name!r}"
        ent: dict = {"id": hid, "hostname": name}
        if fqdn:
            ent["fqdn"] = fqdn
        unknown: dict = dict(obj_unknown.get(key, {}))
        if key in fqdn_bad:
            unknown["fqdn"] = f"{where}: {fqdn_bad[key]}"
            bad.append(unknown["fqdn"])
        aliases = [name, name.lower(), short_name(name)]
        if fqdn:
            aliases += [fqdn, short_name(fqdn)]
        ips_here = []
        for fld in ("primary_ip4", "primary_ip6"):
            pip = o.get(fld)
            if isinstance(pip, dict) and isinstance(pip.get("address"), str) and pip["address"].strip():
                ips_here.append(m.strip_prefix(pip["address"].strip()))
            elif pip is not None:
                unknown["addresses"] = f"{where} has {fld} {show(pip)}, not an IP address object"
                bad.append(unknown["addresses"])
        ips_here += addrs.get(key, [])
        ips_here = _uniq(ips_here)
        if key in addr_bad:
            unknown.setdefault("addresses", addr_bad[key])
        if ips_here:
            aliases += ips_here
            if "addresses" not in unknown:
                ent["addresses"] = ips_here

        # platform: a device is physical unless it sits in a parent device's bay (a blade)
        if otype == m.DEVICE:
            if "parent_device" not in o:
                unknown["platform"] = (f"{where} has no parent_device field, so physical and blade cannot "
                                       "be told apart")
                bad.append(unknown["platform"])
            elif o["parent_device"] is None or isinstance(o["parent_device"], dict):
                ent["platform"] = "blade" if o["parent_device"] else "physical"
            else:
                unknown["platform"] = f"{where} has parent_device {show(o['parent_device'])}, not an object"
                bad.append(unknown["platform"])
        else:
            ent["platform"] = "virtual"

        plat = o.get("platform")
        if plat is not None and not isinstance(plat, dict):
            unknown["os"] = f"{where} has platform {show(plat)}, not an object"
            bad.append(unknown["os"])
        else:
            os_name = m.map_os(plat, cfg, DEFAULT_OS_RULES)
            if os_name:
                ent["os"] = os_name
                ent["netbox_platform"] = plat.get("name") if isinstance(plat.get("name"), str) else None

        tags_ok = True
        tags = o.get("tags")
        if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, dict) for t in tags)):
            tags_ok = False
            tag_reason = f"{where} has tags {show(tags)}, not a list of tag objects"
            bad.append(tag_reason)
        role = o.get("role")
        if role is not None and (not isinstance(role, dict) or not any(
                isinstance(role.get(k), str) and role.get(k) for k in ("slug", "name"))):
            unknown["roles"] = f"{where} has role {show(role)}, not a role object with a slug or name"
            bad.append(unknown["roles"])
        elif cfg.get("role_tag_prefix") and not tags_ok:
            unknown["roles"] = tag_reason
        else:
            roles = m.map_role(role, cfg)
            if cfg.get("role_tag_prefix"):
                for v in m.tag_values(o, cfg["role_tag_prefix"]):
                    roles += m.map_role({"slug": v.lower(), "name": v}, cfg)
            ent["roles"] = _uniq(roles)

        if every_host_unknown.get("services"):
            unknown.setdefault("services", every_host_unknown["services"])
        if key in svc_bad:
            unknown.setdefault("services", svc_bad[key])
        if "services" not in unknown:
            ent["services"] = _uniq(svc_by_owner.get(key, []))

        cfs = o.get("custom_fields")
        if cfs is not None and not isinstance(cfs, dict):
            r = f"{where} has custom_fields {show(cfs)}, not an object"
            bad.append(r)
            for a in ("depends_on", "bmr_methods", "independent_recovery"):
                unknown[a] = r
            if ex_cfg.get("reason_custom_field") or ex_cfg.get("owner_custom_field"):
                unknown["backup"] = r

        # tags (their slugs) and the backup exemption (a reason custom field and/or a tag)
        if tags_ok:
            ent["tags"] = _uniq(slug or name for name, slug in m.tag_names(o))
        else:
            unknown["tags"] = tag_reason
        if "backup" not in unknown:
            tag_keys = {t.lower() for pair in m.tag_names(o) for t in pair if t} if tags_ok else set()
            try:
                exemption, note = m.exemption(o, ex_cfg, tag_keys)
            except ValueError as exc:
                unknown["backup"] = f"{where}: {exc}"
                bad.append(unknown["backup"])
            else:
                if exemption is None and not tags_ok and ex_cfg.get("tag"):
                    unknown["backup"] = f"{tag_reason}, so the '{ex_cfg['tag']}' exemption tag cannot be read"
                elif exemption is not None:
                    ent["backup"] = exemption
                if note:
                    notes.append(f"{label} {name!r} {note}")
        for attr in ("depends_on", "bmr_methods"):
            if attr in unknown:
                continue
            if not tags_ok and cfg[attr].get("tag_prefix"):
                unknown[attr] = tag_reason
                continue
            try:
                vals = m.list_attr(o, label, attr, cfg[attr], resolve, unknown)
            except ValueError as exc:
                unknown[attr] = f"{where}: {exc}"
                bad.append(unknown[attr])
                continue
            if vals is None:
                continue
            if attr == "depends_on":
                ent[attr] = [d for d in vals if d.lower() not in (hid, name.lower())]
            else:
                ent[attr] = _uniq(norm_label(b) for b in vals)
        if "independent_recovery" not in unknown:
            try:
                present, ind = m.bool_attr(o, cfg["independent_recovery"].get("custom_field"))
            except ValueError as exc:
                present, ind = False, None
                unknown["independent_recovery"] = f"{where}: {exc}"
            if present and ind is not None:
                ent["independent_recovery"] = ind
        ent["netbox_id"] = o["id"] if is_id(o.get("id")) else None
        ent["netbox_type"] = otype
        if isinstance(o.get("status"), dict):
            ent["netbox_status"] = o["status"].get("value")
        if isinstance(o.get("site"), dict):
            ent["netbox_site"] = o["site"].get("name")
        if otype == m.VM:
            cl = o.get("cluster")
            vm_ent = {"id": name, "name": name, "aliases": _uniq([name, name.lower(), hid]),
                      "netbox_id": ent["netbox_id"]}
            if cl is None or (isinstance(cl, dict) and (cl.get("name") is None or isinstance(cl.get("name"), str))):
                cname = cl.get("name") if isinstance(cl, dict) else None
                ent["netbox_cluster"] = cname
                vm_ent["cluster"] = cname
                if cname:
                    clusters[cname] = {"id": cname, "name": cname, "aliases": [cname]}
            else:
                r = f"{where} has cluster {show(cl)}, not a cluster object with a name"
                bad.append(r)
                vm_ent["_unknown"] = {"cluster": r}
            vm_ents.append(vm_ent)
        for attr, r in every_host_partial.items():
            ent.setdefault("_partial", {})[attr] = r
        for attr in LIST_ATTRS:
            if attr not in complete and attr in ent and attr not in unknown:
                ent.setdefault("_partial", {})[attr] = PARTIAL_REASON[attr]
        if unknown:
            ent["_unknown"] = unknown
        ent["aliases"] = _uniq(aliases)
        if hid in hosts:
            _merge_duplicate(hosts[hid], ent)
        else:
            hosts[hid] = ent

        tag_set = {t.lower() for pair in m.tag_names(o) for t in pair} if tags_ok else set()
        if set(ent.get("roles") or ()) & set(bs_cfg.get("roles") or []) or (
                bs_cfg.get("tag") and bs_cfg["tag"].lower() in tag_set):
            bs = {"id": hid, "host": hid, "aliases": list(ent["aliases"])}
            pcf = bs_cfg.get("product_custom_field")
            if pcf and isinstance(cfs, dict) and cfs.get(pcf):
                v = cfs[pcf]
                v = v.get("value") if isinstance(v, dict) else v
                if isinstance(v, str) and v.strip():
                    bs["product"] = v.strip().lower()
                else:
                    bs["_unknown"] = {"product": f"{where}: custom field '{pcf}' holds {show(v)}, not text"}
                    bad.append(bs["_unknown"]["product"])
            elif bs_cfg.get("product"):
                bs["product"] = bs_cfg["product"]
            backup_servers.append(bs)

    for h in hosts.values():  # an attribute is either known or unknown, never both
        for attr in h.get("_unknown", {}):
            h.pop(attr, None)
            h.get("_partial", {}).pop(attr, None)
        if "_partial" in h and not h["_partial"]:
            del h["_partial"]
    frag = {"entities": {"host": list(hosts.values()), "backup_server": _dedupe(backup_servers),
                         "vm": _dedupe(vm_ents), "cluster": list(clusters.values())}}
    if incomplete:
        frag["incomplete"] = incomplete
    return frag


PARTIAL_REASON = {
    "roles": ("NetBox records one role per device/VM (plus role tags): it cannot say the host has no other "
              "role; list roles under the source's complete: setting if your NetBox records every role"),
    "services": ("NetBox's IPAM services list only what the site recorded; list services under the source's "
                 "complete: setting if every service is recorded in NetBox"),
    "depends_on": ("NetBox's depends_on custom field holds what the site recorded; list depends_on under the "
                   "source's complete: setting if it is kept complete"),
    "bmr_methods": ("NetBox's bmr_methods custom field holds what the site recorded; list bmr_methods under "
                    "the source's complete: setting if it is kept complete"),
}


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
        elif k in ("_unknown", "_partial"):
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
