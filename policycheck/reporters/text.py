"""The human reports: ``text`` (audit: grouped by severity, evidence and remediation) and ``brief``
(check: one line per problem, for CI logs)."""
from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from policycheck import hookimpl
from policycheck.api import Reporter
from policycheck.results import (
    ERROR,
    FAIL,
    PASS,
    SEVERITIES,
    SEVERITY_RANK,
    SKIP,
    STATUSES,
    WAIVED,
    evidence_source,
)
from policycheck.textsafe import guard
from policycheck.textsafe import line as _v  # every value printed: one line, controls made visible
from policycheck.textutil import describe

if TYPE_CHECKING:
    from policycheck.results import Report, Result

COLORS = {FAIL: "31", ERROR: "35", PASS: "32", SKIP: "90", WAIVED: "36", "head": "1"}


def _c(report: Report, key: str, text: str) -> str:
    if not report.options.get("color"):
        return text
    return f"\033[{COLORS[key]}m{text}\033[0m"


def _sources(report: Report) -> list[str]:
    lines = []
    for s in report.sources:
        if s.get("status") == "ok":
            lines.append(f"  {_v(s['name'])} ({_v(s.get('plugin', '?'))}): ok, {s.get('objects', 0)} objects")
        else:
            lines.append(f"  {_v(s['name'])} ({_v(s.get('plugin', '?'))}): " + _c(report, ERROR, "ERROR")
                         + f" {_v(s.get('error'))}")
    return lines


def summary_line(report: Report) -> str:
    s = report.summary
    return (f"{s['pass']} passed, {s['fail']} failed, {s['error']} errors, {s['skip']} skipped, "
            f"{s['waived']} waived ({s['total']} results)")


def _evidence_lines(r: Result, indent: str = "        ") -> list[str]:
    out = []
    for e in r.evidence_dicts():
        if e.get("ok") is True and r.status != PASS:
            continue
        obs = e.get("missing") and f"missing ({e['missing']})" or describe(e.get("observed"), 160)
        where = []
        if e.get("entity"):
            where.append(f"on {e['entity']}")
        if e.get("source"):
            where.append(f"source {e['source']}")
        if e.get("observed_at"):
            where.append(f"observed {e['observed_at']}")
        out.append(f"{indent}{_v(e['fact'])} = {_v(obs)}; expected {_v(e['expected'])}"
                   + (f"  [{_v(', '.join(where))}]" if where else ""))
    return out


def _where(r: Result) -> str:
    """The decisive evidence's whereabouts (entity, source, observation time), for a target's one line."""
    want = None if r.status == ERROR else False
    ev = r.evidence  # the tuples: read in place (no evidence dict for 100k failing targets)
    e = next((x for x in ev if _ok(x) is want), None) or next((x for x in ev if _ok(x) is not True), None)
    if not e:
        return ""
    if e.__class__ is dict:
        entity, source, seen = e.get("entity"), e.get("source"), e.get("observed_at")
    else:  # what evidence_dict would say of the tuple (leaf, observed, owner, ok)
        leaf, owner = e[0], e[2]
        if owner.__class__ is not dict:
            return ""
        steps = leaf.path.steps
        entity, source, seen = (owner.get("id"), evidence_source(owner, steps[-1][0] if steps else None),
                                owner.get("_observed_at"))
    where = [f"on {entity}"] if entity else []
    if source:
        where.append(f"source {source}")
    if seen:
        where.append(f"observed {seen}")
    return f"  [evidence: {_v(', '.join(where))}]" if where else ""


def _ok(e: Any) -> bool | None:
    """An evidence item's verdict, from its tuple (leaf, observed, owner, ok) or its dict."""
    return e.get("ok") if e.__class__ is dict else e[3]


def _short_rationale(text: str | None, limit: int = 200) -> str:
    text = " ".join((text or "").split())
    first = text.split(". ")[0].rstrip(".")
    if len(first) > limit:
        return first[: limit - 1] + "…"
    return first + "." if first else ""


def _target_line(report: Report, r: Result) -> str:
    tag = _c(report, r.status, f"{r.status.upper():5}")
    line = f"    {tag} {_v(r.policy.id)} {_v(r.target_kind)}:{_v(r.target_id)}  {_v(r.message)}" + _where(r)
    if r.baseline:
        line += f"  [baseline: {_v(r.baseline)}]"
    return line


def rollup(report: Report) -> dict[str, dict[str, Any]]:
    """Per policy id: the policy and its pass/fail/error/skip/waived counts (every evaluated policy)."""
    rows: dict[str, dict[str, Any]] = {p.id: {"policy": p, **{s: 0 for s in STATUSES}} for p in report.policies}
    for (pid, _, _, status), n in report.tally().items():
        row = rows.get(pid)
        if row is None:  # a result of a policy the report does not list: the first such result's policy
            policy = next(r.policy for r in report.results if r.policy.id == pid)
            row = rows[pid] = {"policy": policy, **{s: 0 for s in STATUSES}}
        row[status] += n
    return rows


def _rollup_lines(report: Report, rows: dict[str, dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    order = sorted(rows.values(), key=lambda x: (-SEVERITY_RANK.get(x["policy"].severity, 0), x["policy"].id))
    w = max(6, *(len(_v(x["policy"].id)) for x in order))
    out = ["", _c(report, "head", "POLICIES") + " (results per policy)",
           f"  {'policy':{w}}  {'severity':8}  {'pass':>5} {'fail':>5} {'error':>5} {'skip':>5} {'waived':>6}  title"]
    for x in order:
        p = x["policy"]
        out.append(f"  {_v(p.id):{w}}  {p.severity:8}  {x[PASS]:5} {x[FAIL]:5} {x[ERROR]:5} {x[SKIP]:5} "
                   f"{x[WAIVED]:6}  {_v(p.title)}")
    return out


def _counts(x: dict[str, Any], keys: Iterable[str] = (FAIL, ERROR, PASS, SKIP, WAIVED)) -> str:
    names = {FAIL: "failed", ERROR: "errors", PASS: "passed", SKIP: "not applicable", WAIVED: "waived"}
    return ", ".join(f"{x[k]} {names[k]}" for k in keys if x[k])


def render_text(report: Report) -> str:
    lines = [_c(report, "head", f"policycheck {report.tool_version}: audit of {len(report.policies)} policies "
                f"(facts collected {_v(report.collected_at)})")]
    lines.append(f"Judged as of {_v(report.clock_text())}")
    if report.sources:
        lines.append("Sources:")
        lines += _sources(report)
    for n in report.notes:
        lines.append(f"note: {_v(n)}")
    verbose = report.options.get("verbose")
    rows = rollup(report)
    lines += _rollup_lines(report, rows)
    by_status: dict[str, list[Result]] = {s: [] for s in STATUSES}
    for r in report.results:  # one pass; each list keeps the results' order
        by_status[r.status].append(r)
    by_policy: dict[str, dict[str, list[Result]]] = {}
    for status in (FAIL, ERROR):
        for r in by_status[status]:
            by_policy.setdefault(r.policy.id, {}).setdefault(status, []).append(r)
    for sev in reversed(SEVERITIES):
        group = sorted((x for x in rows.values() if x["policy"].severity == sev and (x[FAIL] or x[ERROR])),
                       key=lambda x: x["policy"].id)
        if not group:
            continue
        lines.append("")
        lines.append(_c(report, "head", sev.upper()))
        for x in group:
            p = x["policy"]
            lines.append(f"  {_c(report, 'head', _v(p.id))}  {_v(p.title)}  ({sev}; {_counts(x)})")
            why = _short_rationale(p.rationale)
            if why:
                lines.append(f"    rationale: {_v(why)}")
            fix = textwrap.fill(" ".join((p.remediation or "").split()), 96, initial_indent="    fix: ",
                                subsequent_indent="         ")  # line breaks became spaces
            lines += [_v(ln) for ln in fix.split("\n")]
            mine = by_policy.get(p.id, {})
            for status in (FAIL, ERROR):
                for r in sorted(mine.get(status, ()), key=lambda r: (r.target_kind, str(r.target_id))):
                    lines.append(_target_line(report, r))
    waived = by_status[WAIVED]
    if waived:
        lines.append("")
        lines.append(_c(report, "head", "WAIVED"))
        for w in report.waivers:
            if w.get("state") == "active" and len(w.get("targets") or ()) > 1:
                lines.append(f"  waiver {_v(w.get('where'))} ({_v(w.get('policy'))} {_v(w.get('target'))}, match: "
                             f"{_v(w.get('match', 'one'))}) waived {len(w['targets'])} target(s): "
                             + _v(", ".join(w["targets"])))
        for r in waived:
            w = r.waiver or {}
            lines.append(f"  {_c(report, WAIVED, 'WAIVED')} {_v(r.policy.id)} {_v(r.target_kind)}:{_v(r.target_id)}  "
                         f"{_v(w.get('reason', ''))} (owner {_v(w.get('owner', '?'))}, "
                         f"expires {_v(w.get('expires', '?'))})")
    skipped = by_status[SKIP]
    if skipped:
        lines.append("")
        lines.append(_c(report, "head", "NOT APPLICABLE"))
        if verbose:
            for r in skipped:
                lines.append(f"  {_c(report, SKIP, 'SKIP ')} {_v(r.policy.id)} {_v(r.target_kind)}:{_v(r.target_id)}  "
                             f"{_v(r.message)}")
        else:  # one line per policy and reason
            reasons: dict[tuple[Any, Any], list[Result]] = {}
            for r in skipped:
                reasons.setdefault((r.policy.id, r.message), []).append(r)
            for (pid, msg), rs in sorted(reasons.items(), key=lambda kv: (kv[0][0], -len(kv[1]), kv[0][1])):
                who = (f"{_v(rs[0].target_kind)}:{_v(rs[0].target_id)}" if len(rs) == 1
                       else f"{len(rs)} {_v(rs[0].target_kind)} targets")
                lines.append(f"  {_c(report, SKIP, 'SKIP ')} {_v(pid)} {who}  {_v(msg)}")
    passed = by_status[PASS]
    if passed:
        lines.append("")
        if verbose:
            lines.append(_c(report, "head", "PASSED"))
            for r in passed:
                lines.append(f"  {_c(report, PASS, 'PASS ')} {_v(r.policy.id)} {_v(r.target_kind)}:{_v(r.target_id)}  "
                             f"{_v(r.policy.title)}")
                lines += ["  " + x for x in _evidence_lines(r)]
        else:
            counts = [f"{_v(pid)} {x[PASS]}" for pid, x in sorted(rows.items()) if x[PASS]]
            lines.append(_c(report, "head", "PASSED") + f" {len(passed)} results (per policy: "
                         + ", ".join(counts) + "; -v lists them)")
    lines += control_lines(report)
    lines.append("")
    lines.append(_c(report, "head", "Summary: ") + summary_line(report))
    return guard("\n".join(lines) + "\n")


def control_lines(report: Report) -> list[str]:
    """The per-control summary: one line per control with its policies and their counts."""
    rows = report.controls
    if not rows:
        return []
    out = ["", _c(report, "head", "CONTROLS") + " (pass/fail/error per control, from the policies mapped to it)"]
    width = max(len(f"{r['framework']} {r['control']}") for r in rows)
    for r in rows:
        name = f"{r['framework']} {r['control']}"
        status = FAIL if r[FAIL] else ERROR if r[ERROR] else PASS
        mark = _c(report, status, f"{status.upper():5}")
        out.append(f"  {mark} {_v(name):{width}}  {r[PASS]} pass, {r[FAIL]} fail, {r[ERROR]} error"
                   + (f", {r[WAIVED]} waived" if r[WAIVED] else "") + f"  ({_v(', '.join(r['policies']))})")
    return out


def render_brief(report: Report) -> str:
    lines = []
    for s in report.sources:
        if s.get("status") != "ok":
            lines.append(f"SOURCE-ERROR {_v(s['name'])} ({_v(s.get('plugin'))}): {_v(s.get('error'))}")
    for r in report.results:
        if r.status in (FAIL, ERROR):
            lines.append(f"{r.status.upper():5} {r.policy.severity:8} {_v(r.policy.id)} "
                         f"{_v(r.target_kind)}:{_v(r.target_id)}: {_v(r.message)}")
        elif r.status == WAIVED:
            w = r.waiver or {}
            lines.append(f"WAIVED {r.policy.severity:8} {_v(r.policy.id)} {_v(r.target_kind)}:{_v(r.target_id)}: "
                         f"{_v(w.get('reason'))} (owner {_v(w.get('owner'))}, expires {_v(w.get('expires'))})")
    lines.append(f"judged as of {_v(report.clock_text())}")
    lines.append(summary_line(report))
    return guard("\n".join(lines) + "\n")


@hookimpl
def policycheck_reporters() -> list[Reporter]:
    return [Reporter("text", render_text, "txt", "the audit report: a roll-up per policy, then failures and errors grouped by policy"),
            Reporter("brief", render_brief, "txt", "one line per failure or error, then the summary (CI logs)")]
