"""Virtualisation: whether a datastore (and a disk on it) is shared, and the hosts a VM can run on."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policycheck.derivations.base import Entity, derived, has, unknown
from policycheck.facts import Facts


def _disk_dss(disks: list[Any], dss: list[Entity]) -> Iterator[tuple[Entity, Entity]]:
    """The VM's disks (the mappings among them) paired with their datastores, in order."""
    return zip([d for d in disks if isinstance(d, dict)], dss, strict=False)


def _disk_name(d: Entity) -> str:
    return str(d.get("label") or d.get("name") or d.get("datastore") or "?")


def datastores_and_vms(facts: Facts) -> None:
    """datastore.shared, disk.shared, vm.eligible_hosts (its cluster's connected hosts outside
    maintenance that mount every datastore of its disks). VM-host rules are left to the policies
    (VIRT-002 reads host_rules itself): a must-run rule is a policy decision users tune."""
    for ds in facts.entities("datastore"):
        if not has(ds, "shared"):
            if isinstance(ds.get("hosts"), list):
                derived(ds, "shared", len(ds["hosts"]) >= 2, (ds, "hosts"))
            else:
                unknown(ds, "shared", "which hosts mount it is unknown")
    hosts_of_cluster: dict[Any, list[str]] = {}
    for h in facts.entities("hypervisor_host"):
        if h.get("cluster"):
            hosts_of_cluster.setdefault(h["cluster"], []).append(h["id"])
    for vm in facts.entities("vm"):
        disks = vm.get("disks")
        dss: list[Any] = []  # the disks' datastore entities (None: a disk's datastore is not described)
        if isinstance(disks, list):
            for d in disks:
                if not isinstance(d, dict):
                    continue
                store = facts.get("datastore", d.get("datastore")) if d.get("datastore") else None
                if store is not None:
                    dss.append(store)
                    if "shared" not in d and "shared" in store:
                        derived(d, "shared", store["shared"], (store, "shared"))
                else:
                    dss.append(None)
        if has(vm, "eligible_hosts"):
            continue
        cl = facts.get("cluster", vm.get("cluster")) if vm.get("cluster") else None
        if cl is not None:
            candidates = cl.get("hosts") or hosts_of_cluster.get(cl["id"], [])
        elif vm.get("cluster", "absent") is None and vm.get("host"):
            candidates = [vm["host"]]
        else:
            unknown(vm, "eligible_hosts", "its cluster is unknown")
            continue
        if disks is None or any(ds is None for ds in dss):
            unknown(vm, "eligible_hosts", "its disks' datastores are unknown")
            continue
        eligible: list[Any] = []
        bad = None
        why: dict[Any, str] = {}  # host -> why it is not eligible (what made the derived list so; results unchanged)
        seen: list[Entity] = []
        for hid in candidates:
            host = facts.get("hypervisor_host", hid)
            if host is None:
                bad = f"host {hid} of its cluster is not described"
                break
            seen.append(host)
            if host.get("connection_state") != "connected" or host.get("maintenance") is not False:
                if "connection_state" not in host or "maintenance" not in host:
                    bad = f"state of host {hid} is unknown"
                    break
                why[host["id"]] = ("in maintenance" if host.get("connection_state") == "connected"
                                   else f"connection state {host.get('connection_state')}"
                                   + (", in maintenance" if host.get("maintenance") else ""))
                continue
            if any(ds.get("hosts") is not None and host["id"] not in ds["hosts"] for ds in dss):
                why[host["id"]] = "; ".join(
                    f"does not mount datastore {ds['id']} of disk '{_disk_name(d)}'" for d, ds in _disk_dss(disks, dss)
                    if ds.get("hosts") is not None and host["id"] not in ds["hosts"])
                continue
            eligible.append(host["id"])
        if bad:
            unknown(vm, "eligible_hosts", bad)
        else:
            derived(vm, "eligible_hosts", eligible, (cl, "hosts") if cl is not None else (vm, "host"),
                    *seen[:20], *dss[:20])
            if why:
                vm.setdefault("_why", {})["eligible_hosts"] = why
