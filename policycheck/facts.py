"""The facts document: entities by kind and id, reference lookup, and merging fragments from several
sources into one document (joining names, recording conflicts instead of picking a value)."""
from __future__ import annotations

import difflib
import gc
import ipaddress
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from policycheck.errors import FactsInputError

SCHEMA_VERSION = 1
Entity = dict[str, Any]
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

#: set by the console script, whose process ends right after its run (policycheck.cli.entry): what was
#: made during a pause is then frozen (gc.freeze) as the GC resumes, instead of being scanned once more
FREEZE_AFTER_PAUSE = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building or judging a big facts document: JSON has no reference cycles,
    yet every few hundred new dicts the GC rescans the whole growing heap (json.load of 100k clients took
    4x longer with it). Reference counting still frees everything; the GC's state is restored after.

    Every object made during the pause is still in the GC's youngest generation when it resumes, so its
    first collection walks them all (1.4 s after a 100k-client check). A process that ends right after
    (:data:`FREEZE_AFTER_PAUSE`) moves them out of the GC's sight instead: they live until the exit anyway."""
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
                if FREEZE_AFTER_PAUSE:
                    gc.freeze()
                gc.enable()


def read_json(fh: Any, **kw: Any) -> Any:
    """``json.load(fh, **kw)`` of a binary file holding less memory: the file's bytes are decoded and
    freed before parsing (json.loads of bytes keeps them alongside their text and the document: 240 MB
    more at 100k clients). UTF-16/32 files (a NUL in the first four bytes) take json's own path."""
    data = fh.read()
    if data[:4].count(0):
        return json.loads(data, **kw)
    text = data.decode("utf-8-sig")
    del data
    return json.loads(text, **kw)


class FactsError(FactsInputError):
    """A facts document or fragment that is not usable, with what is wrong."""


def norm(name: Any) -> str:
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

    def __init__(self, entities: Any, short_names: bool = True) -> None:
        self.map: dict[str, str] = {}
        self.ambiguous: dict[str, list[str]] = {}
        self.plain: set[str] = set()  # names known without a domain: an FQDN may fall back to them
        shorts: dict[str, Any] = {}  # short name -> the one id it names, or a set of them
        setdefault, plain_add, get = self.map.setdefault, self.plain.add, shorts.get
        for e in entities:
            eid = e["id"]
            aliases = e.get("aliases")
            for n in ((eid, *aliases) if aliases else (eid,)):
                if not isinstance(n, str):
                    continue
                k = n.strip().rstrip(".").lower()  # norm(n), inline: once per name of every entity
                setdefault(k, eid)
                if "." not in k:
                    plain_add(k)
                elif short_names and ((":" not in k and not k.replace(".", "").isdigit()) or not is_ip(k)):
                    short = k.partition(".")[0]
                    prev = get(short)
                    if prev is None:
                        shorts[short] = eid
                    elif prev.__class__ is set:
                        prev.add(eid)
                    elif prev != eid:
                        shorts[short] = {prev, eid}
        for short, ids in shorts.items():
            if ids.__class__ is not set:
                setdefault(short, ids)
            elif short not in self.map:
                self.ambiguous[short] = sorted(ids)

    def why_not(self, name: Any, kind: str) -> str:
        """Why ``name`` resolves to no entity of ``kind``: ambiguous (with the candidates) or unknown."""
        k = norm(name)
        cands = self.ambiguous.get(k) or self.ambiguous.get(k.split(".", 1)[0]) if not is_ip(k) else None
        if cands:
            return f"'{name}' is ambiguous: it could be {kind} {', '.join(cands[:5])}"
        close = difflib.get_close_matches(k, list(self.map), n=1, cutoff=0.75)
        hint = f" (did you mean '{self.map[close[0]]}'?)" if close else ""
        return f"'{name}' names no {kind} that any source describes{hint}"

    def lookup(self, name: Any) -> Any:
        if name is None:
            return None
        hit = self.map.get(name) if name.__class__ is str else None  # already normal (norm is idempotent)
        if hit is not None:
            return hit
        k = norm(name)
        hit = self.map.get(k)
        if hit is None and "." in k and not is_ip(k):
            short = k.split(".", 1)[0]
            if short in self.plain:  # `web01.corp.example` is the entity known only as `web01`; but never
                hit = self.map.get(short)  # `dns01.lab.corp.example` taken for `dns01.corp.example`
        return hit


class Facts:
    """A merged facts document with an index by kind and id. ``get(kind, id)`` also accepts aliases."""

    def __init__(self, doc: dict[str, Any]) -> None:
        index = _indexed(doc)  # check_document's check and the index of each kind, in one pass
        self.doc = doc
        self.collected_at = doc["collected_at"]
        self.as_of = None  # evaluate ages as of this time instead of collected_at
        self.sources = doc.get("sources") or []
        self.conflicts = doc.get("conflicts") or []
        self.by_kind = doc["entities"]
        self.index = index
        self._aliases: dict[str, AliasIndex] = {}

    def entities(self, kind: str) -> list[Entity]:
        return self.by_kind.get(kind) or []

    def get(self, kind: str, eid: Any) -> Entity | None:
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

    def resolve_refs(self) -> None:
        """:func:`resolve_refs` of this document; the alias indexes it builds are kept for lookups."""
        resolve_refs(self.by_kind, self._aliases)

    def alias_index(self, kind: str) -> AliasIndex:
        al = self._aliases.get(kind)
        if al is None:
            al = self._aliases[kind] = AliasIndex(self.by_kind.get(kind) or [], kind in MACHINE_KINDS)
        return al

    def kind_state(self, kind: str) -> tuple[bool | None, str | None]:
        """(True, None) when some working source provides ``kind`` (so its absence means none),
        (None, reason) when a failed source should have provided it, (False, None) otherwise."""
        for s in self.sources:
            if s.get("status") == "error" and kind in (s.get("kinds") or ()):
                return None, f"source {s['name']} ({s.get('plugin', '?')}) failed: {s.get('error')}"
        if self.by_kind.get(kind) or any(kind in (s.get("kinds") or ()) for s in self.sources
                                         if s.get("status") == "ok") or kind in self.by_kind:
            return True, None
        return False, None

    def incomplete(self, kind: str, server_id: str | None = None) -> str | None:
        """The reason a source saw elements of ``kind`` it could not read (for ``server_id``, or for any
        server when it is None), or None when every element was read."""
        for x in self.doc.get("incomplete") or ():
            if x.get("kind") != kind:
                continue
            bs = x.get("backup_server")
            if server_id is None or not bs or self.same(("backup_server", bs), server_id):
                return f"source {x.get('source', '?')}: {x.get('reason')}"
        return None

    def same(self, ref: tuple[str, Any], eid: str) -> bool:
        kind, name = ref
        e = self.get(kind, name)
        return e is not None and e["id"] == eid or norm(name) == norm(eid)

    def failed_sources(self) -> list[dict[str, Any]]:
        return [s for s in self.sources if s.get("status") == "error"]

    def to_json(self) -> dict[str, Any]:
        return self.doc


def check_document(doc: Any) -> None:
    """Fast structural check of a facts document (the full JSON Schema runs in tests and `validate`)."""
    _indexed(doc)


def _indexed(doc: Any) -> dict[str, dict[str, Entity]]:
    """:func:`check_document`, returning ``{kind: {id: entity}}`` (a later duplicate id wins): one pass
    over the entities for both (a second pass over 100k entities costs as much as the first)."""
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
    index: dict[str, dict[str, Entity]] = {}
    for kind, lst in ents.items():
        if not isinstance(lst, list):
            raise FactsError(f"entities.{kind} must be a list")
        index[kind] = by_id = {}
        for i, e in enumerate(lst):
            eid = e.get("id") if isinstance(e, dict) else None
            if not isinstance(eid, str) or not eid:
                raise FactsError(f"entities.{kind}[{i}] needs a non-empty string 'id'")
            by_id[eid] = e
    return index


def check_fragment(frag: Any, source: str) -> None:
    if not isinstance(frag, dict) or not isinstance(frag.get("entities"), dict):
        raise FactsError(f"source {source}: the collector returned {type(frag).__name__}, not "
                         "{'entities': {kind: [...]}}")
    for kind, lst in frag["entities"].items():
        if not isinstance(lst, list):
            raise FactsError(f"source {source}: entities.{kind} is not a list")
        for i, e in enumerate(lst):
            if not isinstance(e, dict) or not isinstance(e.get("id"), str) or not e["id"]:
                raise FactsError(f"source {source}: entities.{kind}[{i}] has no string 'id'")
    partial = frag.get("partial")
    if partial is not None and not (isinstance(partial, dict) and all(
            isinstance(v, dict) and all(isinstance(r, str) for r in v.values()) for v in partial.values())):
        raise FactsError(f"source {source}: 'partial' must be {{kind: {{attribute: reason}}}}")
    inc = frag.get("incomplete")
    if inc is not None and not (isinstance(inc, list) and all(
            isinstance(x, dict) and isinstance(x.get("kind"), str) and isinstance(x.get("reason"), str)
            and isinstance(x.get("backup_server", ""), str) for x in inc)):
        raise FactsError(f"source {source}: 'incomplete' must be a list of {{kind, reason, backup_server?}}")


# ---- merging -------------------------------------------------------------------------------------
def merge(fragments: Iterable[tuple[str, str, dict[str, Any]]], collected_at: str,
          sources: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge ``[(source_name, observed_at, fragment)]`` into one facts document."""
    grouped: dict[str, list[Entity]] = {}
    incomplete: list[dict[str, Any]] = []
    for source, observed_at, frag in fragments:
        partial = frag.get("partial") or {}
        for kind, ents in frag["entities"].items():
            kind_partial = partial.get(kind) or {}
            for e in ents:
                e = dict(e)
                e.setdefault("_sources", [source])
                e.setdefault("_observed_at", observed_at)
                if kind_partial:
                    marks = {a: r for a, r in kind_partial.items() if a in e}
                    if marks:
                        e["_partial"] = {**marks, **(e.get("_partial") or {})}
                grouped.setdefault(kind, []).append(e)
        for x in frag.get("incomplete") or ():
            incomplete.append({**x, "source": source})
    conflicts: list[dict[str, Any]] = []
    entities = {}
    for kind, ents in grouped.items():
        entities[kind] = _join_kind(kind, ents, conflicts)
    resolve_refs(entities)
    doc = {"schema_version": SCHEMA_VERSION, "collected_at": collected_at, "sources": sources,
           "entities": entities, "conflicts": conflicts}
    if incomplete:
        doc["incomplete"] = incomplete
    return doc


def _join_kind(kind: str, ents: list[Entity], conflicts: list[dict[str, Any]]) -> list[Entity]:
    parent = list(range(len(ents)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    shorts: dict[str, set[str]] = {}
    machine = kind in MACHINE_KINDS
    per_server = kind == "client"  # a host protected by two backup servers has two client records
    for i, e in enumerate(ents):
        scope = ("@" + norm(e.get("backup_server")).split(".", 1)[0]) if per_server and isinstance(e.get("backup_server"), str) else ""
        for n in (e["id"], *(e.get("aliases") or ())):
            if not isinstance(n, str):
                continue
            base = norm(n)
            k = base + scope
            if k in owner:
                a, b = find(owner[k]), find(i)
                if a != b:
                    parent[b] = a
            else:
                owner[k] = i
            if machine and "." in base and not is_ip(base):
                shorts.setdefault(base.split(".", 1)[0] + scope, set()).add(k)
    if machine:
        for short, fqdns in shorts.items():
            if len(fqdns) == 1 and short in owner:
                a, b = find(owner[short]), find(owner[next(iter(fqdns))])
                if a != b:
                    parent[b] = a
    groups: dict[int, list[Entity]] = {}
    for i in range(len(ents)):
        groups.setdefault(find(i), []).append(ents[i])
    out = []
    for members in groups.values():
        out.append(members[0] if len(members) == 1 else _merge_group(kind, members, conflicts))
    if per_server:
        _unique_client_ids(out)
    return out


def _unique_client_ids(clients: list[Entity]) -> None:
    """Two client records of one host under different backup servers keep distinct ids
    (``server/host``), the host's name staying in ``hostname``."""
    seen: dict[str, Any] = {}
    for c in clients:
        seen.setdefault(c["id"], []).append(c)
    for cid, group in seen.items():
        if len(group) < 2:
            continue
        for c in group:
            c.setdefault("hostname", cid)
            c["id"] = f"{c.get('backup_server') or '?'}/{cid}"


def _canonical_id(members: list[Entity]) -> str:
    ids: list[str] = [m["id"] for m in members]
    fq = [i for i in ids if "." in i and not is_ip(i)]
    pool = fq or ids
    lower = [i for i in pool if i == i.lower()]
    return (lower or pool)[0]


def _merge_group(kind: str, members: list[Entity], conflicts: list[dict[str, Any]]) -> Entity:
    cid = _canonical_id(members)
    names: list[Any] = []
    for m in members:
        for n in (m["id"], *(m.get("aliases") or ())):
            if n != cid and n not in names:
                names.append(n)
    merged: Entity = {"id": cid}
    attr_sources: dict[str, str] = {}
    entity_conflicts: dict[str, list[dict[str, Any]]] = {}
    srcs: list[str] = []
    observed = []
    partial_marks: dict[str, str] = {}
    complete: set[str] = set()  # list attributes some member reports without marking them partial
    for m in members:
        mp = m.get("_partial") or {}
        complete.update(k for k in m if k not in mp and not k.startswith("_"))
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
            if key == "_partial":
                for a, r in val.items():
                    partial_marks.setdefault(a, r)
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
    partial_left = {a: r for a, r in partial_marks.items() if a not in complete and a in merged}
    if partial_left:
        merged["_partial"] = partial_left
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


def _combine(a: Any, b: Any) -> tuple[bool, Any]:
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
        merged = dict(a)
        for k, v in b.items():
            if k in merged:
                ok, m = _combine(merged[k], v)
                if not ok:
                    return False, None
                merged[k] = m
            else:
                merged[k] = v
        return True, merged
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


#: references that must name a described entity: one that does not (a typo, a host no source knows)
#: or names several (a short name of two FQDNs) makes the attribute unknown, never a literal that the
#: derivations would take for some other machine. Ambiguous names are unknown for every reference.
STRICT_REFS = {("host", "depends_on"), ("storage_node", "backup_server"), ("device", "backup_server"),
               ("device", "storage_node"), ("bootstrap", "backup_server"), ("bootstrap", "copies"),
               ("client", "backup_server"), ("vm", "cluster"), ("vm", "disks"), ("hypervisor_host", "cluster")}


_NO_NAMES: dict[str, str] = {}


def resolve_refs(entities: dict[str, list[Entity]], indexes: dict[str, AliasIndex] | None = None) -> None:
    """Rewrite every reference to its entity's canonical id; one that does not resolve becomes unknown.
    The alias index of each referenced kind is built once, into ``indexes`` when given (a
    :class:`Facts`' own: ids and aliases do not change here, so derivations reuse them)."""
    cache: dict[str, AliasIndex] = {} if indexes is None else indexes

    def index(kind: str) -> AliasIndex | None:
        if kind not in entities:
            return None  # no source describes any: not an empty index (see fix)
        idx = cache.get(kind)
        if idx is None:
            idx = cache[kind] = AliasIndex(entities[kind] or [], kind in MACHINE_KINDS)
        return idx

    def fix(target_kind: str, val: Any, strict: bool) -> tuple[Any, str | None]:
        """(canonical id, None) or (val, reason it does not resolve)."""
        if not isinstance(val, str):
            return val, None
        idx = index(target_kind)
        hit = idx.lookup(val) if idx is not None else None
        if hit is not None:
            return hit, None
        if idx is not None and (idx.ambiguous and (norm(val) in idx.ambiguous
                                                   or norm(val).split(".", 1)[0] in idx.ambiguous)):
            return val, idx.why_not(val, target_kind)
        if strict:
            return val, (idx.why_not(val, target_kind) if idx is not None
                         else f"'{val}' names no {target_kind}: no source describes any {target_kind}")
        return val, None

    for (kind, attr, nested), target in REFS.items():
        strict = (kind, attr) in STRICT_REFS
        ents = entities.get(kind)
        if not ents:
            continue
        idx = index(target)
        known = (idx.map if idx is not None else _NO_NAMES).get  # a name as given: the common hit
        for e in ents:
            v = e.get(attr)
            if v is None:
                continue
            if nested is None:
                if v.__class__ is str:
                    hit = known(v)
                    if hit is not None:
                        if hit is not v:
                            e[attr] = hit
                        continue
                elif v.__class__ is list:
                    try:
                        hits = list(map(known, v))
                    except TypeError:  # an unhashable item: the general path says what it is
                        hits = [None]
                    if None not in hits:
                        if hits != v:  # a list already canonical is kept, not copied
                            e[attr] = hits
                        continue
                if isinstance(v, list):
                    out, bad = [], []
                    for x in v:
                        fx, why = fix(target, x, strict)
                        out.append(fx)
                        if why:
                            bad.append(why)
                    if bad:
                        _unresolved(e, attr, f"{attr} of {e['id']}: " + "; ".join(bad))
                    elif out != v:  # a list already canonical is kept, not copied
                        e[attr] = out
                else:
                    fx, why = fix(target, v, strict)
                    if why:
                        _unresolved(e, attr, f"{attr} of {e['id']}: {why}")
                    elif fx is not v:
                        e[attr] = fx
            elif isinstance(v, list):
                key = nested.rstrip("[]")
                for item in v:
                    if isinstance(item, dict) and item.get(key) is not None:
                        iv = item[key]
                        if isinstance(iv, list):
                            item[key] = [fix(target, x, False)[0] for x in iv]
                            continue
                        fx, why = fix(target, iv, strict)
                        item[key] = fx
                        if why:
                            unk = item.setdefault("_unknown", {})
                            unk[key] = f"{attr}.{key} of {e['id']}: {why}"
                            if kind == "bootstrap":
                                unk.setdefault("local_to_server", unk[key])


def _unresolved(e: Entity, attr: str, reason: str) -> None:
    """A reference that does not resolve: the attribute becomes unknown, with the reason."""
    e.setdefault("_unresolved", {})[attr] = e.pop(attr)
    e.setdefault("_unknown", {})[attr] = reason
