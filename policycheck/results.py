"""Results of evaluation: Status, Result with its evidence, summary counts, and the Report handed to reporters."""
from __future__ import annotations

from dataclasses import dataclass, field

from policycheck.conditions import Missing, describe

PASS, FAIL, ERROR, SKIP, WAIVED = "pass", "fail", "error", "skip", "waived"
STATUSES = (PASS, FAIL, ERROR, SKIP, WAIVED)
SEVERITIES = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


class Result:
    """One policy judged on one target."""

    __slots__ = ("policy", "target_kind", "target_id", "status", "message", "evidence", "waiver",
                 "baseline", "entity", "_evidence_dicts")

    def __init__(self, policy, target_kind, target_id, status, message, evidence, entity=None):
        self.policy = policy
        self.target_kind = target_kind
        self.target_id = target_id
        self.status = status
        self.message = message
        self.evidence = evidence  # raw tuples (leaf, observed, owner, ok) or dicts
        self.waiver = None
        self.baseline = None
        self.entity = entity
        self._evidence_dicts = None

    @property
    def policy_id(self):
        return self.policy.id

    @property
    def severity(self):
        return self.policy.severity

    def evidence_dicts(self) -> list:
        """The evidence as JSON-ready dicts (made once; every reporter reads the same list)."""
        if self._evidence_dicts is None:
            self._evidence_dicts = [evidence_dict(e) for e in self.evidence]
        return self._evidence_dicts

    def to_dict(self) -> dict:
        d = {"policy_id": self.policy.id, "title": self.policy.title, "severity": self.policy.severity,
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
_joined_sources: dict = {}


def evidence_dict(e) -> dict:
    """One evidence tuple (leaf, observed, owner entity, ok) as a JSON-ready dict."""
    if e.__class__ is dict:
        return e
    leaf, observed, owner, ok = e
    if observed.__class__ is Missing:
        d = {"fact": leaf.path.text, "observed": None, "expected": leaf.expected_text(), "ok": ok,
             "missing": observed.reason}
    else:
        d = {"fact": leaf.path.text,
             "observed": observed if observed.__class__ in _SCALARS else _jsonable(observed),
             "expected": leaf.expected_text(), "ok": ok}
    if owner.__class__ is dict:
        d["entity"] = owner.get("id")
        d["source"] = evidence_source(owner, leaf.path.steps[-1][0] if leaf.path.steps else None)
        d["observed_at"] = owner.get("_observed_at")
    return d


def evidence_source(owner: dict, attr):
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


def _jsonable(v):
    if isinstance(v, Missing):
        return None
    if isinstance(v, dict) and "id" in v:
        return v["id"]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items() if not k.startswith("_")}
    return v


def describe_failure(evidence, unknown_first=True) -> str:
    """One line: the first unknown (or, for a failure, the first failing) check and what was observed."""
    for e in (evidence if unknown_first else ()):
        if isinstance(e, dict):
            continue
        leaf, observed, owner, ok = e
        if ok is None and isinstance(observed, Missing):
            return observed.reason
    items = [e for e in evidence if not isinstance(e, dict)]
    for i, (leaf, observed, owner, ok) in enumerate(items):
        if ok is False:
            if getattr(leaf, "message", None):
                return leaf.message
            if leaf.path.__class__.__name__ == "FactPath" and leaf.op in ("for_any", "for_all", "for_none"):
                head = f"{leaf.path.text}: {leaf.expected_text()} is not met ({observed} items)"
                inner = next((x for x in items[i + 1:] if x[3] is False), None)
                if inner is not None:
                    head += f"; e.g. {inner[0].path.text} is {describe(inner[1], 80)}, expected " \
                            f"{inner[0].expected_text()}" + (f" (on {inner[2].get('id')})"
                                                             if isinstance(inner[2], dict) and inner[2].get('id') else "")
                return head
            return f"{leaf.path.text} is {describe(observed, 120)}; expected {leaf.expected_text()}"
    return ""


def summarize(results) -> dict:
    counts = {s: 0 for s in STATUSES}
    by_sev = {sev: {s: 0 for s in STATUSES} for sev in SEVERITIES}
    for r in results:
        counts[r.status] += 1
        by_sev[r.policy.severity][r.status] += 1
    return {"total": len(results), **counts, "by_severity": by_sev}


@dataclass
class Report:
    """Everything a reporter needs: results, the sources' status, the policies, the summary."""

    results: list
    policies: list
    sources: list
    collected_at: str
    generated_at: str
    fail_on: str = "low"
    notes: list = field(default_factory=list)
    waivers: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    tool_version: str = ""
    evaluated_at: dict | None = None  # {"time", "source": collected_at | config as_of | --as-of, "where"}
    frameworks: list | None = None  # --framework: the per-control summary shows only these

    @property
    def clock(self) -> dict:
        """The time every age was judged against and where it came from (collected_at by default)."""
        return self.evaluated_at or {"time": self.collected_at, "source": "collected_at", "where": None}

    def clock_text(self) -> str:
        c = self.clock
        src = {"collected_at": "the facts' collected_at", "config as_of": "as_of in the config",
               "--as-of": "--as-of"}.get(c["source"], c["source"])
        return f"{c['time']} (from {src}{', ' + c['where'] if c.get('where') else ''})"

    @property
    def summary(self):
        return summarize(self.results)

    @property
    def controls(self) -> list:
        """The per-control summary: each control of the evaluated policies (only --framework's
        frameworks when given), its policies and their pass/fail/error/skip/waived counts."""
        if getattr(self, "_controls", None) is None:
            from policycheck.controls import control_summary

            self._controls = control_summary(self.results, self.policies, self.frameworks)
        return self._controls
