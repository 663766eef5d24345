"""Shared by tests/test_reports_*.py: the example datazone collected once, the CLI run in-process."""
from __future__ import annotations

import json

from pchelpers import ROOT

from policycheck import cli

EXAMPLE_CONFIG = ROOT / "examples" / "datazone" / "policycheck.yaml"
AS_OF = "2026-11-25T06:00:00+00:00"


def run(capsys, argv) -> tuple[int, str, str]:
    """The real CLI in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        rc = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def example_report(tmp_path, capsys, *extra) -> tuple[int, dict, str]:
    """`check -c examples/datazone/policycheck.yaml --json FILE *extra`: (exit code, JSON report, stdout)."""
    out = tmp_path / "report.json"
    rc, stdout, _ = run(capsys, ["check", "-c", EXAMPLE_CONFIG, "--json", out, *extra])
    return rc, json.loads(out.read_text(encoding="utf-8")), stdout
