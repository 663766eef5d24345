"""Test helpers and fixtures: a real Bacula stack (session-scoped), the CLI runner, fake bconsole scripts."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import bacula_stack as bs
import pytest

from policycheck.testing import need
from policycheck.testing import run_cli as cli_in_process

PACKAGES = "bacula-director bacula-director-sqlite3 bacula-sd bacula-fd bacula-console sqlite3"


def need_bacula() -> None:
    """Skip (fail under CI=true) when the Debian Bacula packages are not installed."""
    missing = bs.missing_binaries()
    if not Path("/usr/share/bacula-director/make_sqlite3_tables").exists():
        missing.append("/usr/share/bacula-director/make_sqlite3_tables")
    need(not missing, f"Bacula is not installed here (missing {', '.join(missing)}); install the Debian packages "
                      f"{PACKAGES} (plugins/policycheck-bacula/ci/setup.sh does)")


@pytest.fixture(scope="session")
def bacula_stack(tmp_path_factory):
    need_bacula()
    s = bs.BaculaStack(tmp_path_factory.mktemp("bacula"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def _result(code: int, stdout: str, stderr: str, seconds: float) -> dict:
    doc = None
    with contextlib.suppress(ValueError):
        doc = json.loads(stdout)
    return {"rc": code, "stdout": stdout, "stderr": stderr, "seconds": seconds, "json": doc}


def run_cli(args: list[str], env_extra: dict | None = None) -> dict:
    """``policycheck ARGS`` in this process (policycheck.testing.run_cli): rc, stdout, stderr, seconds, JSON."""
    t = time.monotonic()
    r = cli_in_process(args, env=dict({"NO_COLOR": "1"}, **(env_extra or {})))
    return _result(r.code, r.stdout, r.stderr, time.monotonic() - t)


def run_cli_process(args: list[str], env_extra: dict | None = None, timeout: float = 120) -> dict:
    """``python -m policycheck ARGS`` as its own process: for the fault tests, which judge what a whole run
    leaves behind (the private bconsole.conf under TMPDIR, a collector thread abandoned at the timeout)."""
    env = dict(os.environ, NO_COLOR="1", **(env_extra or {}))
    t = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "policycheck", *args], capture_output=True, text=True,
                       timeout=timeout, env=env)
    return _result(p.returncode, p.stdout, p.stderr, time.monotonic() - t)


def verdicts(doc: dict) -> dict:
    """{(policy_id, target_id): result} from a JSON report."""
    return {(r["policy_id"], r["target_id"]): r for r in doc["results"]}


def write_config(path: Path, source: dict, inventory: Path | None = None, extra: str = "") -> Path:
    import yaml

    sources = [dict({"name": "bacula", "plugin": "bacula"}, **source)]
    if inventory is not None:
        sources.append({"name": "inv", "plugin": "file", "path": str(inventory)})
    path.write_text(yaml.safe_dump({"version": 1, "sources": sources}) + extra)
    return path


INVENTORY = """
entities:
  host:
    - id: backup01.test
      aliases: [127.0.0.1]
      platform: virtual
      roles: [backup_server]
      services: [backup]
      depends_on: []
      bmr_methods: [rear]
    - id: client2.test
      aliases: [127.0.0.3]
      platform: physical
      roles: [file_server]
      services: [nfs]
      depends_on: []
      bmr_methods: []
"""


@pytest.fixture(scope="session")
def bacula_inventory(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("inv") / "inventory.yaml"
    p.write_text(INVENTORY)
    return p


def fake_bconsole(path: Path, body: str) -> Path:
    """A stand-in bconsole (a Python script) for answers a real director cannot be made to give."""
    path.write_text(f"#!{sys.executable}\n" + body)
    path.chmod(0o755)
    return path
