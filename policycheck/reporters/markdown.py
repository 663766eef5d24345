"""The ``markdown`` format: a summary for $GITHUB_STEP_SUMMARY and merge-request comments (counts by
severity and status, the failures with evidence, then the passes folded away)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from policycheck import hookimpl
from policycheck.api import Reporter
from policycheck.results import ERROR, FAIL, PASS, SEVERITIES, SKIP, STATUSES, WAIVED
from policycheck.textutil import describe

if TYPE_CHECKING:
    from policycheck.results import Report, Result

MAX_DETAILED = 100     # failures and errors shown with their evidence; the rest are listed in a line each
MAX_LISTED = 1000      # results listed in a folded section
VALUE_MAX = 300
ICON = {FAIL: "❌", ERROR: "⚠️", PASS: "✅", SKIP: "➖", WAIVED: "🔕"}
HEAD = {PASS: "passed", FAIL: "failed", ERROR: "errors", SKIP: "not applicable", WAIVED: "waived"}
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_CTRL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")  # controls and lone surrogates: a space


def esc(text: object, limit: int | None = None) -> str:
    """Plain text that renders as itself in GitHub/GitLab Markdown and table cells, on one line."""
    s = _CTRL.sub(" ", str(text))
    if limit is not None and len(s) > limit:
        s = s[:limit - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", s)


_TICKS = re.compile("`+")


def code(text: object, limit: int = VALUE_MAX) -> str:
    """``text`` as an inline code span (shown literally, whatever backticks it holds), on one line.

    CommonMark closes a code span only at a backtick run as long as the opening one, so the fence is
    one backtick longer than the longest run inside; the padding spaces keep a leading or trailing
    backtick off the fence (spans are used in list items, never in table cells)."""
    s = _CTRL.sub(" ", str(text))
    if len(s) > limit:
        s = s[:limit - 1] + "…"
    if "`" not in s:
        return f"`{s}`" if s.strip() else "` `"
    fence = "`" * (max(len(m) for m in _TICKS.findall(s)) + 1)
    return f"{fence} {s} {fence}"


def _counts(report: Report) -> list[str]:
    s = report.summary
    rows = ["| severity | " + " | ".join(HEAD[st] for st in STATUSES) + " | total |",
            "|---|" + "---:|" * (len(STATUSES) + 1)]
    for sev in reversed(SEVERITIES):
        c = s["by_severity"][sev]
        total = sum(c.values())
        if total:
            rows.append(f"| {sev} | " + " | ".join(str(c[st]) for st in STATUSES) + f" | {total} |")
    rows.append("| **all** | " + " | ".join(f"**{s[st]}**" for st in STATUSES) + f" | **{s['total']}** |")
    return rows


def _controls(report: Report) -> list[str]:
    """The per-control summary as a table: control, its policies, pass/fail/error (and waived)."""
    rows = report.controls
    if not rows:
        return []
    out = ["", f"### Controls ({len(rows)})", "", "| framework | control | policies | pass | fail | error | waived |",
           "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        fail = f"**{r['fail']:d}**" if r["fail"] else 0
        out.append(f"| {esc(r['framework'])} | {esc(r['control'])} | {esc(', '.join(r['policies']))} | {r['pass']} | "
                   f"{fail} | {r['error']} | {r['waived']} |")
    return out


def _evidence(r: Result) -> list[str]:
    out = []
    for e in r.evidence_dicts():
        if e.get("ok") is True:
            continue
        obs = f"missing ({e['missing']})" if e.get("missing") else describe(e.get("observed"), VALUE_MAX)
        where = ", ".join(x for x in (e.get("entity") and f"on {e['entity']}",
                                      e.get("source") and f"source {e['source']}") if x)
        out.append(f"  - {code(e.get('fact'))} = {code(obs)}; expected {code(e.get('expected'))}"
                   + (f" ({esc(where)})" if where else ""))
    return out


def _problem(r: Result) -> list[str]:
    p = r.policy
    tags = [p.severity] + ([f"baseline: {r.baseline}"] if r.baseline else [])
    w = r.waiver or {}
    lines = [(f"- {ICON[r.status]} **{esc(p.id)}** {code(r.target_kind)} {esc(r.target_id)} — {esc(p.title)} "
             f"({esc(', '.join(tags))})"), f"  - why: {esc(r.message or r.status, 1000)}"]
    if w.get("state") in ("expired", "too_far"):
        lines.append(f"  - waiver {'expired on' if w['state'] == 'expired' else 'not applied, expires'} "
                     f"{esc(w.get('expires'))}: {esc(w.get('reason'))} (owner {esc(w.get('owner'))})")
    lines += _evidence(r)
    if p.remediation:
        lines.append(f"  - fix: {esc(' '.join(p.remediation.split()), 1000)}")
    return lines


def _line(r: Result) -> str:
    return f"- {ICON[r.status]} {esc(r.policy.id)} {code(r.target_kind)} {esc(r.target_id)} — {esc(r.policy.title)}"


def _folded(title: str, results: Sequence[Result]) -> list[str]:
    if not results:
        return []
    lines = ["", f"<details><summary>{title}</summary>", ""]
    lines += [_line(r) for r in results[:MAX_LISTED]]
    if len(results) > MAX_LISTED:
        lines.append(f"- … and {len(results) - MAX_LISTED} more (see the JSON or JUnit report)")
    return lines + ["", "</details>"]


def render_markdown(report: Report) -> str:
    s = report.summary
    from policycheck.gate import gate_of

    blocking = len(gate_of(report).failing)  # the run's gate, the same one the exit code comes from
    verdict = (f"❌ {blocking} failure(s) at or above {report.fail_on}" if blocking
               else "⚠️ no failure, but errors" if s[ERROR] else "✅ no failure")
    lines = [f"## policycheck: {verdict}", "",
             (f"{s['pass']} passed, {s['fail']} failed, {s['error']} errors, {s['skip']} not applicable, "
             f"{s['waived']} waived ({s['total']} results, {len(report.policies)} policies; "
             f"facts collected {esc(report.collected_at)})"), "",
             f"Judged as of {esc(report.clock_text())}.", ""]
    lines += _counts(report)
    bad_sources = [x for x in report.sources if x.get("status") != "ok"]
    if bad_sources:
        lines += ["", "### Sources that failed", ""]
        lines += [f"- ⚠️ **{esc(x.get('name'))}** ({esc(x.get('plugin', '?'))}): {esc(x.get('error'), 1000)}"
                  for x in bad_sources]
    if report.notes:
        lines += ["", "### Notes", ""] + [f"- {esc(n, 1000)}" for n in report.notes]
    order = {sev: i for i, sev in enumerate(reversed(SEVERITIES))}
    for status, title in ((FAIL, "Failures"), (ERROR, "Errors (facts could not be collected or judged)")):
        group = sorted((r for r in report.results if r.status == status),
                       key=lambda r: (order[r.policy.severity], r.policy.id, r.target_id))
        if not group:
            continue
        lines += ["", f"### {title} ({len(group)})", ""]
        for r in group[:MAX_DETAILED]:
            lines += _problem(r)
        if len(group) > MAX_DETAILED:
            lines += [_line(r) for r in group[MAX_DETAILED:MAX_DETAILED + MAX_LISTED]]
            if len(group) > MAX_DETAILED + MAX_LISTED:
                lines.append(f"- … and {len(group) - MAX_DETAILED - MAX_LISTED} more (see the JSON report)")
    waived = [r for r in report.results if r.status == WAIVED]
    if waived:
        many = [w for w in report.waivers if w.get("state") == "active" and len(w.get("targets") or ()) > 1]
        lines += ["", f"### Waived ({len(waived)})", ""]
        for w in many:
            lines.append(f"- waiver {esc(w.get('where'))} ({esc(w.get('policy'))} {esc(w.get('target'))}, "
                         f"match: many) waived {len(w['targets'])} targets: "
                         + ", ".join(esc(t) for t in w["targets"][:MAX_LISTED]))
        if many:
            lines.append("")
        lines += ["| policy | target | reason | owner | expires |",
                  "|---|---|---|---|---|"]
        for r in waived[:MAX_LISTED]:
            w = r.waiver or {}
            lines.append(f"| {esc(r.policy.id)} | {esc(r.target_id)} | {esc(w.get('reason'), 300)} | "
                         f"{esc(w.get('owner'))} | {esc(w.get('expires'))} |")
    lines += _controls(report)
    lines += _folded(f"{s['pass']} passed", [r for r in report.results if r.status == PASS])
    lines += _folded(f"{s['skip']} not applicable", [r for r in report.results if r.status == SKIP])
    return "\n".join(lines) + "\n"


@hookimpl
def policycheck_reporters() -> list[Reporter]:
    return [Reporter("markdown", render_markdown, "md", "a Markdown summary for $GITHUB_STEP_SUMMARY and "
                     "merge-request comments")]
