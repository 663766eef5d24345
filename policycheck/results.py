"""Results of evaluation: Status, Result with its evidence, summary counts, and the Report handed to reporters."""
from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from policycheck.conditions import _name_of
from policycheck.missing import Missing
from policycheck.textutil import describe

if TYPE_CHECKING:
    from policycheck.policy import Policy

#: an evidence item: the tuple (leaf, observed, owner entity, ok) the evaluation appended, or a
#: JSON-ready dict (context facts, merged reports); leaves and observed values are not typed
Evidence = Any

PASS, FAIL, ERROR, SKIP, WAIVED = "pass", "fail", "error", "skip", "waived"
STATUSES = (PASS, FAIL, ERROR, SKIP, WAIVED)
SEVERITIES = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


class Result:
    """One policy judged on one target."""

    __slots__ = ("policy", "target_kind", "target_id", "status", "message", "evidence", "waiver",
                 "baseline", "entity", "_evidence_dicts")

    def __init__(self, policy: Policy, target_kind: str, target_id: str, status: str, message: str,
                 evidence: list[Evidence], entity: dict[str, Any] | None = None) -> None:
        self.policy = policy
        self.target_kind = target_kind
        self.target_id = target_id
        self.status = status
        self.message = message
        self.evidence = evidence  # raw tuples (leaf, observed, owner, ok) or dicts
        self.waiver: dict[str, Any] | None = None
        self.baseline: str | None = None
        self.entity = entity
        self._evidence_dicts: list[dict[str, Any]] | None = None

    @property
    def policy_id(self) -> str:
        return self.policy.id

    @property
    def severity(self) -> str:
        return self.policy.severity

    def evidence_dicts(self) -> list[dict[str, Any]]:
        """The evidence as JSON-ready dicts (made once; every reporter reads the same list)."""
        if self._evidence_dicts is None:
            self._evidence_dicts = [evidence_dict(e) for e in self.evidence]
        return self._evidence_dicts

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"policy_id": self.policy.id, "title": self.policy.title, "severity": self.policy.severity,
             "target_kind": self.target_kind, "target_id": self.target_id, "status": self.status,
             "message": self.message, "evidence": self.evidence_dicts()}
        if self.status in (FAIL, ERROR):
            d["remediation"] = self.policy.remediation
        if self.waiver is not None:
            d["waiver"] = self.waiver
        if self.baseline is not None:
            d["baseline"] = self.baseline
        return d


_SCALARS = (str, int, float, bool, type(None))
_joined_sources: dict[tuple[str, ...], str] = {}


def evidence_dict(e: Evidence) -> dict[str, Any]:
    """One evidence tuple (leaf, observed, owner entity, ok) as a JSON-ready dict."""
    if e.__class__ is dict:
        return e
    leaf, observed, owner, ok = e
    d: dict[str, Any]
    if observed.__class__ is Missing:
        d = {"fact": leaf.path.text, "observed": None, "expected": leaf.expected_text(), "ok": ok,
             "missing": observed.reason}
    else:
        d = {"fact": leaf.path.text,
             "observed": observed if observed.__class__ in _SCALARS else jsonable(observed),
             "expected": leaf.expected_text(), "ok": ok}
    if owner.__class__ is dict:
        d["entity"] = owner.get("id")
        d["source"] = evidence_source(owner, leaf.path.steps[-1][0] if leaf.path.steps else None)
        d["observed_at"] = owner.get("_observed_at")
    return d


def evidence_source(owner: dict[str, Any], attr: str | None) -> str | None:
    """Where an entity's attribute came from: its own source (or derivation), else the entity's sources."""
    srcs = owner.get("_attr_sources")
    src = srcs.get(attr) if srcs and attr else None
    if src is None:
        names = owner.get("_sources")
        if names:
            key = tuple(names)
            src = _joined_sources.get(key)
            if src is None:
                src = _joined_sources.setdefault(key, ", ".join(names))
    return src


def jsonable(v: Any) -> Any:
    """An observed value as JSON shows it: an entity by its id, an item without its ``_`` keys."""
    if isinstance(v, Missing):
        return None
    if isinstance(v, dict) and "id" in v:
        return v["id"]
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items() if not k.startswith("_")}
    return v


WHY_CAP = 600  # characters: the "why" stays one line


def describe_failure(evidence: Sequence[Evidence], unknown_first: bool = True) -> str:
    """One line: the first unknown check (for an error), or every failing check (for a failure: each
    branch of an ``any`` that failed, a quantifier with an item that shows why) with what was observed,
    and for a derived fact what made it so."""
    for e in (evidence if unknown_first else ()):
        if isinstance(e, dict):
            continue
        leaf, observed, owner, ok = e
        if ok is None and isinstance(observed, Missing):
            return str(observed.reason)  # the evaluation's reasons are all str (Missing types it object)
    items = [e for e in evidence if not isinstance(e, dict)]
    fails, others, i = [], 0, 0
    while i < len(items):
        leaf, observed, owner, ok = items[i]
        end = _block_end(items, i) if _is_quant(leaf) else i + 1
        if ok is False:
            fails.append(_quant_text(items, i, end) if _is_quant(leaf) else _leaf_text(leaf, observed, owner))
        else:
            others += 1
        i = end
    if not fails:  # decided by a `none`/`not`: what matched that should not have
        held = [_short(_leaf_text(x[0], x[1], x[2])) for x in items if x[3] is True and not _is_quant(x[0])]
        return _cap("matched what must not: " + "; ".join(held), len(held)) if held else ""
    if len(fails) == 1:
        return _cap(fails[0])
    shown = [_short(f) for f in fails]
    return _cap(("none of: " if not others else "failed: ") + "; ".join(shown), len(shown))


def _is_quant(leaf: object) -> bool:
    return leaf.__class__.__name__ == "QuantLeaf"


def _members(leaf: Any, owner: Any) -> tuple[Any, Collection[Any]]:
    """The items a quantifier ranged over, as its owner holds them (dicts, or ids of entities), or as
    the evidence kept them (a reverse reference's entities, the item ``latest`` chose)."""
    kept = getattr(leaf, "items", None)
    if kept is not None:
        return kept, set()
    attr = leaf.path.steps[-1][0] if leaf.path.steps else None
    raw = owner.get(attr) if owner.__class__ is dict and attr else None
    if raw is None:
        return (), ()
    raw = raw if raw.__class__ is list else [raw]
    return raw, {x for x in raw if isinstance(x, str)}


def _block_end(items: Sequence[Any], i: int) -> int:
    """The end of a quantifier's evidence: the tuples after it whose owner is one of its items."""
    raw, ids = _members(items[i][0], items[i][2])
    j = i + 1
    while j < len(items):
        o = items[j][2]
        if not (any(o is x for x in raw) or (o.__class__ is dict and o.get("id") in ids)):
            break
        j = _block_end(items, j) if _is_quant(items[j][0]) else j + 1
    return j


def _derived_why(leaf: Any, owner: Any) -> str:
    why = (owner.get("_why") or {}).get(leaf.path.steps[-1][0]) if owner.__class__ is dict and leaf.path.steps \
        else None
    if not why:
        return ""
    return " (excluded: " + "; ".join(f"{k} {v}" for k, v in why.items()) + ")"


def _leaf_text(leaf: Any, observed: Any, owner: Any) -> str:
    message: str | None = getattr(leaf, "message", None)  # the policy's own text for the check (a string)
    if message:
        return message
    return f"{leaf.path.text} is {describe(observed, 120)}; expected {leaf.expected_text()}" + _derived_why(leaf, owner)


def _short(text: str) -> str:
    """``X is V; expected E`` as ``X is V (E)`` for a list of alternatives."""
    head, sep, rest = text.partition("; expected ")
    if not sep:
        return text
    exp, sep2, why = rest.partition(" (excluded: ")
    return f"{head} ({exp})" + (f" (excluded: {why}" if sep2 else "")


def _quant_text(items: Sequence[Any], i: int, end: int) -> str:
    leaf, observed, owner, ok = items[i]
    if leaf.op == "latest":
        return _latest_text(leaf, observed, items[i + 1:end])
    head = f"{leaf.path.text}: {leaf.expected_text()} is not met ({observed} items)"
    inner = next((x for x in items[i + 1:end] if x[3] is False and not _is_quant(x[0])), None)
    if leaf.op == "for_none":  # decided by an item that matched: name it and what matched
        hit = next((x for x in items[i + 1:end] if x[3] is True and not _is_quant(x[0])), None)
        if hit is not None and isinstance(hit[2], dict):
            head += f"; {_name_of(hit[2])} matches: {hit[0].path.text} is {describe(hit[1], 80)}"
    elif inner is not None:
        head += f"; e.g. {inner[0].path.text} is {describe(inner[1], 80)}, expected " \
                f"{inner[0].expected_text()}" + (f" (on {inner[2].get('id')})"
                                                 if isinstance(inner[2], dict) and inner[2].get('id') else "")
    return head


def _latest_text(leaf: Any, observed: Any, block: Sequence[Any]) -> str:
    """``latest``: which item was the latest, and what about it failed."""
    if not leaf.items:
        return f"{leaf.path.text} has no item (expected {leaf.expected_text()})"
    head = f"the latest of {leaf.path.text} by {leaf.shown} is {_name_of(leaf.items[0])} (of {observed})"
    inner = next((x for x in block if x[3] is False and not _is_quant(x[0])), None)
    if inner is not None:
        head += ": " + _leaf_text(inner[0], inner[1], inner[2]).replace("; expected ", ", expected ")
        if isinstance(inner[2], dict) and inner[2].get("id") and inner[2] is not leaf.items[0]:
            head += f" (on {inner[2]['id']})"
    return head


def _cap(text: str, n: int = 1) -> str:
    if len(text) <= WHY_CAP:
        return text
    cut = text[: WHY_CAP - 20]
    more = n - cut.count("; ") - 1 if n > 1 else 0
    return cut + "…" + (f" (+{more} more)" if more > 0 else "")


#: how many results have each (policy id, severity, target kind, status)
Tally = Counter[tuple[str, str, str, str]]


def tally(results: Iterable[Result]) -> Tally:
    """The results counted by (policy id, severity, target kind, status), in one pass in C: the summary and
    the per-control counts are both read off it (a Python loop over 500k results took 0.1-0.15 s each)."""
    return Counter(map(attrgetter("policy.id", "policy.severity", "target_kind", "status"), results))


def summarize(results: Sequence[Result], tallied: Tally | None = None) -> dict[str, Any]:
    counts = {s: 0 for s in STATUSES}
    by_sev = {sev: {s: 0 for s in STATUSES} for sev in SEVERITIES}
    for (_, sev, _, status), n in (tally(results) if tallied is None else tallied).items():
        counts[status] += n
        by_sev[sev][status] += n
    return {"total": len(results), **counts, "by_severity": by_sev}


@dataclass
class Report:
    """Everything a reporter needs: results, the sources' status, the policies, the summary."""

    results: list[Result]
    policies: list[Policy]
    sources: list[dict[str, Any]]
    collected_at: str
    generated_at: str
    fail_on: str = "low"
    notes: list[str] = field(default_factory=list)
    waivers: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    tool_version: str = ""
    evaluated_at: dict[str, Any] | None = None  # {"time", "source": collected_at | config as_of | --as-of, "where"}
    frameworks: list[str] | None = None  # --framework: the per-control summary shows only these
    gate: Any = None  # the run's policycheck.gate.Gate, computed once by the pipeline (None: computed on demand)
    #: counts computed once and shared by every copy of the report (each writer gets a copy.copy of it)
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def clock(self) -> dict[str, Any]:
        """The time every age was judged against and where it came from (collected_at by default)."""
        return self.evaluated_at or {"time": self.collected_at, "source": "collected_at", "where": None}

    def clock_text(self) -> str:
        c = self.clock
        src = {"collected_at": "the facts' collected_at", "config as_of": "as_of in the config",
               "--as-of": "--as-of"}.get(c["source"], c["source"])
        return f"{c['time']} (from {src}{', ' + c['where'] if c.get('where') else ''})"

    def tally(self) -> Tally:
        """:func:`tally` of the results, counted once (again only if results were added since)."""
        cached = self.memo.get("tally")
        if cached is None or cached[0] != len(self.results):
            cached = self.memo["tally"] = (len(self.results), tally(self.results))
        return cached[1]

    @property
    def summary(self) -> dict[str, Any]:
        return summarize(self.results, self.tally())

    @property
    def controls(self) -> list[dict[str, Any]]:
        """The per-control summary: each control of the evaluated policies (only --framework's
        frameworks when given), its policies and their pass/fail/error/skip/waived counts."""
        key = (len(self.results), tuple(self.frameworks or ()))
        cached = self.memo.get("controls")
        if cached is None or cached[0] != key:
            from policycheck.controls import control_summary

            cached = self.memo["controls"] = (key, control_summary(self.results, self.policies, self.frameworks,
                                                                   self.tally()))
        rows: list[dict[str, Any]] = cached[1]
        return rows


_jsonable = jsonable  # the older private name (policy.py)
