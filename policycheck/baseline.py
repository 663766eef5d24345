"""Baselines: compare failures with an earlier JSON report (new, unchanged, fixed) to adopt the gate."""
from __future__ import annotations

import json
from collections.abc import Iterable
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from policycheck.errors import FactsInputError
from policycheck.results import FAIL, PASS, SKIP, WAIVED

if TYPE_CHECKING:
    from policycheck.results import Result

NEW, UNCHANGED = "new", "unchanged"


class BaselineError(FactsInputError):
    """An unusable baseline file."""


def load_baseline(path: str | PathLike[str]) -> set[tuple[str, str]]:
    """The (policy_id, target_id) pairs that failed in an earlier ``--json`` report (a failure that was
    waived then counts as a failure: when its waiver ends it is not new)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"), parse_constant=_refuse_constant,
                          parse_float=_finite_float)
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found (write one with --json FILE)") from None
    except IsADirectoryError:
        raise BaselineError(f"{path}: is a directory, not a JSON report") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}:{exc.lineno}:{exc.colno}: not a JSON report: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{path}: not a JSON report: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise BaselineError(f"{path}:1:1: not a JSON report: nested too deeply") from None
    except _BadNumber as exc:
        raise BaselineError(f"{path}: not a JSON report: {exc}") from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror}") from None
    if not isinstance(data, dict) or data.get("schema_version") != 1 or not isinstance(data.get("results"), list):
        raise BaselineError(f"{path}: not a policycheck JSON report (schema_version 1 with results)")
    out: set[tuple[str, str]] = set()
    for i, r in enumerate(data["results"]):
        if not isinstance(r, dict) or not isinstance(r.get("policy_id"), str) \
                or not isinstance(r.get("target_id"), str):
            raise BaselineError(f"{path}: results[{i}] has no policy_id and target_id")
        status = r.get("status")
        if status == WAIVED:
            w = r.get("waiver")
            status = w.get("was") if isinstance(w, dict) else None
        if status == FAIL:
            out.add((r["policy_id"], r["target_id"]))
    return out


class _BadNumber(ValueError):
    pass


def _refuse_constant(name: str) -> NoReturn:
    raise _BadNumber(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    v = float(text)
    if v != v or v in (float("inf"), float("-inf")):
        raise _BadNumber(f"{text[:40]} is out of range for a JSON number")
    return v


def apply_baseline(results: Iterable[Result], failed_before: set[tuple[str, str]]) -> list[str]:
    """Set ``baseline`` on each failure (new or unchanged, in place) and return a note per baseline
    failure that is fixed (now passes or no longer applies) or that this run did not evaluate."""
    now: dict[tuple[str, str], set[Any]] = {}
    for r in results:
        key = (r.policy.id, r.target_id)
        if r.status == FAIL:
            r.baseline = UNCHANGED if key in failed_before else NEW
        was = (r.waiver or {}).get("was") if r.status == WAIVED else r.status
        now.setdefault(key, set()).add(was)
    notes: list[str] = []
    for pid, tid in sorted(failed_before):
        statuses = now.get((pid, tid))
        if statuses is None:
            notes.append(f"baseline failure {pid} {tid} was not evaluated in this run (target gone or policy "
                         "not selected)")
        elif statuses <= {PASS, SKIP}:
            notes.append(f"fixed since the baseline: {pid} {tid}")
    return notes


def counts(results: Iterable[Result]) -> dict[str, int]:
    """How many failures are new and unchanged (for summaries)."""
    c = {NEW: 0, UNCHANGED: 0}
    for r in results:
        if r.status == FAIL and r.baseline in c:
            c[r.baseline] += 1
    return c
