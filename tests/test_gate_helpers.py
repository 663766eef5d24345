"""Helpers for the gate tests: facts snapshots, waiver files and in-process runs of the real CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pchelpers import run_in_process

from policycheck.results import SEVERITIES

DATA = Path(__file__).parent / "data" / "gate"
GATE_POLICIES = DATA / "policies"
XSD = DATA / "junit-10.xsd"
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "datazone" / "policycheck.yaml"
COLLECTED_AT = "2026-11-25T06:00:00+00:00"
POLICY_OF = {sev: f"GATE-00{i + 1}" for i, sev in enumerate(SEVERITIES)}


@pytest.fixture(autouse=True)
def gate_env(monkeypatch):
    """No third-party plugins (other helpers' work in progress), and never GitHub's variables of the
    CI that runs these tests: a test sets them itself."""
    monkeypatch.setenv("POLICYCHECK_NO_ENTRY_POINTS", "1")
    for var in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "NO_COLOR", "POLICYCHECK_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)


def host(hid: str, fail=(), missing=(), **extra) -> dict:
    """A host whose gate_<severity> facts are true, false for ``fail``, absent for ``missing``."""
    h = {"id": hid, **extra}
    for sev in SEVERITIES:
        if sev not in missing:
            h[f"gate_{sev}"] = sev not in fail
    return h


def snapshot(path: Path, hosts: list, failed_sources=(), collected_at: str = COLLECTED_AT) -> Path:
    sources = [{"name": "inventory", "plugin": "file", "status": "ok", "kinds": ["host"], "objects": len(hosts),
                "duration_s": 0.0, "error": None}]
    for name, error in failed_sources:
        sources.append({"name": name, "plugin": "file", "status": "error", "kinds": ["host"], "objects": 0,
                        "duration_s": 0.0, "error": error})
    doc = {"schema_version": 1, "collected_at": collected_at, "sources": sources,
           "entities": {"host": hosts}, "conflicts": []}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def waiver_file(path: Path, entries: list, max_days=None) -> Path:
    import yaml

    doc = {"waivers": entries}
    if max_days is not None:
        doc["max_days"] = max_days
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def waiver(policy: str, target: str, expires: str = "2026-12-31", **kw) -> dict:
    return {"policy": policy, "target": target, "reason": kw.pop("reason", "accepted for the test (CHG-1)"),
            "owner": kw.pop("owner", "gate-team@example.org"), "expires": expires, **kw}


def gate_args(facts: Path, *extra) -> list:
    return ["--facts", str(facts), "--no-builtin", "--policies", str(GATE_POLICIES), *map(str, extra)]


run = run_in_process


def gate_results(hosts: list) -> list:
    """The gate policies evaluated in process over ``hosts`` (no CLI, no reports)."""
    from policycheck.engine import evaluate
    from policycheck.pipeline import build_facts, load_all_policies

    doc = {"schema_version": 1, "collected_at": COLLECTED_AT, "sources": [], "entities": {"host": hosts}}
    return evaluate(load_all_policies([GATE_POLICIES], builtin=False), build_facts(doc))

