"""Test helpers and fixtures: a real Bacula stack (session-scoped), the CLI runner, fake bconsole scripts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bacula_stack as bs

PACKAGES = "bacula-director bacula-director-sqlite3 bacula-sd bacula-fd bacula-console sqlite3"


def need_bacula() -> None:
    """Skip (fail under CI=true) when the Debian Bacula packages are not installed."""
    missing = bs.missing_binaries()
    if not Path("/usr/share/bacula-director/make_sqlite3_tables").exists():
        missing.append("/usr/share/bacula-director/make_sqlite3_tables")
    if missing:
        msg = (f"Bacula is not installed here (missing {', '.join(missing)}); install the Debian packages "
               f"{PACKAGES} (plugins/policycheck-bacula/ci/setup.sh does)")
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def bacula_stack(tmp_path_factory):
    need_bacula()
    s = bs.BaculaStack(tmp_path_factory.mktemp("bacula"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


def run_cli(args: list[str], env_extra: dict | None = None, timeout: float = 120, cwd=None) -> dict:
    """Run ``python -m policycheck ARGS``; return rc, stdout, stderr, seconds and the parsed JSON (if any)."""
    env = dict(os.environ, NO_COLOR="1", **(env_extra or {}))
    t = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "policycheck", *args], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=cwd)
    doc = None
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        pass
    return {"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr, "seconds": time.monotonic() - t,
            "json": doc}


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
