"""The real-NetBox fixture skips where NetBox cannot be installed, and fails instead under CI=true."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
REAL = "plugins/policycheck-netbox/tests/test_netbox_real.py::test_real_netbox_v1_token"


@pytest.mark.parametrize("ci, rc, words", [("", 0, "1 skipped"), ("true", 1, "needed in CI but unavailable")])
def test_missing_netbox_skips_locally_and_fails_in_ci(tmp_path, ci, rc, words):
    env = dict(os.environ, POLICYCHECK_NETBOX_VENV=str(tmp_path / "no-venv"), CI=ci)
    env.pop("POLICYCHECK_NETBOX_REUSE", None)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", REAL],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == rc, r.stdout[-2000:]
    assert words in r.stdout and "no-venv" in r.stdout
