"""The ``openmetrics`` format: for the Prometheus node-exporter textfile collector (write it with
``-o /var/lib/node_exporter/textfile/policycheck.prom``).

Result counts by policy, severity and status (every status of every policy, zeros included, so a
series never vanishes when a problem is fixed), the facts' collection time, the time ages were judged
against, each source's state, and the run's end time as a heartbeat: alert on
``time() - policycheck_last_run_timestamp_seconds > 2 * 86400`` to learn that the checks themselves
stopped running. Only gauges are used, which the OpenMetrics and the Prometheus text parsers both read."""
from __future__ import annotations

from typing import TYPE_CHECKING

from policycheck import hookimpl
from policycheck.api import Reporter
from policycheck.results import STATUSES
from policycheck.textsafe import line
from policycheck.timeutil import parse_time

if TYPE_CHECKING:
    from policycheck.results import Report


def label(value: object) -> str:
    """A label value on one line with every control character visible (textsafe.line: the file may be
    printed on a terminal), then escaped as the exposition format requires (backslash, double quote)."""
    return line(value).replace("\\", "\\\\").replace('"', '\\"')


def _ts(text: object) -> str | None:
    try:
        return f"{parse_time(text).timestamp():.3f}"
    except (ValueError, TypeError):
        return None


def render_openmetrics(report: Report) -> str:
    out: list[str] = []

    def family(name: str, help_: str, unit: str | None = None) -> None:
        out.append(f"# TYPE {name} gauge")
        if unit:
            out.append(f"# UNIT {name} {unit}")
        out.append(f"# HELP {name} {help_}")

    counts: dict[tuple[str, str], dict[str, int]] = {}
    for p in report.policies:
        counts.setdefault((p.id, p.severity), {s: 0 for s in STATUSES})
    for r in report.results:
        counts.setdefault((r.policy.id, r.policy.severity), {s: 0 for s in STATUSES})[r.status] += 1
    family("policycheck_results", "Results of the last run by policy, severity and status.")
    for (pid, sev), c in sorted(counts.items()):
        for st in STATUSES:
            out.append(f'policycheck_results{{policy="{label(pid)}",severity="{label(sev)}",status="{st}"}} {c[st]}')
    s = report.summary
    family("policycheck_results_by_status", "Results of the last run by status, all policies.")
    for st in STATUSES:
        out.append(f'policycheck_results_by_status{{status="{st}"}} {s[st]}')
    family("policycheck_source_up", "1 when the source answered in the last run, 0 when it failed.")
    for src in report.sources:
        up = 1 if src.get("status") == "ok" else 0
        out.append(f'policycheck_source_up{{source="{label(src.get("name"))}",plugin="{label(src.get("plugin"))}"}} {up}')
    for name, help_, when in (
            ("policycheck_facts_collected_timestamp_seconds", "When the facts of the last run were collected.",
             report.collected_at),
            ("policycheck_evaluated_as_of_timestamp_seconds", "The time every age of the last run was judged against.",
             report.clock.get("time")),
            ("policycheck_last_run_timestamp_seconds", "When the last run ended (heartbeat: alert when it is old).",
             report.generated_at)):
        ts = _ts(when)
        if ts is not None:
            family(name, help_, "seconds")
            out.append(f"{name} {ts}")
    out.append("# EOF")
    return "\n".join(out) + "\n"


@hookimpl
def policycheck_reporters() -> list[Reporter]:
    return [Reporter("openmetrics", render_openmetrics, "prom",
                     "OpenMetrics counts and heartbeat for the node-exporter textfile collector")]
