"""Baselines: compare failures with an earlier JSON report (new, unchanged, fixed) to adopt the gate."""
from __future__ import annotations

import json
from pathlib import Path

from policycheck.results import FAIL


class BaselineError(ValueError):
    """An unusable baseline file."""


def load_baseline(path) -> set:
    """The (policy_id, target_id) pairs that failed in an earlier ``--format json`` report."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found (write one with --json FILE)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: not a JSON report: {exc}") from None
    if not isinstance(data, dict) or data.get("schema_version") != 1 or not isinstance(data.get("results"), list):
        raise BaselineError(f"{path}: not a policycheck JSON report (schema_version 1 with results)")
    out = set()
    for r in data["results"]:
        status = r.get("status")
        if status == "waived":
            status = (r.get("waiver") or {}).get("was")
        if status == FAIL:
            out.add((r.get("policy_id"), r.get("target_id")))
    return out


def apply_baseline(results, failed_before: set) -> list[str]:
    """Set ``baseline`` on each failure: new or unchanged; return notes for fixed ones."""
    now_failing = set()
    for r in results:
        if r.status == FAIL:
            key = (r.policy.id, r.target_id)
            r.baseline = "unchanged" if key in failed_before else "new"
            now_failing.add(key)
    fixed = sorted(failed_before - now_failing)
    return [f"fixed since the baseline: {pid} {tid}" for pid, tid in fixed]
