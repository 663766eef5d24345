"""The human reports: ``text`` (audit: grouped by severity, evidence and remediation) and ``brief``
(check: one line per problem, for CI logs)."""
from __future__ import annotations

import textwrap

from policycheck import hookimpl
from policycheck.api import Reporter
from policycheck.conditions import describe
from policycheck.results import ERROR, FAIL, PASS, SEVERITIES, SKIP, WAIVED
from policycheck.textsafe import guard
from policycheck.textsafe import line as _v  # every value printed: one line, controls made visible

COLORS = {FAIL: "31", ERROR: "35", PASS: "32", SKIP: "90", WAIVED: "36", "head": "1"}


def _c(report, key, text):
    if not report.options.get("color"):
        return text
    return f"\033[{COLORS[key]}m{text}\033[0m"


def _sources(report):
    lines = []
    for s in report.sources:
        if s.get("status") == "ok":
            lines.append(f"  {_v(s['name'])} ({_v(s.get('plugin', '?'))}): ok, {s.get('objects', 0)} objects")
        else:
            lines.append(f"  {_v(s['name'])} ({_v(s.get('plugin', '?'))}): " + _c(report, ERROR, "ERROR")
                         + f" {_v(s.get('error'))}")
    return lines


def summary_line(report) -> str:
    s = report.summary
    return (f"{s['pass']} passed, {s['fail']} failed, {s['error']} errors, {s['skip']} skipped, "
            f"{s['waived']} waived ({s['total']} results)")


def _evidence_lines(r, indent="        "):
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


def render_text(report) -> str:
    lines = [_c(report, "head", f"policycheck {report.tool_version}: audit of {len(report.policies)} policies "
                f"(facts collected {_v(report.collected_at)})")]
    lines.append(f"Judged as of {_v(report.clock_text())}")
    if report.sources:
        lines.append("Sources:")
        lines += _sources(report)
    for n in report.notes:
        lines.append(f"note: {_v(n)}")
    problems = [r for r in report.results if r.status in (FAIL, ERROR)]
    verbose = report.options.get("verbose")
    for sev in reversed(SEVERITIES):
        group = [r for r in problems if r.policy.severity == sev]
        if not group:
            continue
        lines.append("")
        lines.append(_c(report, "head", sev.upper()))
        for r in sorted(group, key=lambda r: (r.policy.id, r.status, r.target_id)):
            tag = _c(report, r.status, f"{r.status.upper():5}")
            lines.append(f"  {tag} {_v(r.policy.id)} {_v(r.target_kind)}:{_v(r.target_id)}  {_v(r.policy.title)}")
            lines.append(f"        why: {_v(r.message)}")
            ev = _evidence_lines(r)
            if ev:
                lines.append("        evidence:")
                lines += ["  " + x for x in ev]
            if r.baseline:
                lines.append(f"        baseline: {_v(r.baseline)}")
            fix = textwrap.fill(r.policy.remediation, 96, initial_indent="        fix: ",
                                subsequent_indent="             ")  # line breaks became spaces
            lines += [_v(x) for x in fix.split("\n")]
    waived = [r for r in report.results if r.status == WAIVED]
    if waived:
        lines.append("")
        lines.append(_c(report, "head", "WAIVED"))
        for w in report.waivers:
            if w.get("state") == "active" and len(w.get("targets") or ()) > 1:
                lines.append(f"  waiver {w.get('where')} ({w.get('policy')} {w.get('target')}, match: "
                             f"{w.get('match', 'one')}) waived {len(w['targets'])} target(s): "
                             + ", ".join(w["targets"]))
        for r in waived:
            w = r.waiver or {}
            lines.append(f"  {_c(report, WAIVED, 'WAIVED')} {_v(r.policy.id)} {_v(r.target_kind)}:{_v(r.target_id)}  "
                         f"{_v(w.get('reason', ''))} (owner {_v(w.get('owner', '?'))}, "
                         f"expires {_v(w.get('expires', '?'))})")
    skipped = [r for r in report.results if r.status == SKIP]
    passed = [r for r in report.results if r.status == PASS]
    if skipped:
        lines.append("")
        lines.append(_c(report, "head", "NOT APPLICABLE"))
        for r in skipped:
            lines.append(f"  {_c(report, SKIP, 'SKIP ')} {_v(r.policy.id)} {_v(r.target_kind)}:{_v(r.target_id)}  "
                         f"{_v(r.message)}")
    if passed:
        lines.append("")
        lines.append(_c(report, "head", "PASSED"))
        for r in passed:
            lines.append(f"  {_c(report, PASS, 'PASS ')} {_v(r.policy.id)} {_v(r.target_kind)}:{_v(r.target_id)}  "
                         f"{_v(r.policy.title)}")
            if verbose:
                lines += ["  " + x for x in _evidence_lines(r)]
    lines += control_lines(report)
    lines.append("")
    lines.append(_c(report, "head", "Summary: ") + summary_line(report))
    return guard("\n".join(lines) + "\n")


def control_lines(report) -> list:
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


def render_brief(report) -> str:
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
def policycheck_reporters():
    return [Reporter("text", render_text, "txt", "the audit report: problems by severity with evidence"),
            Reporter("brief", render_brief, "txt", "one line per failure or error, then the summary (CI logs)")]
