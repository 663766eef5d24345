"""The ``github`` format: GitHub Actions workflow commands (``::error``/``::warning``/``::notice``) for the
run's gate; the step summary is the ``markdown`` report (cli.py appends it to $GITHUB_STEP_SUMMARY)."""
from __future__ import annotations

from typing import Any

from policycheck import hookimpl
from policycheck.api import Reporter
from policycheck.gate import gate_of
from policycheck.results import ERROR, FAIL, SEVERITIES, SEVERITY_RANK

#: GitHub shows a handful of annotations per step (10 errors, 10 warnings) and keeps at most 50 per job:
#: the worst results are annotated, the rest counted in one notice (every report lists them all).
ANNOTATION_LIMIT = 50


def _esc(s: object) -> str:
    """The runner's own escapes for data and properties, then every other control made visible."""
    from policycheck.secrets import redact_all
    from policycheck.textsafe import line

    return line(redact_all(str(s)).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _esc_prop(s: object) -> str:
    return _esc(s).replace(":", "%3A").replace(",", "%2C")


def render_annotations(report: Any, limit: int = ANNOTATION_LIMIT) -> str:
    """``::error`` per failure at or above the gate's --fail-on, ``::warning`` per failure below it and per
    error: the worst ``limit`` of them (errors-level first, then by severity, failures before errors), then
    one ``::notice`` counting the rest."""
    gate = gate_of(report)
    found = []
    for i, r in enumerate(report.results):
        sev = SEVERITY_RANK[r.policy.severity]
        if r.status == FAIL:
            level = "error" if gate.at_or_above(r.policy.severity) else "warning"
        elif r.status == ERROR:
            level = "warning"
        else:
            continue
        found.append(((level != "error", -sev, r.status != FAIL, i), level, r))
    found.sort(key=lambda t: t[0])
    out = []
    for _, level, r in found[:limit]:
        out.append(f"::{level} title={_esc_prop(r.policy.id + ' ' + r.target_id)}::"
                   f"{_esc(r.policy.title + ': ' + (r.message or r.status))}\n")
    rest = found[limit:]
    if rest:
        fails = sum(1 for _, _, r in rest if r.status == FAIL)
        errors = len(rest) - fails
        worst = max((r.policy.severity for _, _, r in rest), key=SEVERITIES.index)
        title = _esc_prop(f"policycheck: {len(rest)} more not annotated")
        out.append(f"::notice title={title}::{len(rest)} more result(s) not "
                   f"annotated ({fails} failed, {errors} error; the worst of them {worst}): the {limit} worst "
                   "are above; every result is in the step summary and the reports\n")
    return "".join(out)


def step_summary(report: Any, reporters: dict[str, Reporter]) -> str | None:
    """The step summary's text: the ``markdown`` report without colour (None when that format is not loaded)."""
    if "markdown" not in reporters:
        return None
    import copy

    plain = copy.copy(report)
    plain.options = dict(report.options, color=False)
    return str(reporters["markdown"].render(plain))


@hookimpl
def policycheck_reporters() -> list[Reporter]:
    return [Reporter("github", render_annotations, "txt", "GitHub Actions annotations for the gate's failures "
                     "(written on their own under GITHUB_ACTIONS=true)")]
