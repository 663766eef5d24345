"""Joins across kinds: a host's VM, a client's host, and what a backup server inherits from its host
(virtual, vm, hosted roles and services)."""
from __future__ import annotations

from policycheck.derivations.base import Entity, derived, has, lacking, partial, unknown, why_unknown
from policycheck.facts import Facts


def join_vms(facts: Facts) -> None:
    """host.vm: the VM whose guest host name, name, id or alias names the host (best match wins)."""
    hosts = facts.entities("host")
    if not hosts:
        return
    vms = facts.entities("vm")
    hidx = facts.alias_index("host")
    provided, failed = facts.kind_state("vm")
    # host -> [(strength, vm id)]: a guest host name beats a VM name, which beats an alias
    claims: dict[str, list[tuple[int, str]]] = {}
    if not lacking(hosts, "vm") and _iterable_aliases(vms):
        return  # every host has its vm (or knows it unknown) and gathering the claims could not fail
    for vm in vms:
        names = (vm.get("guest_hostname"), vm.get("name"), vm["id"], *(vm.get("aliases") or ()))
        for rank, name in enumerate(names):
            hid = hidx.lookup(name) if isinstance(name, str) and name else None
            if hid is not None:
                claims.setdefault(hid, []).append((min(rank, 3), vm["id"]))
                break
    for hid, found in claims.items():
        h = facts.get("host", hid)
        if h is None or has(h, "vm"):  # (never None: hid is a host's id, from the hosts' alias index)
            continue
        best = min(r for r, _ in found)
        vm_ids = sorted(v for r, v in found if r == best)
        if len(vm_ids) == 1:
            derived(h, "vm", vm_ids[0], facts.get("vm", vm_ids[0]), h)
        else:  # two VMs answer to one host's names equally well (same name in two datacenters): never pick one
            unknown(h, "vm", f"several virtual machines match host {hid}: {', '.join(vm_ids[:5])}")
    for h in hosts:
        if has(h, "vm"):
            continue
        platform = h.get("platform")
        if platform in ("physical", "blade"):
            derived(h, "vm", None, (h, "platform"))
        elif platform == "virtual":
            unknown(h, "vm", failed or ("no virtual machine in the hypervisor facts matches this host's names"
                                        if provided else "no hypervisor source was collected, so its VM is unknown"))


def _iterable_aliases(ents: list[Entity]) -> bool:
    """Whether ``*(e.get("aliases") or ())`` of every entity is sure not to raise (a list, or none)."""
    return {type(e.get("aliases")) for e in ents} <= _ITERABLE_OR_NONE


_ITERABLE_OR_NONE = frozenset((list, tuple, str, dict, type(None)))


def client_hosts(facts: Facts) -> None:
    """client.host: the host its host name, id or an alias names."""
    hidx = facts.alias_index("host")
    if not facts.entities("host") or not lacking(facts.entities("client"), "host"):
        return  # (every client has its host or knows it unknown, as in a snapshot `collect` wrote)
    for c in facts.entities("client"):
        if has(c, "host"):
            continue
        for name in (c.get("hostname"), c["id"], *(c.get("aliases") or ())):
            hid = hidx.lookup(name) if name else None
            if hid is not None:
                derived(c, "host", hid, c, facts.get("host", hid))
                break


def servers(facts: Facts) -> None:
    """backup_server.virtual, .vm, .hosted_roles, .hosted_services: from its host."""
    for s in facts.entities("backup_server"):
        h = facts.get("host", s.get("host")) if s.get("host") else None
        if h is not None and s.get("host") != h["id"]:
            s["host"] = h["id"]  # the canonical id of the reference (not a derived value)
        if h is None:
            for k in ("virtual", "vm", "hosted_roles", "hosted_services"):
                if k not in s:
                    unknown(s, k, f"no inventory describes its host {s.get('host')!r}")
            continue
        if not has(s, "virtual") and h.get("platform"):
            derived(s, "virtual", h["platform"] == "virtual", (h, "platform"))
        elif not has(s, "virtual"):
            unknown(s, "virtual", why_unknown(h, "platform", f"the platform of host {h['id']} is unknown"))
        if not has(s, "vm"):
            if "vm" in h:
                derived(s, "vm", h["vm"], (h, "vm"))
            elif h.get("_unknown", {}).get("vm"):
                unknown(s, "vm", h["_unknown"]["vm"])
        for attr, src in (("hosted_roles", "roles"), ("hosted_services", "services")):
            if has(s, attr):
                continue
            if src in h:
                derived(s, attr, h[src], (h, src))
                if src in (h.get("_partial") or ()):
                    partial(s, attr, h["_partial"][src])
            elif src in (h.get("_unknown") or ()) or src in (h.get("_conflicts") or ()):
                unknown(s, attr, why_unknown(h, src, f"{src} of host {h['id']} is unknown"))
