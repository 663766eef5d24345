"""Helpers for the core tests: facts built in memory, the CLI run as a user runs it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "datazone"


def facts_doc(entities, collected_at="2026-11-25T06:00:00+00:00", sources=None):
    return {"schema_version": 1, "collected_at": collected_at, "sources": sources or [],
            "entities": entities, "conflicts": []}


def run_cli(*args, cwd=None, env=None, input=None):
    e = dict(os.environ)
    e.pop("GITHUB_ACTIONS", None)
    e.pop("GITHUB_STEP_SUMMARY", None)
    e["NO_COLOR"] = "1"
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "policycheck", *map(str, args)], cwd=cwd or ROOT, env=e,
                       capture_output=True, text=True, input=input, timeout=120)
    return p.returncode, p.stdout, p.stderr


def run_in_process(capsys, argv) -> tuple[int, str, str]:
    """The real CLI in-process: (exit code, stdout, stderr), by :func:`policycheck.testing.run_cli`."""
    from policycheck.testing import run_cli as run_cli_in_process

    capsys.readouterr()
    r = run_cli_in_process(list(argv))
    return r.code, r.stdout, r.stderr
