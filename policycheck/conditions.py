"""The condition language: fact paths, and compiling a condition tree (over the operator table in
operators.py) into a callable once per policy. Evaluation is three-valued: True, False, or None (unknown)."""
from __future__ import annotations

import contextlib
import functools
import json as _json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, cast

from policycheck.errors import PolicyError
from policycheck.missing import Missing as Missing  # importable from here, as before
from policycheck.operators import OPERATORS  # the one operator table
from policycheck.textutil import describe as describe  # moved to textutil; importable from here
from policycheck.textutil import suggest as suggest
from policycheck.timeutil import parse_time

if TYPE_CHECKING:
    from datetime import datetime

    from policycheck.facts import Facts
    from policycheck.operators import OpFn, PartialFn

#: an entity (or an item of a list fact): parsed facts
Entity = dict[str, Any]
#: where a node sits inside the policy document (keys and list indexes)
JPath = tuple[Any, ...]
#: one step of a fact path: (attribute, kind it refers to or None), or ("<-ATTR", KIND) for a reverse step
Step = tuple[str, "str | None"]

COMBINATORS = ("all", "any", "none", "not")
QUANTIFIERS = ("for_any", "for_all", "for_none")
KINDS = ("host", "backup_server", "storage_node", "device", "bootstrap", "client", "vm",
         "hypervisor_host", "cluster", "datastore", "dr_test")


class CompileError(PolicyError):
    """A condition that cannot compile; ``jpath`` locates it inside the policy document."""

    def __init__(self, jpath: Iterable[Any], message: str) -> None:
        self.jpath = tuple(jpath)
        self.message = message
        super().__init__(message)


LEAF_KEYS = ("fact", "default", "message")
ALL_KEYWORDS = tuple(OPERATORS) + COMBINATORS + QUANTIFIERS + LEAF_KEYS + ("require", "latest", "by")
#: operators whose value may be another fact, ``{fact: PATH}``, instead of a literal
FACT_OPERANDS = ("equals", "not_equals", "lt", "lte", "gt", "gte")


# ---- fact paths -----------------------------------------------------------------------------------
#: FactPath.shape: any path; ``attr``; ``attr->kind.attr``
SHAPE_OTHER, SHAPE_ATTR, SHAPE_REF_ATTR = 0, 1, 2


class FactPath:
    """A compiled dotted path such as ``latest_bootstrap->bootstrap.copies``; ``@target.`` starts at
    the policy's target instead of the current item; a segment ``KIND<-ATTR`` is a reverse reference:
    the entities of KIND whose ATTR refers to the current entity (``client<-backup_server``: a backup
    server's clients). A reverse step is stored as ``("<-ATTR", KIND)``."""

    __slots__ = ("text", "steps", "from_target", "kinds", "reverse_last", "shape", "first", "ref_kind", "second")

    text: str
    steps: list[Step]
    from_target: bool
    kinds: set[str]
    reverse_last: bool
    #: SHAPE_ATTR (``attr``), SHAPE_REF_ATTR (``attr->kind.attr``) or SHAPE_OTHER: the two common shapes
    #: get a straight-line lookup in :func:`resolve_fast` and in a leaf's compiled closure (_leaf_judge)
    shape: int
    first: str  # the first step's attribute
    ref_kind: str  # SHAPE_REF_ATTR: the kind the first step refers to ("" otherwise)
    second: str  # SHAPE_REF_ATTR: the referred entity's attribute ("" otherwise)

    def __init__(self, text: Any, jpath: JPath) -> None:
        if not isinstance(text, str) or not text.strip():
            raise CompileError(jpath, "a fact path must be a non-empty string such as 'host->host.roles'")
        self.text = text
        self.from_target = text.startswith("@target.")
        body = text[len("@target."):] if self.from_target else text
        self.steps = []
        self.kinds = set()
        for seg in body.split("."):
            if "<-" in seg:
                kind, _, attr = seg.partition("<-")
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", attr or "-"):
                    raise CompileError(jpath, f"bad fact path {text!r}: in {seg!r}, '<-' takes an attribute name "
                                              "(KIND<-ATTR: the KIND entities whose ATTR refers here)")
                if kind not in KINDS:
                    raise CompileError(jpath, f"bad fact path {text!r}: unknown entity kind {kind!r}"
                                              + suggest(kind, KINDS))
                self.kinds.add(kind)
                self.steps.append(("<-" + attr, kind))
                continue
            attr, _, kind = seg.partition("->")
            if not attr or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", attr):
                raise CompileError(jpath, f"bad fact path {text!r}: segment {seg!r} is not a name")
            if _:
                if kind not in KINDS:
                    raise CompileError(jpath, f"bad fact path {text!r}: unknown entity kind {kind!r}"
                                              + suggest(kind, KINDS))
                self.kinds.add(kind)
            self.steps.append((attr, kind or None))
        self.reverse_last = self.steps[-1][0].startswith("<-")
        self.first, self.ref_kind, self.second = self.steps[0][0], "", ""
        self.shape = SHAPE_OTHER
        if len(self.steps) == 1 and self.steps[0][1] is None and not self.reverse_last:
            self.shape = SHAPE_ATTR
        elif len(self.steps) == 2 and self.steps[1][1] is None and not self.reverse_last \
                and not self.first.startswith("<-"):
            ref_kind = self.steps[0][1]
            if ref_kind is not None:
                self.shape, self.ref_kind, self.second = SHAPE_REF_ATTR, ref_kind, self.steps[1][0]

    def resolve(self, root: Any, ctx: Ctx) -> tuple[Any, Any]:
        """(value, owner entity) or (Missing, owner)."""
        return resolve_fast(self, root, ctx.facts)


def resolve_fast(path: FactPath, root: Any, facts: Facts, quiet: bool = False) -> tuple[Any, Any]:
    """``_resolve(root, path.steps, ...)``: the same answer, with the plain cases of the two common
    shapes (an attribute of the item; an attribute of the entity a string reference names) looked up
    directly. Anything else (absent keys, null or list references, unknown entities) takes the general
    walk, which also words the reasons (``quiet``: see :func:`_resolve`)."""
    if root.__class__ is dict:
        shape = path.shape
        if shape == SHAPE_ATTR:
            if path.first in root:
                return root[path.first], root
        elif shape == SHAPE_REF_ATTR:
            ref = root.get(path.first)
            if ref.__class__ is str:
                e = facts.get(path.ref_kind, ref)
                if e is not None and e.__class__ is dict and path.second in e:
                    return e[path.second], e
    return _resolve(root, path.steps, 0, root, facts, path.text, quiet)


def _name_of(v: Entity) -> str:
    """How to name an entity, or an item without an id (a copy, a disk) by its identifying fields."""
    if v.get("id") is not None:
        return str(v["id"])
    parts = [f"{k} {v[k]}" for k in ("device", "volume", "label", "name", "datastore", "location", "time")
             if isinstance(v.get(k), str)][:2]
    return f"the item with {', '.join(parts)}" if parts else "an item without an id"


def _missing_attr(v: Entity, attr: str, text: str) -> Missing:
    unknown = v.get("_unknown")
    if unknown and attr in unknown:
        return Missing(f"'{text}' unknown on {_name_of(v)}: {unknown[attr]}", True)
    conflicts = v.get("_conflicts")
    if conflicts and attr in conflicts:
        vals = ", ".join(f"{c['value']!r} ({c['source']})" for c in conflicts[attr])
        return Missing(f"'{text}': sources disagree on {attr} of {_name_of(v)}: {vals}", True)
    return Missing(f"missing fact '{attr}' on {_name_of(v)} (path '{text}')")


def _said_unknown(v: Entity, attr: str) -> bool:
    """Whether ``attr``, absent from ``v``, is explicitly unknown (a source said so, or sources
    disagree): what makes :func:`_missing_attr`'s answer explicit."""
    unknown = v.get("_unknown")
    if unknown and attr in unknown:
        return True
    conflicts = v.get("_conflicts")
    return bool(conflicts and attr in conflicts)


#: what ``_resolve(..., quiet=True)`` gives for an absent attribute that no source said is unknown
ABSENT = Missing("absent")


def _resolve(v: Any, steps: list[Step], i: int, owner: Any, facts: Facts, text: str,
             quiet: bool = False) -> tuple[Any, Any]:
    """(value, owner entity) at ``steps[i:]`` from ``v``, or (Missing, owner). ``quiet``: an absent
    attribute (not explicitly unknown) is ABSENT, its reason left unworded, for a caller that puts
    its default in place of it (a leaf with ``default:``, where most targets lack the fact)."""
    n = len(steps)
    while i < n:
        if v is None:
            return None, owner
        if v.__class__ is list:
            out: list[Any] = []
            for item in v:
                r, o = _resolve(item, steps, i, owner, facts, text, quiet)
                if r.__class__ is Missing:
                    return r, o
                out.append(r)
            return out, owner
        if v.__class__ is not dict:
            return Missing(f"'{text}': cannot read '{steps[i][0]}' from a {type(v).__name__}"), owner
        attr, kind = steps[i]
        if attr not in v:
            if attr[0] == "<":  # a reverse step ("<-ATTR", KIND): no entity has such a key, so it lands here
                owner = v
                v = _reverse(facts, kind, attr[2:], v, text)
                if v.__class__ is Missing:
                    return v, owner
                i += 1
                continue
            if quiet and not _said_unknown(v, attr):
                return ABSENT, v
            return _missing_attr(v, attr, text), v
        owner = v
        v = v[attr]
        if kind is not None and v is not None:
            if v.__class__ is list:
                refs: list[Any] = []
                for ref in v:
                    e = facts.get(kind, ref)
                    if e is None:
                        return Missing(f"'{text}': {attr} refers to {kind} '{ref}', which no source "
                                       f"describes"), owner
                    refs.append(e)
                v = refs
            else:
                e = facts.get(kind, v)
                if e is None:
                    return Missing(f"'{text}': {attr} refers to {kind} '{v}', which no source describes"), owner
                v = e
        i += 1
    return v, owner


def _reverse(facts: Any, kind: str | None, attr: str, ent: Entity, text: str) -> list[Entity] | Missing:
    """The entities of ``kind`` whose ``attr`` refers to ``ent`` (a list), or Missing: when a source of
    ``kind`` failed or none was collected, when one of them cannot say where it points (its ``attr``
    absent or unknown), or when a source saw some it could not read. (``kind`` is never None: a reverse
    step always names it; the type is that of a path step.)"""
    cache = getattr(facts, "_reverse_index", None)
    if cache is None:
        cache = facts._reverse_index = {}
    idx = cache.get((kind, attr))
    if idx is None:
        idx = cache[(kind, attr)] = _reverse_index(facts, kind, attr)
    by, unsure, some_incomplete, canonical = idx
    if unsure:
        return Missing(f"'{text}': which {kind} entities refer to {_name_of(ent)} is unknown: {unsure}", True)
    if some_incomplete:
        inc = facts.incomplete(kind, ent.get("id"))
        if inc:
            return Missing(f"'{text}': {kind} entities referring to {_name_of(ent)} were seen only in part "
                           f"({inc})", True)
    found = by.get(ent.get("id"))
    if not canonical:  # references merging did not rewrite to canonical ids: an alias may name it too
        for alias in ent.get("aliases") or ():
            more = by.get(alias) if alias.__class__ is str else None
            if more:
                found = (found or []) + [e for e in more if not any(e is f for f in found or ())]
    return list(found) if found else []


def _reverse_index(facts: Any, kind: str | None, attr: str) -> tuple[dict[Any, list[Entity]], str | None, bool, bool]:
    """({referenced id: [entities of kind]}, why the index cannot be trusted or None, whether a source
    saw elements of kind it could not read, whether merging rewrote the references to canonical ids)."""
    from policycheck.facts import REFS

    some_incomplete = any(x.get("kind") == kind for x in facts.doc.get("incomplete") or ())
    canonical = (kind, attr, None) in REFS and getattr(facts, "refs_canonical", False)
    provided, failed = facts.kind_state(kind)
    if failed:
        return {}, failed, some_incomplete, canonical
    if not provided:
        return {}, f"no source describes any {kind}", some_incomplete, canonical
    by: dict[Any, list[Entity]] = {}  # str keys; looked up by an entity's id, which may be absent
    unsure = None
    for e in facts.entities(kind):
        if attr not in e:
            unknown = (e.get("_unknown") or {}).get(attr) or (
                "sources disagree" if attr in (e.get("_conflicts") or ()) else f"its {attr} is not recorded")
            unsure = unsure or f"{kind} {e.get('id')}: {unknown}"
            continue
        v = e[attr]
        for x in (v if v.__class__ is list else (v,)):
            if x.__class__ is str:
                by.setdefault(x, []).append(e)
    return by, unsure, some_incomplete, canonical


# ---- compiling ------------------------------------------------------------------------------------
class Ctx:
    """Evaluation context: facts, collection time, the target, the evidence collected for it (the engine
    keeps one for a run and sets ``target`` and a new ``evidence`` list for each target)."""

    __slots__ = ("facts", "now", "target", "evidence")

    facts: Facts
    now: datetime
    target: Entity | None  # None: a policy without @target. paths (tests evaluate conditions alone)
    evidence: list[Any]  # (leaf, observed, owner, ok) tuples, and context dicts (policy.py)

    def __init__(self, facts: Facts, now: datetime, target: Entity | None) -> None:
        self.facts = facts
        self.now = now
        self.target = target
        self.evidence = []


class Leaf:
    """One compiled ``{fact: PATH, <op>: value}``; also the evidence's description of the check."""

    __slots__ = ("path", "op", "value", "shown", "fn", "default", "has_default", "message", "kinds", "attrs",
                 "_expected", "on_partial", "last")

    path: FactPath
    op: str
    value: Any  # the operator's value, prepared (a compiled pattern, seconds...)
    shown: Any  # the value as the policy gave it (parameters resolved)
    fn: OpFn
    default: Any
    has_default: bool
    message: Any
    kinds: set[str]
    attrs: set[str]
    _expected: str | None
    on_partial: PartialFn
    last: str

    def __init__(self, path: FactPath, op: str, value: Any, shown: Any, default: Any, has_default: bool,
                 message: Any) -> None:
        self.path, self.op, self.value, self.shown = path, op, value, shown
        self.fn = OPERATORS[op].fn
        self.on_partial = OPERATORS[op].on_partial
        self.last = path.steps[-1][0]
        self.default, self.has_default, self.message = default, has_default, message
        self._expected = None

    def expected_text(self) -> str:
        if self._expected is None:  # once per leaf, not once per result (reports render it for each)
            v = self.shown
            if self.op == "within":
                self._expected = f"within {v}"
            elif self.op == "count":
                self._expected = "count " + " ".join(f"{k} {x}" for k, x in v.items())
            else:
                self._expected = f"{self.op} {_json.dumps(v, default=str, ensure_ascii=False)}"
        return self._expected

    def __call__(self, item: Any, ctx: Ctx) -> bool | None:
        root = ctx.target if self.path.from_target else item
        # quiet with a default: an absent fact's reason would be replaced by the default unread
        obs, owner = resolve_fast(self.path, root, ctx.facts, self.has_default)
        if obs.__class__ is Missing:
            if self.has_default and not obs.explicit:  # absent, and the policy says what absence means
                obs = self.default
                ok = self.fn(obs, self.value, ctx)
            else:
                ok = None  # absent means unknown for every operator, `exists` included
        else:
            ok = self.fn(obs, self.value, ctx)
            partial = owner.get("_partial") if owner.__class__ is dict else None
            if partial and self.last in partial:
                kept = self.on_partial(ok, obs, self.value)
                if kept is None and ok is not None:
                    obs = Missing(f"'{self.path.text}' is only partly known on {owner.get('id', '?')} "
                                  f"({partial[self.last]}): {describe(obs, 120)} seen, so "
                                  f"'{self.expected_text()}' cannot be decided", True)
                ok = kept
        ctx.evidence.append((self, obs, owner, ok))
        return ok


def _as_time(v: Any) -> Any:
    """The instant an ISO time string names, or None (not a string, or not a time)."""
    if v.__class__ is not str:
        return None
    return _parsed_time(v)


@functools.lru_cache(maxsize=65536)
def _parsed_time(v: str) -> Any:
    try:
        return parse_time(v)
    except (ValueError, TypeError):
        return None


def compare_values(op: str, a: Any, b: Any) -> bool | None:
    """``a op b`` for two facts: times (ISO strings) compared as instants, else as values; a null
    side makes lt/lte/gt/gte false (never happened is neither before nor after); mismatched types
    are unknown."""
    ta, tb = _as_time(a), _as_time(b)
    if ta is not None and tb is not None:
        a, b = ta, tb
    r: bool  # the facts are JSON values and instants: their comparisons give bools
    if op == "equals":
        r = a == b
        return r
    if op == "not_equals":
        r = a != b
        return r
    if a is None or b is None:
        return False
    try:
        r = {"lt": a < b, "lte": a <= b, "gt": a > b, "gte": a >= b}[op]
        return r
    except TypeError:
        return None


class FactLeaf(Leaf):
    """``{fact: A, <op>: {fact: B}}``: A compared with another fact B of the same item (or, with
    ``@target.``, of the target). B unknown (absent, unknown, or a list seen in part) makes it unknown."""

    __slots__ = ("other",)

    other: FactPath

    def expected_text(self) -> str:
        if self._expected is None:
            self._expected = f"{self.op} the fact {self.other.text}"
        return self._expected

    def __call__(self, item: Any, ctx: Ctx) -> bool | None:
        root = ctx.target if self.path.from_target else item
        obs, owner = _resolve(root, self.path.steps, 0, root, ctx.facts, self.path.text)
        oroot = ctx.target if self.other.from_target else item
        other, oowner = _resolve(oroot, self.other.steps, 0, oroot, ctx.facts, self.other.text)
        ok = None
        if obs.__class__ is Missing:
            if self.has_default and not obs.explicit and other.__class__ is not Missing:
                obs = self.default
                ok = compare_values(self.op, obs, other)
        elif other.__class__ is Missing:
            obs = Missing(f"'{self.expected_text()}' cannot be decided: {other.reason}", other.explicit)
        else:
            for o, path in ((owner, self.path), (oowner, self.other)):
                part = o.get("_partial") if o.__class__ is dict else None
                if part and path.steps[-1][0] in part:
                    obs = Missing(f"'{path.text}' is only partly known on {o.get('id', '?')} "
                                  f"({part[path.steps[-1][0]]}), so '{self.path.text} {self.expected_text()}' "
                                  "cannot be decided", True)
                    break
            else:
                ok = compare_values(self.op, obs, other)
        ctx.evidence.append((self, obs, owner, ok))
        return ok


_UNSET: Any = object()  # _leaf_judge: no such key


def _leaf_judge(leaf: Leaf) -> Condition:
    """``leaf`` as a plain function for the common cases: an attribute of the item, or of the entity a
    string reference names (or a null reference), present and not seen in part; an absent first step
    that the leaf's ``default:`` stands for. Anything else (absent without a default, a list along the
    way, a partly known list, ``@target.``, longer paths) is ``leaf(item, ctx)`` itself, which gives the
    same answer on these cases too. Why: a closure over the leaf's parts is called and run markedly
    faster than ``Leaf.__call__`` (an instance's ``__call__``, its attribute loads, the general walk),
    and it runs for every target."""
    path, fn, value, default = leaf.path, leaf.fn, leaf.value, leaf.default
    first, kind, second = path.first, path.ref_kind, path.second
    if path.from_target:
        return leaf
    # an absent first attribute that no source said is unknown: the default stands for it (as in
    # Leaf.__call__), and the reason _resolve would word for it is never read
    defaulted = leaf.has_default and not first.startswith("<-")

    if path.shape == SHAPE_OTHER:
        if not defaulted:
            return leaf

        def judge_other(item: Any, ctx: Ctx) -> bool | None:
            if item.__class__ is dict and first not in item and not _said_unknown(item, first):
                ok = fn(default, value, ctx)
                ctx.evidence.append((leaf, default, item, ok))
                return ok
            return leaf(item, ctx)
        return _condition(judge_other, leaf.kinds, leaf.attrs)

    if path.shape == SHAPE_ATTR:
        def judge_attr(item: Any, ctx: Ctx) -> bool | None:
            if item.__class__ is dict:
                obs = item.get(first, _UNSET)  # one lookup, not `in` and []
                if obs is not _UNSET:
                    partial = item.get("_partial")
                    if not partial or first not in partial:
                        ok = fn(obs, value, ctx)
                        ctx.evidence.append((leaf, obs, item, ok))
                        return ok
                elif defaulted and not _said_unknown(item, first):
                    ok = fn(default, value, ctx)
                    ctx.evidence.append((leaf, default, item, ok))
                    return ok
            return leaf(item, ctx)
        return _condition(judge_attr, leaf.kinds, leaf.attrs)

    def judge_ref(item: Any, ctx: Ctx) -> bool | None:
        if item.__class__ is dict:
            ref = item.get(first, _UNSET)
            if ref.__class__ is str:
                e = ctx.facts.get(kind, ref)
                if e is not None and e.__class__ is dict:
                    obs = e.get(second, _UNSET)
                    partial = e.get("_partial")
                    if obs is not _UNSET and (not partial or second not in partial):
                        ok = fn(obs, value, ctx)
                        ctx.evidence.append((leaf, obs, e, ok))
                        return ok
            elif ref is None:  # refers to nothing: null, owned by the item
                partial = item.get("_partial")
                if not partial or second not in partial:
                    ok = fn(None, value, ctx)
                    ctx.evidence.append((leaf, None, item, ok))
                    return ok
            elif ref is _UNSET and defaulted and not _said_unknown(item, first):
                ok = fn(default, value, ctx)
                ctx.evidence.append((leaf, default, item, ok))
                return ok
        return leaf(item, ctx)
    return _condition(judge_ref, leaf.kinds, leaf.attrs)


class Condition(Protocol):
    """A compiled condition: ``f(item, ctx) -> True|False|None``, with the entity kinds its paths reach
    (``kinds``) and the attributes of the item it starts from (``attrs``)."""

    kinds: set[str]
    attrs: set[str]

    def __call__(self, item: Any, ctx: Ctx, /) -> bool | None: ...


Judge = Callable[[Any, "Ctx"], "bool | None"]


def _condition(f: Judge, kinds: set[str], attrs: set[str]) -> Condition:
    """``f`` given its ``kinds`` and ``attrs`` (function attributes, set once at compile time)."""
    f.__dict__.update(kinds=kinds, attrs=attrs)
    return cast(Condition, f)  # the two attributes a Condition has are set just above


def compile_condition(node: Any, jpath: JPath, params: dict[str, Any]) -> Condition:
    """Compile a condition tree into ``f(item, ctx) -> True|False|None``. Raises CompileError."""
    if not isinstance(node, dict) or not node:
        raise CompileError(jpath, "a condition must be a mapping such as {fact: PATH, equals: VALUE}, "
                                  "or all/any/none/not/for_any/for_all/for_none")
    keys = set(node)
    if "fact" in keys:
        leaf = _compile_leaf(node, jpath, params)
        return leaf if leaf.__class__ is not Leaf else _leaf_judge(leaf)
    if "latest" in keys:
        return _compile_latest(node, jpath, params)
    heads = [k for k in node if k in COMBINATORS or k in QUANTIFIERS]
    unknown = [k for k in node if k not in COMBINATORS and k not in QUANTIFIERS and k != "require"]
    if unknown:
        k = unknown[0]
        if k in OPERATORS:
            raise CompileError(jpath + (k, "<key>"), f"operator '{k}' needs a 'fact:' path beside it")
        raise CompileError(jpath + (k, "<key>"), f"unknown condition '{k}'" + suggest(k, ALL_KEYWORDS))
    if len(heads) != 1:
        raise CompileError(jpath, f"one of all/any/none/not/for_any/for_all/for_none per mapping, found "
                                  f"{', '.join(heads) or 'none'}")
    head = heads[0]
    body = node[head]
    if head in QUANTIFIERS:
        if "require" not in node:
            raise CompileError(jpath, f"'{head}' needs a 'require:' condition evaluated for each item")
        path = FactPath(body, jpath + (head,))
        inner = compile_condition(node["require"], jpath + ("require",), params)
        return _quantifier(head, path, inner)
    if "require" in node:
        raise CompileError(jpath + ("require",), f"'require' belongs to for_any/for_all/for_none, not '{head}'")
    if head == "not":
        inner = compile_condition(body, jpath + ("not",), params)

        def f_not(item: Any, ctx: Ctx) -> bool | None:
            r = inner(item, ctx)
            return None if r is None else not r
        return _condition(f_not, inner.kinds, inner.attrs)
    if not isinstance(body, list) or not body:
        raise CompileError(jpath + (head,), f"'{head}' takes a non-empty list of conditions")
    parts = [compile_condition(c, jpath + (head, i), params) for i, c in enumerate(body)]
    f = {"all": _all, "any": _any, "none": _none}[head](parts)
    return _condition(f, set().union(*(p.kinds for p in parts)), set().union(*(p.attrs for p in parts)))


def _decided_by(decisive: bool) -> Callable[[list[Condition]], Judge]:
    """``all`` (decided by the first False) or ``any`` (by the first True), in Kleene logic: when no
    part decides and some part is unknown, the whole is unknown."""
    def combine(parts: list[Condition]) -> Judge:
        if len(parts) == 2:  # the commonest all/any, unrolled (it runs for every target)
            p0, p1 = parts

            def f2(item: Any, ctx: Ctx) -> bool | None:
                r0 = p0(item, ctx)
                if r0 is decisive:
                    return decisive
                r1 = p1(item, ctx)
                if r1 is decisive:
                    return decisive
                return None if r0 is None or r1 is None else not decisive
            return f2

        def f(item: Any, ctx: Ctx) -> bool | None:
            unknown = False
            for p in parts:
                r = p(item, ctx)
                if r is decisive:
                    return decisive
                if r is None:
                    unknown = True
            return None if unknown else not decisive
        return f
    return combine


_all = _decided_by(False)
_any = _decided_by(True)


def _none(parts: list[Condition]) -> Judge:
    inner = _any(parts)

    def f(item: Any, ctx: Ctx) -> bool | None:
        r = inner(item, ctx)
        return None if r is None else not r
    return f


MAX_ITEM_EVIDENCE = 3


def _quantifier(head: str, path: FactPath, inner: Condition) -> Condition:
    want = head != "for_all"  # the per-item result that decides for_any / for_none

    from_target, last, reverse_last = path.from_target, path.steps[-1][0], path.reverse_last
    # the evidence's description of the check: one for every target unless it must keep the items
    shared = QuantLeaf(head, path)

    def f(item: Any, ctx: Ctx) -> bool | None:
        root = ctx.target if from_target else item
        items, owner = resolve_fast(path, root, ctx.facts)
        saved = ctx.evidence
        if items.__class__ is Missing:
            saved.append((shared, items, owner, None))
            return None
        part = owner.get("_partial") if owner.__class__ is dict else None
        part = part.get(last) if part else None
        if items is None:
            items = []
        if items.__class__ is not list:
            items = [items]
        ql = shared
        if reverse_last:  # the owner does not hold the items: the evidence keeps them
            ql = QuantLeaf(head, path)
            ql.items = items
        unknown = False
        decided: list[Any] | None = None
        kept: list[list[Any]] = []
        for it in items:
            ctx.evidence = []
            r = inner(it, ctx)
            if r is None:
                unknown = True
                kept.append(ctx.evidence)
            elif r is want:
                decided = ctx.evidence
                break
            elif len(kept) < MAX_ITEM_EVIDENCE:
                kept.append(ctx.evidence)
        ctx.evidence = saved
        if decided is not None:
            res: bool | None = head == "for_any"
            saved.append((ql, len(items), owner, res))
            saved.extend(decided)
            return res
        res = None if unknown else (head != "for_any")
        if part and res is not None:  # more items may exist: only a deciding item settles it
            res = None
            saved.append((ql, Missing(
                f"'{path.text}' is only partly known on {owner.get('id', '?')} ({part}): {len(items)} "
                f"item(s) seen, so '{ql.expected_text()}' cannot be decided", True), owner, None))
            for ev in kept[:MAX_ITEM_EVIDENCE]:
                saved.extend(ev)
            return None
        saved.append((ql, len(items), owner, res))
        for ev in kept[:MAX_ITEM_EVIDENCE]:
            saved.extend(ev)
        return res
    return _condition(f, path.kinds | inner.kinds, {path.steps[0][0]} | inner.attrs)


class QuantLeaf:
    """Evidence description of a quantifier (or of ``latest``): the list it ranged over; ``items`` the
    items themselves when the owner does not hold them (a reverse reference, the latest item)."""

    __slots__ = ("path", "op", "shown", "message", "items")

    path: FactPath
    op: str
    shown: str | None  # ``latest``: the field it orders by
    message: None
    items: list[Any] | None

    def __init__(self, op: str, path: FactPath, by: str | None = None) -> None:
        self.op, self.path, self.shown, self.message, self.items = op, path, by, None, None

    def expected_text(self) -> str:
        if self.op == "latest":
            return f"the latest item by {self.shown} passes"
        return {"for_any": "at least one item passes", "for_all": "every item passes",
                "for_none": "no item passes"}[self.op]


def _compile_latest(node: dict[str, Any], jpath: JPath, params: dict[str, Any]) -> Condition:
    """``{latest: PATH, by: FIELD, require: COND}``: COND on the item of the list with the greatest
    FIELD (a time, or a number); the first of equal ones."""
    extra = [k for k in node if k not in ("latest", "by", "require")]
    if extra:
        raise CompileError(jpath + (extra[0], "<key>"), f"'latest' takes by: and require: only, not '{extra[0]}'"
                           + suggest(extra[0], ("by", "require")))
    by = node.get("by")
    if not isinstance(by, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", by):
        raise CompileError(jpath + ("by",) if "by" in node else jpath,
                           "'latest' needs by: FIELD, the item attribute that orders the list (e.g. by: time)")
    if "require" not in node:
        raise CompileError(jpath, "'latest' needs a 'require:' condition evaluated on the latest item")
    path = FactPath(node["latest"], jpath + ("latest",))
    inner = compile_condition(node["require"], jpath + ("require",), params)
    return _latest(path, by, inner)


def latest_item(items: list[Any], by: str) -> tuple[Entity | None, str | None]:
    """(the item with the greatest ``by``, None) or (None, why it cannot be told); (None, None) when
    there are no items. Times are compared as instants; an item without a readable ``by`` is unknown."""
    best: Entity | None = None
    best_key: Any = None
    for it in items:
        if it.__class__ is not dict:
            return None, f"an item is a {type(it).__name__}, not an object"
        v = it.get(by)
        if v is None:
            why = (it.get("_unknown") or {}).get(by) or f"its {by} is not recorded"
            return None, f"the latest item is unknown: {_name_of(it)}: {why}"
        key = _as_time(v) if v.__class__ is str else v if v.__class__ in (int, float) else None
        if key is None:
            return None, f"the latest item is unknown: {_name_of(it)} has an unreadable {by} {v!r}"
        try:
            if best is None or key > best_key:
                best, best_key = it, key
        except TypeError:
            return None, f"the latest item is unknown: {by} mixes times and numbers"
    return best, None


def _latest(path: FactPath, by: str, inner: Condition) -> Condition:
    def f(item: Any, ctx: Ctx) -> bool | None:
        root = ctx.target if path.from_target else item
        items, owner = _resolve(root, path.steps, 0, root, ctx.facts, path.text)
        ql = QuantLeaf("latest", path, by)
        saved = ctx.evidence
        if items.__class__ is Missing:
            saved.append((ql, items, owner, None))
            return None
        part = owner.get("_partial") if owner.__class__ is dict else None
        part = part.get(path.steps[-1][0]) if part else None
        if part:
            saved.append((ql, Missing(f"'{path.text}' is only partly known on {owner.get('id', '?')} ({part}), "
                                      "so the latest item is unknown", True), owner, None))
            return None
        if items is None:
            items = []
        if items.__class__ is not list:
            items = [items]
        best, why = latest_item(items, by)
        if why:
            saved.append((ql, Missing(f"'{path.text}': {why}", True), owner, None))
            return None
        if best is None:
            saved.append((ql, 0, owner, False))
            return False
        ql.items = [best]
        ctx.evidence = []
        r = inner(best, ctx)
        ev = ctx.evidence
        ctx.evidence = saved
        saved.append((ql, len(items), owner, r))
        saved.extend(ev)
        return r
    return _condition(f, path.kinds | inner.kinds, {path.steps[0][0]} | inner.attrs)


def _resolve_value(value: Any, jpath: JPath, params: dict[str, Any]) -> Any:
    """Replace ``{param: NAME}`` (anywhere in the value) by the parameter's value in force."""
    if isinstance(value, dict):
        if set(value) == {"param"}:
            name = value["param"]
            if not isinstance(name, str):
                raise CompileError(jpath + ("param",), "param: takes the name of a declared parameter, "
                                   f"not {type(name).__name__} (e.g. {{param: max_age}})")
            if name not in params:
                raise CompileError(jpath, f"unknown parameter '{name}'" + suggest(name, params)
                                   + " (declare it under parameters:)")
            return params[name]
        return {k: _resolve_value(v, jpath + (k,), params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_value(v, jpath + (i,), params) for i, v in enumerate(value)]
    return value


def _compile_leaf(node: dict[str, Any], jpath: JPath, params: dict[str, Any]) -> Leaf:
    ops = [k for k in node if k in OPERATORS]
    extra = [k for k in node if k not in OPERATORS and k not in LEAF_KEYS]
    if extra:
        k = extra[0]
        raise CompileError(jpath + (k, "<key>"), f"unknown operator '{k}'" + suggest(k, list(OPERATORS) + list(LEAF_KEYS)))
    if len(ops) != 1:
        raise CompileError(jpath, f"a fact condition takes exactly one operator, found "
                                  f"{', '.join(ops) or 'none'} (operators: {', '.join(OPERATORS)})")
    op = ops[0]
    path = FactPath(node["fact"], jpath + ("fact",))
    raw = node[op]
    if isinstance(raw, dict) and set(raw) == {"fact"}:
        if op not in FACT_OPERANDS:
            raise CompileError(jpath + (op,), f"'{op}' compares with a value; another fact ({{fact: PATH}}) can be "
                                              f"compared with {', '.join(FACT_OPERANDS)}")
        other = FactPath(raw["fact"], jpath + (op, "fact"))
        fleaf = FactLeaf(path, op, None, raw, node.get("default"), "default" in node, node.get("message"))
        fleaf.other = other
        fleaf.kinds = path.kinds | other.kinds
        fleaf.attrs = ({path.steps[0][0]} if not path.from_target else set()) | (
            {other.steps[0][0]} if not other.from_target else set())
        return fleaf
    shown = _resolve_value(raw, jpath + (op,), params)
    schema, prep = OPERATORS[op].schema, OPERATORS[op].prep
    _check_type(shown, schema, jpath + (op,), op)
    value = shown
    if prep is not None:
        try:
            value = prep(shown)
        except ValueError as exc:
            raise CompileError(jpath + (op,), f"{op}: {exc}") from None
    if op in ("in", "not_in"):
        with contextlib.suppress(TypeError):  # unhashable items: the list is searched as it is
            value = frozenset(value)
    has_default = "default" in node
    leaf = Leaf(path, op, value, shown, node.get("default"), has_default, node.get("message"))
    leaf.kinds = path.kinds
    leaf.attrs = {path.steps[0][0]} if not path.from_target else set()
    return leaf


_TYPES: dict[str, type | tuple[type, ...]] = {"array": list, "boolean": bool, "string": str, "object": dict, "number": (int, float)}


def _check_type(value: Any, schema: dict[str, Any], jpath: JPath, op: str) -> None:
    t = schema.get("type")
    if t is None:
        return
    types = t if isinstance(t, list) else [t]
    for name in types:
        py = _TYPES[name]
        if isinstance(value, py) and not (name == "number" and isinstance(value, bool)):
            return
    raise CompileError(jpath, f"'{op}' expects {' or '.join(types)}, got {type(value).__name__} {value!r}")
