"""The derivation registry: :class:`Derivation` (one derived attribute, the inputs it reads, its doc),
the ordering of derivations by their inputs, and running them over merged facts."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from policycheck.errors import ConfigError
from policycheck.facts import Facts

Key = tuple[str, str]


@dataclass(frozen=True)
class Derivation:
    """One derived attribute: ``attr`` of ``kind`` (an entity kind, or an item scope such as ``copy``
    or ``disk``), computed by ``fn(facts)`` from ``inputs`` ((kind, attribute) pairs it reads).

    Several derivations may share one ``fn`` (a function that computes related attributes in one
    pass); it runs once. ``fn`` fills only what is absent and makes its output unknown (``_unknown``)
    or partial (``_partial``) with the reason when an input is; it records where its value came from
    with :func:`policycheck.derivations.base.derived`."""

    kind: str
    attr: str
    inputs: tuple[Key, ...]
    fn: Callable[[Facts], None] = field(compare=False)
    doc: str
    example: str = ""
    plugin: str = "core"

    @property
    def key(self) -> Key:
        return (self.kind, self.attr)

    @property
    def name(self) -> str:
        return f"{self.kind}.{self.attr}"


class DerivationError(ConfigError):
    """Derivations that cannot run: two that produce the same attribute, or a cycle between them (the
    installed plugins' fault, so a configuration error: exit 2)."""


def _steps(derivs: Sequence[Derivation]) -> list[list[Derivation]]:
    """The derivations grouped by function (one step per function), in registration order."""
    steps: dict[int, list[Derivation]] = {}
    for d in derivs:
        steps.setdefault(id(d.fn), []).append(d)
    return list(steps.values())


def order(derivs: Sequence[Derivation]) -> list[list[Derivation]]:
    """The steps (derivations sharing a function) in an order where each runs after every step whose
    output it reads; ties keep registration order. Raises DerivationError on a cycle (naming both
    derivations) or on one attribute produced twice."""
    producer: dict[Key, Derivation] = {}
    for d in derivs:
        if d.key in producer and producer[d.key].fn is not d.fn:
            raise DerivationError(f"derived attribute {d.name} is produced by two derivations "
                                  f"({producer[d.key].plugin} and {d.plugin})")
        producer[d.key] = d
    steps = _steps(derivs)
    index = {id(s[0].fn): i for i, s in enumerate(steps)}
    needs: list[set[int]] = []
    why: dict[tuple[int, int], tuple[Derivation, Derivation]] = {}
    for i, step in enumerate(steps):
        deps: set[int] = set()
        for d in step:
            for inp in d.inputs:
                p = producer.get(inp)
                if p is None:
                    continue
                j = index[id(p.fn)]
                if j != i:
                    deps.add(j)
                    why.setdefault((i, j), (d, p))
        needs.append(deps)
    done: list[int] = []
    state = [0] * len(steps)  # 0 new, 1 on the stack, 2 placed

    def visit(i: int, trail: list[int]) -> None:
        if state[i] == 2:
            return
        if state[i] == 1:
            j = trail[trail.index(i) + 1] if trail.index(i) + 1 < len(trail) else i
            a, b = why[(i, j)]
            raise DerivationError(f"derivations form a cycle: {a.name} ({a.plugin}) reads {b.name}, and "
                                  f"{b.name} ({b.plugin}) reads, through its inputs, {a.name}")
        state[i] = 1
        trail.append(i)
        for j in sorted(needs[i]):
            visit(j, trail)
        trail.pop()
        state[i] = 2
        done.append(i)

    for i in range(len(steps)):
        visit(i, [])
    return [steps[i] for i in done]


def run(facts: Facts, derivs: Sequence[Derivation]) -> None:
    """Run every derivation over ``facts`` in input order (each function once)."""
    for step in order(derivs):
        step[0].fn(facts)


def derived_from(derivs: Iterable[Derivation]) -> dict[Key, set[str]]:
    """(kind, attribute) -> the entity kinds its value depends on, through derived inputs too (a failed
    source of those kinds makes policies reading the attribute report error, not pass)."""
    table = {d.key: d for d in derivs}
    out: dict[Key, set[str]] = {}

    def kinds(key: Key, seen: set[Key]) -> set[str]:
        acc: set[str] = set()
        for inp in table[key].inputs:
            acc.add(ITEM_OWNERS.get(inp[0], inp[0]))
            if inp in table and inp not in seen:
                seen.add(inp)
                acc |= kinds(inp, seen)
        return acc

    for key in table:
        out[key] = kinds(key, {key})
    return out


#: item scopes and the entity kind whose lists hold them
ITEM_OWNERS = {"copy": "bootstrap", "disk": "vm", "host_rule": "vm", "snapshot": "vm",
               "passthrough_device": "vm"}


def collect(hook_results: Iterable[Any]) -> list[Derivation]:
    """Flatten the lists the ``policycheck_derivations`` hook returned (one per plugin)."""
    out: list[Derivation] = []
    for res in hook_results:
        for d in res or ():
            if not isinstance(d, Derivation):
                raise DerivationError(f"policycheck_derivations returned {type(d).__name__}, not a Derivation")
            out.append(d)
    return out


def markdown_table(derivs: Iterable[Derivation]) -> str:
    """The derived attributes as docs/facts.md lists them (tests/test_derivations.py keeps the two equal;
    regenerate with ``POLICYCHECK_UPDATE_GOLDEN=1 python -m pytest tests/test_derivations.py``)."""
    rows = ["| derived attribute | what it is | inputs | example |", "|---|---|---|---|"]
    for d in derivs:
        inputs = ", ".join(f"{k}.{a}" for k, a in d.inputs)
        rows.append(f"| `{d.kind}.{d.attr}` | {d.doc} | {inputs} | {d.example} |")
    return "\n".join(rows) + "\n"
