"""The gate: which results fail the run at or above --fail-on, computed once, and the exit code it gives."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from policycheck.errors import ExitCode
from policycheck.results import ERROR, FAIL, SEVERITY_RANK

if TYPE_CHECKING:
    from policycheck.results import Report, Result


@dataclass(frozen=True)
class Gate:
    """The verdict of one run. ``failing``: failures at or above ``fail_on``; ``blocking``: those that
    decide the exit code (with ``fail_on_new``, only the ones the baseline does not have); ``errors``:
    how many results are ``error``; ``stale_error``: a stale waiver under --strict-waivers."""

    fail_on: str
    failing: tuple[Result, ...]
    blocking: tuple[Result, ...]
    errors: int
    fail_on_error: bool = True
    soft_fail: bool = False
    stale_error: bool = False

    @property
    def threshold(self) -> int:
        return SEVERITY_RANK[self.fail_on]

    def at_or_above(self, severity: str) -> bool:
        """Whether a failure of a policy of ``severity`` is at or above --fail-on."""
        return SEVERITY_RANK[severity] >= self.threshold

    @property
    def exit_code(self) -> ExitCode:
        """See docs/exit-codes.md: soft-fail 0; a blocking failure 1; an error (or a stale waiver under
        --strict-waivers) 3; else 0."""
        if self.soft_fail:
            return ExitCode.OK
        if self.blocking:
            return ExitCode.FINDINGS
        if (self.fail_on_error and self.errors) or self.stale_error:
            return ExitCode.SOURCE_ERROR
        return ExitCode.OK


def compute_gate(results: Sequence[Result], fail_on: str = "low", fail_on_error: bool = True, soft_fail: bool = False,
                 fail_on_new: bool = False, stale_error: bool = False) -> Gate:
    """The gate over ``results`` (each with ``status``, ``policy.severity`` and, after a baseline, ``baseline``)."""
    threshold = SEVERITY_RANK[fail_on]
    failing = tuple(r for r in results if r.status == FAIL and SEVERITY_RANK[r.policy.severity] >= threshold)
    blocking = tuple(r for r in failing if r.baseline == "new") if fail_on_new else failing
    errors = sum(1 for r in results if r.status == ERROR)
    return Gate(fail_on=fail_on, failing=failing, blocking=blocking, errors=errors, fail_on_error=fail_on_error,
                soft_fail=soft_fail, stale_error=stale_error)


def gate_of(report: Report) -> Gate:
    """The report's gate (set by the pipeline), or one computed at its ``fail_on`` for a report built by hand."""
    g = getattr(report, "gate", None)
    return g if g is not None else compute_gate(report.results, report.fail_on)
