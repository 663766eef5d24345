"""Every VM as a machine (facts kind ``host``): its id and names, platform, power state, template flag, exemption."""
from __future__ import annotations

from typing import Any

from policycheck.kit.names import is_ip, norm_host, short_name

#: what VMware Tools reports for a guest whose name was never set: not a name of this machine
PLACEHOLDER_NAMES = frozenset({"localhost", "localhost.localdomain", "localhost6", "localhost6.localdomain6"})


def guest_name(raw: object) -> str:
    """guest.hostName as a machine name, or "" (unset, an address, a placeholder such as localhost)."""
    n = norm_host(raw) if isinstance(raw, str) else ""
    if not n or is_ip(n) or n in PLACEHOLDER_NAMES:
        return ""
    return n


def vm_hosts(vc: str, vms: list[tuple[dict[str, Any], dict[str, Any]]],
             custom: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One ``host`` entity per VM: ``vms`` holds (vm entity, what vCenter said: ``name``, ``guest``
    (guest.hostName), ``template`` (config.template is true), ``declared`` (vm_aliases), ``custom``
    (customValue), ``custom_error``).

    The id is the guest's host name (its FQDN when VMware Tools reports one), for a template or a VM
    without a usable guest name the VM name, lower-cased. A name that two VMs answer to (same VM
    name in two datacenters, a copy that kept the guest name) is nobody's id or alias: both VMs get
    ``<moref>@<vCenter>`` as id, and a powered-on one has ``protected_by`` unknown, since which VM a
    backup client of that name protects cannot be told. A VM whose own id is unique keeps it even when
    another name of it (the short name of its FQDN) is shared; only its unshared names are aliases. ``custom``: the opt-in exemption attribute
    (see :func:`exemption`)."""
    names_of: dict[str, list[str]] = {}
    owners: dict[str, set[str]] = {}
    for v, x in vms:
        names = []
        guest = "" if x["template"] else guest_name(x["guest"])
        if guest:
            names += [guest, short_name(guest)]
        vm_name = norm_host(x["name"]) if isinstance(x["name"], str) else ""
        if vm_name:
            names.append(vm_name)
        names = list(dict.fromkeys(names))
        names_of[v["id"]] = names
        for n in set(names) | set(x["declared"]):
            owners.setdefault(n, set()).add(v["id"])
    out = []
    for v, x in vms:
        names = names_of[v["id"]]
        mine = [n for n in dict.fromkeys([*names, *x["declared"]]) if owners[n] == {v["id"]}]
        cand = names[0] if names else ""
        h: dict[str, Any] = {"platform": "virtual", "vm": v["id"], "vsphere_vm": v["id"],
                             "vsphere_vm_name": x["name"], "vsphere_guest_hostname": v.get("guest_hostname")}
        if cand and cand in mine:
            h["id"] = cand
            if "." in cand and not x["template"] and cand == guest_name(x["guest"]):
                h["fqdn"] = cand
            h["aliases"] = sorted(set(mine) - {cand})
        else:
            h["id"] = v["id"]
            h["aliases"] = sorted(mine)
            clash = sorted(n for n in names if len(owners[n]) > 1)
            others = sorted(set().union(*(owners[n] for n in clash)) - {v["id"]}) if clash else []
            if not cand:
                why = f"vCenter {vc}: VM {v['id']} has no name to join it to a backup client"
            else:
                why = (f"vCenter {vc}: VM {x['name']!r} ({v['id']}) shares the name(s) "
                       f"{', '.join(clash)} with VM(s) {', '.join(others[:5])}: which of them a backup client "
                       "of that name protects cannot be told")
            running = v.get("power_state") in ("on", "suspended") or "power_state" in (v.get("_unknown") or {})
            if running and v.get("is_template") is not True:
                h["_unknown"] = {"protected_by": why}
        for attr in ("power_state", "is_template"):
            if attr in v:
                h[attr] = v[attr]
            elif attr in (v.get("_unknown") or {}):
                h.setdefault("_unknown", {})[attr] = v["_unknown"][attr]
        if "host" in v:
            h["vsphere_hypervisor_host"] = v["host"]
        if custom is not None:
            exemption(h, vc, x, custom)
        out.append(h)
    return out


def exemption(h: dict[str, Any], vc: str, x: dict[str, Any], custom: dict[str, Any]) -> None:
    """``backup`` from the custom attribute ``custom['name']``: a non-empty value exempts the machine
    with the value as reason (owner null); empty or unset: no exemption; unreadable: unknown."""
    if custom.get("error"):
        h.setdefault("_unknown", {})["backup"] = custom["error"]
        return
    if x.get("custom_error"):
        h.setdefault("_unknown", {})["backup"] = (f"vCenter {vc}: VM {x['name']!r}: could not read customValue "
                                                  f"({x['custom_error']})")
        return
    keys = custom["keys"]
    for cv in x.get("custom") or []:
        if getattr(cv, "key", None) in keys:
            value = getattr(cv, "value", None)
            if isinstance(value, str) and value.strip():
                h["backup"] = {"exempt": True, "reason": value.strip(), "owner": None}
            return


def exempt_keys(defs: list[Any], name: str) -> set[int]:
    """The keys of the custom attribute definitions (CustomFieldDef) called ``name`` that apply to
    VMs: global ones (no managedObjectType) and VirtualMachine ones."""
    from pyVmomi import vim

    return {d.key for d in defs
            if getattr(d, "name", None) == name
            and (getattr(d, "managedObjectType", None) is None or issubclass(vim.VirtualMachine, d.managedObjectType))}
