"""Shared by tests/test_reports_*.py: the example datazone collected once, the CLI run in-process."""
from __future__ import annotations

import json

from pchelpers import ROOT, run_in_process

EXAMPLE_CONFIG = ROOT / "examples" / "datazone" / "policycheck.yaml"
AS_OF = "2026-11-25T06:00:00+00:00"


run = run_in_process


def example_report(tmp_path, capsys, *extra) -> tuple[int, dict, str]:
    """`check -c examples/datazone/policycheck.yaml --json FILE *extra`: (exit code, JSON report, stdout)."""
    out = tmp_path / "report.json"
    rc, stdout, _ = run(capsys, ["check", "-c", EXAMPLE_CONFIG, "--json", out, *extra])
    return rc, json.loads(out.read_text(encoding="utf-8")), stdout
