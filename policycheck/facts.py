"""The facts document: entities by kind and id, reference lookup, and merging fragments from several
sources into one document (joining names, recording conflicts instead of picking a value)."""
from __future__ import annotations

import gc
import ipaddress
import json
import threading
from contextlib import contextmanager

SCHEMA_VERSION = 1
MACHINE_KINDS = ("host", "backup_server", "client", "storage_node", "hypervisor_host", "vm")

#: reference attributes: (kind, attribute, nested key or None) -> referenced kind. A nested key means
#: the attribute is a list of objects whose ``key`` holds the reference (``"hosts[]"``: a list in it).
REFS = {
    ("host", "depends_on", None): "host",
    ("host", "vm", None): "vm",
    ("backup_server", "host", None): "host",
    ("backup_server", "vm", None): "vm",
    ("storage_node", "host", None): "host",
    ("storage_node", "backup_server", None): "backup_server",
    ("device", "backup_server", None): "backup_server",
    ("device", "storage_node", None): "storage_node",
    ("device", "host", None): "host",
    ("bootstrap", "backup_server", None): "backup_server",
    ("bootstrap", "copies", "device"): "device",
    ("client", "host", None): "host",
    ("client", "backup_server", None): "backup_server",
    ("vm", "cluster", None): "cluster",
    ("vm", "host", None): "hypervisor_host",
    ("vm", "disks", "datastore"): "datastore",
    ("vm", "host_rules", "hosts[]"): "hypervisor_host",
    ("hypervisor_host", "cluster", None): "cluster",
    ("hypervisor_host", "datastores", None): "datastore",
    ("cluster", "hosts", None): "hypervisor_host",
    ("datastore", "hosts", None): "hypervisor_host",
    ("dr_test", "host", None): "host",
}


_gc_lock = threading.Lock()
_gc_state = [0, False]  # active users, whether the cyclic GC was enabled before the first


@contextmanager
def gc_paused():
    """Pause the cyclic GC while building or judging a big facts document: JSON has no reference cycles,
    yet every few hundred new dicts the GC rescans the whole growing heap (json.load of 100k clients took
    4x longer with it). Reference counting still frees everything; the GC's state is restored after."""
    with _gc_lock:
        if _gc_state[0] == 0:
            _gc_state[1] = gc.isenabled()
            gc.disable()
        _gc_state[0] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state[0] -= 1
            if _gc_state[0] == 0 and _gc_state[1]:
                gc.enable()


class FactsError(ValueError):
    """A facts document or fragment that is not usable, with what is wrong."""


def norm(name) -> str:
    return str(name).strip().rstrip(".").lower()


def is_ip(name: str) -> bool:
    if ":" not in name and not name.replace(".", "").isdigit():
        return False  # not IPv6 (no colon) and not dotted digits (IPv4): skip ipaddress's slow parse
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class AliasIndex:
    """Names (any case, short or FQDN, aliases) of one kind's entities -> canonical id."""

    def __init__(self, entities, short_names=True):
        self.map = {}
        shorts: dict = {}
        for e in entities:
            eid = e["id"]
            for n in (eid, *(e.get("aliases") or ())):
                k = norm(n)
                self.map.setdefault(k, eid)
                if short_names and "." in k and not is_ip(k):
                    shorts.setdefault(k.split(".", 1)[0], set()).add(eid)
        for short, ids in shorts.items():
            if len(ids) == 1:
                self.map.setdefault(short, next(iter(ids)))

    def lookup(self, name):
        if name is None:
            return None
        k = norm(name)
        hit = self.map.get(k)
        if hit is None and "." in k and not is_ip(k):
            hit = self.map.get(k.split(".", 1)[0])
        return hit


class Facts:
    """A merged facts document with an index by kind and id. ``get(kind, id)`` also accepts aliases."""

    def __init__(self, doc: dict):
        check_document(doc)
        self.doc = doc
        self.collected_at = doc["collected_at"]
        self.as_of = None  # evaluate ages as of this time instead of collected_at
        self.sources = doc.get("sources") or []
        self.conflicts = doc.get("conflicts") or []
        self.by_kind = doc["entities"]
        self.index = {k: {e["id"]: e for e in ents} for k, ents in self.by_kind.items()}
        self._aliases: dict = {}

    def entities(self, kind) -> list:
        return self.by_kind.get(kind) or []

    def get(self, kind, eid):
        idx = self.index.get(kind)
        if idx is None or eid.__class__ is not str:  # a malformed reference (a number, an object) resolves to nothing
            return None
        e = idx.get(eid)
        if e is None and isinstance(eid, str):
            al = self._aliases.get(kind)
            if al is None:
                al = self._aliases[kind] = AliasIndex(self.by_kind.get(kind) or [], kind in MACHINE_KINDS)
            cid = al.lookup(eid)
            e = idx.get(cid) if cid is not None else None
        return e

    def alias_index(self, kind) -> AliasIndex:
        al = self._aliases.get(kind)
        if al is None:
            al = self._aliases[kind] = AliasIndex(self.by_kind.get(kind) or [], kind in MACHINE_KINDS)
        return al

    def kind_state(self, kind):
        """(True, None) when some working source provides ``kind`` (so its absence means none),
        (None, reason) when a failed source should have provided it, (False, None) otherwise."""
        for s in self.sources:
            if s.get("status") == "error" and kind in (s.get("kinds") or ()):
                return None, f"source {s['name']} ({s.get('plugin', '?')}) failed: {s.get('error')}"
        if self.by_kind.get(kind) or any(kind in (s.get("kinds") or ()) for s in self.sources
                                         if s.get("status") == "ok") or kind in self.by_kind:
            return True, None
        return False, None

    def failed_sources(self) -> list:
        return [s for s in self.sources if s.get("status") == "error"]

    def to_json(self) -> dict:
        return self.doc


def check_document(doc) -> None:
    """Fast structural check of a facts document (the full JSON Schema runs in tests and `validate`)."""
    if not isinstance(doc, dict):
        raise FactsError("a facts document must be a JSON object")
    v = doc.get("schema_version")
    if v != SCHEMA_VERSION:
        raise FactsError(f"schema_version is {v!r}; this policycheck reads schema_version {SCHEMA_VERSION}")
    if not isinstance(doc.get("collected_at"), str):
        raise FactsError("collected_at (the time the facts were collected, ISO 8601) is missing")
    ents = doc.get("entities")
    if not isinstance(ents, dict):
        raise FactsError("entities must be an object of lists by kind")
    for kind, lst in ents.items():
        if not isinstance(lst, list):
            raise FactsError(f"entities.{kind} must be a list")
        for i, e in enumerate(lst):
            if not isinstance(e, dict) or not isinstance(e.get("id"), str) or not e["id"]:
                raise FactsError(f"entities.{kind}[{i}] needs a non-empty string 'id'")


def check_fragment(frag, source: str) -> None:
    if not isinstance(frag, dict) or not isinstance(frag.get("entities"), dict):
        raise FactsError(f"source {source}: the collector returned {type(frag).__name__}, not "
                         "{'entities': {kind: [...]}}")
    for kind, lst in frag["entities"].items():
        if not isinstance(lst, list):
            raise FactsError(f"source {source}: entities.{kind} is not a list")
        for i, e in enumerate(lst):
            if not isinstance(e, dict) or not isinstance(e.get("id"), str) or not e["id"]:
                raise FactsError(f"source {source}: entities.{kind}[{i}] has no string 'id'")


# ---- merging -------------------------------------------------------------------------------------
def merge(fragments, collected_at: str, sources: list) -> dict:
    """Merge ``[(source_name, observed_at, fragment)]`` into one facts document."""
    grouped: dict = {}
    for source, observed_at, frag in fragments:
        for kind, ents in frag["entities"].items():
            for e in ents:
                e = dict(e)
                e.setdefault("_sources", [source])
                e.setdefault("_observed_at", observed_at)
                grouped.setdefault(kind, []).append(e)
    conflicts: list = []
    entities = {}
    for kind, ents in grouped.items():
        entities[kind] = _join_kind(kind, ents, conflicts)
    _rewrite_refs(entities)
    return {"schema_version": SCHEMA_VERSION, "collected_at": collected_at, "sources": sources,
            "entities": entities, "conflicts": conflicts}


def _join_kind(kind, ents, conflicts):
    parent = list(range(len(ents)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict = {}
    shorts: dict = {}
    machine = kind in MACHINE_KINDS
    for i, e in enumerate(ents):
        for n in (e["id"], *(e.get("aliases") or ())):
            k = norm(n)
            if k in owner:
                a, b = find(owner[k]), find(i)
                if a != b:
                    parent[b] = a
            else:
                owner[k] = i
            if machine and "." in k and not is_ip(k):
                shorts.setdefault(k.split(".", 1)[0], set()).add(k)
    if machine:
        for short, fqdns in shorts.items():
            if len(fqdns) == 1 and short in owner:
                a, b = find(owner[short]), find(owner[next(iter(fqdns))])
                if a != b:
                    parent[b] = a
    groups: dict = {}
    for i in range(len(ents)):
        groups.setdefault(find(i), []).append(ents[i])
    out = []
    for members in groups.values():
        out.append(members[0] if len(members) == 1 else _merge_group(kind, members, conflicts))
    return out


def _canonical_id(members):
    ids = [m["id"] for m in members]
    fq = [i for i in ids if "." in i and not is_ip(i)]
    pool = fq or ids
    lower = [i for i in pool if i == i.lower()]
    return (lower or pool)[0]


def _merge_group(kind, members, conflicts):
    cid = _canonical_id(members)
    names = []
    for m in members:
        for n in (m["id"], *(m.get("aliases") or ())):
            if n != cid and n not in names:
                names.append(n)
    merged = {"id": cid}
    attr_sources: dict = {}
    entity_conflicts: dict = {}
    srcs: list = []
    observed = []
    for m in members:
        src = (m.get("_sources") or ["?"])[0]
        for s in m.get("_sources") or ():
            if s not in srcs:
                srcs.append(s)
        if m.get("_observed_at"):
            observed.append(m["_observed_at"])
        for key, val in m.items():
            if key in ("id", "aliases", "_sources", "_observed_at", "_attr_sources"):
                continue
            if key == "_unknown":
                merged.setdefault("_unknown", {}).update(val)
                continue
            if key in entity_conflicts:
                entity_conflicts[key].append({"source": src, "value": val})
                continue
            if key not in merged:
                merged[key] = val
                attr_sources[key] = src
                continue
            ok, combined = _combine(merged[key], val)
            if ok:
                merged[key] = combined
            else:
                entity_conflicts[key] = [{"source": attr_sources[key], "value": merged.pop(key)},
                                         {"source": src, "value": val}]
    if "_unknown" in merged:
        for key in list(merged["_unknown"]):
            if key in merged:  # another source did read it
                del merged["_unknown"][key]
        if not merged["_unknown"]:
            del merged["_unknown"]
    for key, vals in entity_conflicts.items():
        conflicts.append({"kind": kind, "id": cid, "attribute": key, "values": vals})
    if entity_conflicts:
        merged["_conflicts"] = entity_conflicts
    merged["aliases"] = names
    merged["_sources"] = srcs
    if observed:
        merged["_observed_at"] = min(observed)
    if len(set(attr_sources.values())) > 1:
        merged["_attr_sources"] = attr_sources
    return merged


def _combine(a, b):
    """(True, merged) when two values agree or can be united; (False, None) on a conflict."""
    if a == b:
        return True, a
    if isinstance(a, list) and isinstance(b, list):
        out = list(a)
        seen = {json.dumps(x, sort_keys=True, default=str) for x in a}
        for x in b:
            k = json.dumps(x, sort_keys=True, default=str)
            if k not in seen:
                seen.add(k)
                out.append(x)
        if any(isinstance(x, dict) for x in out):
            return False, None  # lists of objects (disks, copies) must agree
        return True, out
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            if k in out:
                ok, m = _combine(out[k], v)
                if not ok:
                    return False, None
                out[k] = m
            else:
                out[k] = v
        return True, out
    if isinstance(a, str) and isinstance(b, str):
        na, nb = norm(a), norm(b)
        if na == nb:
            return True, a
        # a short name and its FQDN (a reference written two ways) agree; keep the FQDN
        if "." not in na and "." in nb and not is_ip(nb) and nb.split(".", 1)[0] == na:
            return True, b
        if "." not in nb and "." in na and not is_ip(na) and na.split(".", 1)[0] == nb:
            return True, a
    return False, None


def _rewrite_refs(entities):
    indexes = {k: AliasIndex(v, k in MACHINE_KINDS) for k, v in entities.items()}

    def fix(target_kind, val):
        idx = indexes.get(target_kind)
        if idx is None or not isinstance(val, str):
            return val
        return idx.lookup(val) or val

    for (kind, attr, nested), target in REFS.items():
        for e in entities.get(kind, ()):
            if attr not in e or e[attr] is None:
                continue
            v = e[attr]
            if nested is None:
                e[attr] = [fix(target, x) for x in v] if isinstance(v, list) else fix(target, v)
            elif isinstance(v, list):
                key = nested.rstrip("[]")
                for item in v:
                    if isinstance(item, dict) and item.get(key) is not None:
                        iv = item[key]
                        item[key] = [fix(target, x) for x in iv] if isinstance(iv, list) else fix(target, iv)
