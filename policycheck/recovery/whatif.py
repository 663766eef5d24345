"""What if something were lost: the facts transformed as if hosts, hypervisor hosts, clusters,
datastores, devices or storage nodes were gone, then judged by the same pipeline (derive + engine) as
the normal facts, and the results compared. There is no second engine: only the facts change.

What a loss means to the facts:

- a hypervisor host: ``connection_state: not_responding`` (no VM can run on it);
- a cluster: every one of its hypervisor hosts lost;
- a datastore: no hypervisor host mounts it any more (``hosts: []``, not shared), every VM disk on it is
  unshared, and a backup device on a VM disk stored there is lost;
- a device: it is removed, with every bootstrap copy written to it;
- a storage node: every device it drives is lost;
- a host (a machine of the inventory): every device whose data lives on it (``device.host``) is lost,
  its storage node role with them, every bootstrap copy sent to it (``location_host``), and the
  hypervisor host of the same name if there is one.

Derived facts (``_attr_sources: derived``) are dropped from the transformed copy and derived again, so
``eligible_hosts``, ``latest_bootstrap``, copy locality and the rest follow the loss.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from policycheck.derivations.base import is_derived_source
from policycheck.errors import UsageError
from policycheck.facts import MACHINE_KINDS, AliasIndex, norm

if TYPE_CHECKING:
    from policycheck.results import Result

#: the kinds ``--lose NAME`` looks a name up in, and the prefix that picks one (``--lose datastore:ds01``)
LOSABLE = ("host", "hypervisor_host", "cluster", "datastore", "device", "storage_node")


class LoseError(UsageError):
    """A --lose name that names nothing in the facts (or is written wrongly)."""


@dataclass
class Loss:
    """What was taken away: the entities named and every one lost with them, each with why."""
    named: list[tuple[str, str]] = field(default_factory=list)      # [(kind, id)]
    lost: list[tuple[str, str, str]] = field(default_factory=list)  # [(kind, id, why)]
    copies: list[tuple[str, str, str]] = field(default_factory=list)  # [(bootstrap id, device or location, why)]

    def describe(self) -> list[str]:
        out = [f"{k} {i}: {why}" for k, i, why in self.lost]
        out += [f"bootstrap {b}: copy on {where} lost ({why})" for b, where, why in self.copies]
        return out


def resolve_names(doc: dict[str, Any], names: Iterable[str]) -> list[tuple[str, str]]:
    """Each NAME (optionally ``kind:NAME``) -> the (kind, id) pairs it names. A plain name is looked up
    in every losable kind (``nsr-dir`` may be a host and a hypervisor's VM name is not a loss): it must
    name at least one entity, else LoseError with the closest names."""
    ents = doc.get("entities") or {}
    out: list[tuple[str, str]] = []
    for raw in names:
        kind, sep, name = raw.partition(":")
        kinds: tuple[str, ...] = LOSABLE
        if sep and kind in LOSABLE:
            kinds = (kind,)
        else:
            name = raw
        found: list[tuple[str, str]] = []
        for k in kinds:
            lst = [e for e in ents.get(k) or () if isinstance(e, dict) and isinstance(e.get("id"), str)]
            idx = AliasIndex(lst, k in MACHINE_KINDS)
            hit = idx.lookup(name)
            if hit is None:  # a hypervisor host's or datastore's display name
                hit = next((e["id"] for e in lst if isinstance(e.get("name"), str) and norm(e["name"]) == norm(name)),
                           None)
            if hit is not None:
                found.append((k, hit))
            elif norm(name) in idx.ambiguous:
                raise LoseError(f"--lose {raw}: {idx.why_not(name, k)}")
        if not found:
            import difflib

            every = sorted({n for k in kinds for e in ents.get(k) or () if isinstance(e, dict)
                            for n in (e.get("id"), *(e.get("aliases") or ())) if isinstance(n, str)})
            close = difflib.get_close_matches(name, every, n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise LoseError(f"--lose {raw}: names no {' or '.join(k.replace('_', ' ') for k in kinds)} "
                            f"in the facts{hint}")
        for f in found:
            if f not in out:
                out.append(f)
    return out


def strip_derived(doc: dict[str, Any]) -> None:
    """Drop every attribute the core derived (``_attr_sources: derived ...``), on entities and on the items
    of their lists (a bootstrap's copies, a VM's disks), so derive computes it again."""
    def strip(e: dict[str, Any]) -> None:
        srcs = e.get("_attr_sources")
        if isinstance(srcs, dict):
            for attr in [a for a, s in srcs.items() if is_derived_source(s)]:
                e.pop(attr, None)
                del srcs[attr]
            if not srcs:
                del e["_attr_sources"]
        for v in e.values():
            if isinstance(v, list):
                for item in v:
                    if isinstance(item, dict):
                        strip(item)

    for lst in (doc.get("entities") or {}).values():
        for e in lst or ():
            if isinstance(e, dict):
                strip(e)


def lose(doc: dict[str, Any], targets: Sequence[tuple[str, str]]) -> tuple[dict[str, Any], Loss]:
    """A copy of ``doc`` (a facts document, raw or a snapshot) as if ``targets`` [(kind, id)] were gone,
    with derived facts dropped for derive to compute again; and what was lost."""
    new = copy.deepcopy(doc)
    ents = new.setdefault("entities", {})
    loss = Loss(named=list(targets))

    def by_id(kind: str) -> dict[str, dict[str, Any]]:
        return {e["id"]: e for e in ents.get(kind) or () if isinstance(e, dict) and isinstance(e.get("id"), str)}

    hosts, hvs, clusters = by_id("host"), by_id("hypervisor_host"), by_id("cluster")
    datastores, devices, nodes = by_id("datastore"), by_id("device"), by_id("storage_node")
    host_idx = AliasIndex(list(hosts.values()), True)
    hv_idx = AliasIndex(list(hvs.values()), True)

    def same_host(name: Any, hid: str) -> bool:
        return isinstance(name, str) and (host_idx.lookup(name) == hid or norm(name) == norm(hid))

    lost_devices: dict[str, str] = {}  # device id -> why it is lost
    lost_hosts: set[str] = set()
    done: set[tuple[str, str]] = set()

    def lose_device(did: str, why: str) -> None:
        if did in devices and did not in lost_devices:
            lost_devices[did] = why
            loss.lost.append(("device", did, why))

    def lose_hv(hid: str, why: str) -> None:
        h = hvs.get(hid)
        if h is None or ("hypervisor_host", hid) in done:
            return
        done.add(("hypervisor_host", hid))
        h["connection_state"] = "not_responding"
        (h.get("_unknown") or {}).pop("connection_state", None)
        loss.lost.append(("hypervisor_host", hid, why))

    def lose_node(nid: str, why: str) -> None:
        if ("storage_node", nid) in done:
            return
        done.add(("storage_node", nid))
        loss.lost.append(("storage_node", nid, why))
        for d in devices.values():
            if isinstance(d.get("storage_node"), str) and (d["storage_node"] == nid or norm(d["storage_node"]) == norm(nid)):
                lose_device(d["id"], f"driven by lost storage node {nid}")

    def lose_datastore(dsid: str, why: str) -> None:
        ds = datastores.get(dsid)
        if ds is None or ("datastore", dsid) in done:
            return
        done.add(("datastore", dsid))
        ds["hosts"] = []
        ds["shared"] = False
        loss.lost.append(("datastore", dsid, why))
        for h in hvs.values():
            if isinstance(h.get("datastores"), list) and dsid in h["datastores"]:
                h["datastores"] = [x for x in h["datastores"] if x != dsid]
        on_ds: dict[Any, set[Any]] = {}  # vm id -> labels of its disks on the datastore
        for vm in ents.get("vm") or ():
            for disk in vm.get("disks") or () if isinstance(vm, dict) else ():
                if isinstance(disk, dict) and disk.get("datastore") == dsid:
                    disk["shared"] = False
                    on_ds.setdefault(vm.get("id"), set()).add(disk.get("label"))
        servers = {s["id"]: s for s in ents.get("backup_server") or () if isinstance(s, dict)}
        for d in devices.values():
            s = servers.get(d.get("backup_server"))
            vm = s.get("vm") if s else None
            if vm is None and s is not None:
                sh = hosts.get(host_idx.lookup(s.get("host"))) if isinstance(s.get("host"), str) else None
                vm = sh.get("vm") if sh else None
                if vm is None and sh is not None:  # facts not derived yet: the VM that answers to its names
                    names = {norm(n) for n in (sh["id"], *(sh.get("aliases") or ())) if isinstance(n, str)}
                    names |= {n.split(".", 1)[0] for n in names}
                    vm = next((v.get("id") for v in ents.get("vm") or () if isinstance(v, dict) and any(
                        isinstance(x, str) and norm(x) in names for x in (v.get("guest_hostname"), v.get("name"),
                                                                          v.get("id")))), None)
            if d.get("vm_disk") and vm in on_ds and d["vm_disk"] in on_ds[vm]:
                lose_device(d["id"], f"on virtual disk {d['vm_disk']} of VM {vm}, stored on lost datastore {dsid}")

    def lose_host(hid: str, why: str) -> None:
        if ("host", hid) in done:
            return
        done.add(("host", hid))
        lost_hosts.add(hid)
        loss.lost.append(("host", hid, why))
        for d in devices.values():
            if same_host(d.get("host"), hid):
                lose_device(d["id"], f"its data lives on lost host {hid}")
        for n in nodes.values():
            if same_host(n.get("host"), hid):
                lose_node(n["id"], f"runs on lost host {hid}")
        h = hosts.get(hid) or {}
        for name in (hid, h.get("hostname"), h.get("fqdn"), *(h.get("aliases") or ())):
            hv = hv_idx.lookup(name) if isinstance(name, str) else None
            if hv is not None:
                lose_hv(hv, f"the hypervisor host of lost machine {hid}")
                break

    for kind, eid in targets:
        if kind == "host":
            lose_host(eid, "named by --lose")
        elif kind == "hypervisor_host":
            lose_hv(eid, "named by --lose")
        elif kind == "cluster":
            cl = clusters.get(eid) or {}
            loss.lost.append(("cluster", eid, "named by --lose"))
            members = set(x for x in cl.get("hosts") or () if isinstance(x, str))
            members |= {h["id"] for h in hvs.values() if h.get("cluster") == eid}
            for hid in sorted(members):
                lose_hv(hv_idx.lookup(hid) or hid, f"in lost cluster {eid}")
        elif kind == "datastore":
            lose_datastore(eid, "named by --lose")
        elif kind == "device":
            lose_device(eid, "named by --lose")
        elif kind == "storage_node":
            lose_node(eid, "named by --lose")

    if lost_devices:
        ents["device"] = [d for d in ents.get("device") or () if not (isinstance(d, dict) and d.get("id") in lost_devices)]
    for b in ents.get("bootstrap") or ():
        if not isinstance(b, dict) or not isinstance(b.get("copies"), list):
            continue
        keep: list[Any] = []
        for c in b["copies"]:
            if isinstance(c, dict) and c.get("device") in lost_devices:
                loss.copies.append((b["id"], f"device {c['device']}", lost_devices[c["device"]]))
                continue
            lh = c.get("location_host") if isinstance(c, dict) else None
            if lh and any(same_host(lh, hid) for hid in lost_hosts):
                loss.copies.append((b["id"], f"{c.get('location') or lh}", f"sent to lost host {lh}"))
                continue
            keep.append(c)
        b["copies"] = keep
    strip_derived(new)
    return new, loss


@dataclass
class Change:
    policy: str
    severity: str
    target: str           # "kind:id"
    before: str
    after: str
    before_message: str
    after_message: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def compare(before: Iterable[Result], after: Iterable[Result]) -> dict[str, list[Change]]:
    """Results of the normal run and of the run on the transformed facts -> what changed:
    ``broken`` (pass -> fail or error), ``worse`` (already failing or in error, now with another reason),
    ``other`` (any other change of status, such as a result that disappears)."""
    def key(r: Result) -> tuple[str, str, str]:
        return (r.policy.id, r.target_kind, r.target_id)

    old = {key(r): r for r in before}
    new = {key(r): r for r in after}
    out: dict[str, list[Change]] = {"broken": [], "worse": [], "other": []}
    for k in list(old) + [k for k in new if k not in old]:
        a, b = old.get(k), new.get(k)
        r = b or a
        assert r is not None  # k comes from old or new
        ch = Change(r.policy.id, r.policy.severity, f"{k[1]}:{k[2]}", a.status if a else "absent",
                    b.status if b else "absent", a.message if a else "", b.message if b else "")
        if a and b and a.status == "pass" and b.status in ("fail", "error"):
            out["broken"].append(ch)
        elif a and b and a.status == b.status and a.status in ("fail", "error") and a.message != b.message:
            out["worse"].append(ch)
        elif (a.status if a else None) != (b.status if b else None):
            out["other"].append(ch)
    order = ("critical", "high", "medium", "low", "info")
    for lst in out.values():
        lst.sort(key=lambda c: (order.index(c.severity) if c.severity in order else 9, c.policy, c.target))
    return out
