"""What every derivation uses: set a derived value crediting its inputs' sources, mark an output
unknown or partial with the reason, and tell why an input is unknown."""
from __future__ import annotations

from itertools import repeat
from typing import Any

from policycheck.facts import Facts, norm

#: an entity, or an item of one (a copy, a disk): a mapping of attribute -> fact value
Entity = dict[str, Any]

#: an input of a derived value: an entity or item (its sources), or (entity, attribute) (where that
#: attribute came from), or a source name
Input = Any

_PREFIX = "derived from "
_texts: dict[tuple[Any, ...], str] = {}


def _text_of(key: tuple[Any, ...]) -> str:
    """The source text for the raw source values of the inputs (strings as ``_attr_sources`` holds
    them, tuples of ``_sources`` names)."""
    names: list[str] = []
    for raw in key:
        if raw.__class__ is tuple:
            parts: Any = raw
        elif raw.startswith(_PREFIX):
            parts = raw[len(_PREFIX):].split(", ")
        elif raw.startswith("derived"):
            continue
        else:
            parts = raw.split(", ")
        for n in parts:
            if n not in names:
                names.append(n)
    names.sort()
    return _PREFIX + ", ".join(names) if names else "derived"


_one: dict[Any, str] = {}  # raw source (a string, or a tuple of names) -> its text


def _raw(inp: Input) -> Any:
    """One input's raw source: its ``_attr_sources`` string, a tuple of its ``_sources`` names, a
    source name, or None."""
    cls = inp.__class__
    if cls is tuple:
        ent, attr = inp
        if ent.__class__ is not dict:
            return None
        srcs = ent.get("_attr_sources")
        src = srcs.get(attr) if srcs else None
        if src is not None:
            return src
        inp, cls = ent, dict
    if cls is dict:
        names = inp.get("_sources")
        return tuple(names) if names else None
    return inp if cls is str else None


def source_text(inputs: tuple[Input, ...]) -> str:
    """``derived from a, b`` naming the sources of the inputs, or ``derived`` when none is known.
    (Called for every derived value: the raw sources are looked up once per distinct combination.)"""
    if len(inputs) == 1:  # the common case: one input, looked up without building a key list
        raw = _raw(inputs[0])
        if raw is None:
            return "derived"
        text = _one.get(raw)
        if text is None:
            text = _one[raw] = _text_of((raw,))
        return text
    key: list[Any] = []
    add = key.append
    for inp in inputs:
        cls = inp.__class__
        if cls is tuple:
            ent, attr = inp
            if ent.__class__ is not dict:
                continue
            srcs = ent.get("_attr_sources")
            src = srcs.get(attr) if srcs else None
            if src is not None:
                add(src)
                continue
            inp, cls = ent, dict
        if cls is dict:
            names = inp.get("_sources")
            if names:
                add(tuple(names))
        elif cls is str:
            add(inp)
    k = tuple(key)
    text = _texts.get(k)
    if text is None:
        text = _texts[k] = _text_of(k)
    return text


def is_derived_source(src: object) -> bool:
    """Whether an ``_attr_sources`` value says the attribute was derived (by the core or a plugin)."""
    return isinstance(src, str) and (src == "derived" or src.startswith(_PREFIX) or src.startswith("derived:"))


def derived(e: Entity, attr: str, value: Any, *inputs: Input, text: str | None = None) -> None:
    """Set a derived attribute; its evidence source names the sources of ``inputs`` (or is ``text``,
    which starts with "derived")."""
    e[attr] = value
    e.setdefault("_attr_sources", {})[attr] = text or source_text(inputs)


def why_unknown(e: Entity, attr: str, default: str) -> str:
    """The reason an entity's attribute is unknown: a conflict between sources, a source's own
    reason, or ``default``."""
    conflicts = (e.get("_conflicts") or {}).get(attr)
    if conflicts:
        vals = ", ".join(f"{c['value']!r} ({c['source']})" for c in conflicts)
        return f"sources disagree on {attr} of {e['id']}: {vals}"
    return (e.get("_unknown") or {}).get(attr) or default


def unknown(e: Entity, attr: str, reason: str) -> None:
    """Mark a derived attribute unknown with the reason (the first reason stands)."""
    e.setdefault("_unknown", {}).setdefault(attr, reason)


def has(e: Entity, attr: str) -> bool:
    """The attribute is present, or a source already said it is unknown: never derive over either."""
    return attr in e or attr in (e.get("_unknown") or ())


def lacking(ents: list[Entity], attr: str) -> bool:
    """Whether some entity may lack ``attr`` (:func:`has` is false of it): a derivation gathers what
    feeds ``attr`` only then (a snapshot `collect` wrote holds every derived fact already). Never
    raises: an entity whose ``_unknown`` is not an object counts as lacking it."""
    if all(map(dict.__contains__, ents, repeat(attr))):
        return False  # the common case, in one C pass: every entity has it
    for e in ents:
        if attr not in e:
            unk = e.get("_unknown")
            if unk.__class__ is not dict or attr not in unk:
                return True
    return False


def partial(e: Entity, attr: str, reason: str) -> None:
    """Mark a derived list as seen only in part, with the reason."""
    e.setdefault("_partial", {}).setdefault(attr, reason)


def kind_sources(facts: Facts, kind: str) -> list[str]:
    """The working sources that provide ``kind`` (a derived "none" credits them)."""
    return [str(s["name"]) for s in facts.sources
            if s.get("status") == "ok" and kind in (s.get("kinds") or ()) and s.get("name")]


def kind_inputs(facts: Facts, kind: str) -> tuple[str, ...]:
    """The working sources of ``kind``, as the inputs of a value derived from what they list (or lack)."""
    return tuple(kind_sources(facts, kind))


def same_host(facts: Facts, a: Any, b: Any) -> bool:
    """Whether two host names (ids, aliases, short or qualified names) name the same machine."""
    if a is None or b is None:
        return False
    if a == b:
        return True
    idx = facts.alias_index("host")
    ca, cb = idx.lookup(a), idx.lookup(b)
    if ca is not None and ca == cb:
        return True
    na, nb = norm(a), norm(b)
    return na == nb or na.split(".", 1)[0] == nb.split(".", 1)[0] and ("." not in na or "." not in nb)
