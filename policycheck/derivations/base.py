"""What every derivation uses: set a derived value crediting its inputs' sources, mark an output
unknown or partial with the reason, and tell why an input is unknown."""
from __future__ import annotations

from typing import Any

from policycheck.facts import Facts, norm

#: an input of a derived value: an entity or item (its sources), or (entity, attribute) (where that
#: attribute came from), or a source name
Input = Any

_PREFIX = "derived from "
_texts: dict[tuple[str, ...], str] = {}


def _names(inp: Input, out: list[str]) -> None:
    if inp is None:
        return
    if isinstance(inp, str):
        if inp not in out:
            out.append(inp)
        return
    if isinstance(inp, tuple):
        ent, attr = inp
        if not isinstance(ent, dict):
            return
        src = (ent.get("_attr_sources") or {}).get(attr)
        if src is not None:
            if src.startswith(_PREFIX):
                src = src[len(_PREFIX):]
            elif src.startswith("derived"):
                return
            for n in src.split(", "):
                if n not in out:
                    out.append(n)
            return
        inp = ent
    if isinstance(inp, dict):
        for n in inp.get("_sources") or ():
            if n not in out:
                out.append(n)


def source_text(inputs: tuple[Input, ...]) -> str:
    """``derived from a, b`` naming the sources of the inputs, or ``derived`` when none is known."""
    names: list[str] = []
    for inp in inputs:
        _names(inp, names)
    key = tuple(sorted(names))
    text = _texts.get(key)
    if text is None:
        text = _texts.setdefault(key, _PREFIX + ", ".join(key) if key else "derived")
    return text


def is_derived_source(src: object) -> bool:
    """Whether an ``_attr_sources`` value says the attribute was derived (by the core or a plugin)."""
    return isinstance(src, str) and (src == "derived" or src.startswith(_PREFIX) or src.startswith("derived:"))


def derived(e: dict, attr: str, value: Any, *inputs: Input, text: str | None = None) -> None:
    """Set a derived attribute; its evidence source names the sources of ``inputs`` (or is ``text``,
    which starts with "derived")."""
    e[attr] = value
    e.setdefault("_attr_sources", {})[attr] = text or source_text(inputs)


def why_unknown(e: dict, attr: str, default: str) -> str:
    """The reason an entity's attribute is unknown: a conflict between sources, a source's own
    reason, or ``default``."""
    conflicts = (e.get("_conflicts") or {}).get(attr)
    if conflicts:
        vals = ", ".join(f"{c['value']!r} ({c['source']})" for c in conflicts)
        return f"sources disagree on {attr} of {e['id']}: {vals}"
    return (e.get("_unknown") or {}).get(attr) or default


def unknown(e: dict, attr: str, reason: str) -> None:
    """Mark a derived attribute unknown with the reason (the first reason stands)."""
    e.setdefault("_unknown", {}).setdefault(attr, reason)


def has(e: dict, attr: str) -> bool:
    """The attribute is present, or a source already said it is unknown: never derive over either."""
    return attr in e or attr in (e.get("_unknown") or ())


def partial(e: dict, attr: str, reason: str) -> None:
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
