"""Fixtures for the ansible plugin tests: the real ansible-inventory binary, contexts, inventory writers."""
from __future__ import annotations

import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from policycheck.api import CollectContext


def _missing(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: failing instead of skipping; ci/setup.sh must install it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def ansible_inventory_bin() -> str:
    """Absolute path of the real ansible-inventory (ansible-core from PyPI), or skip/fail."""
    found = shutil.which("ansible-inventory")
    beside = Path(sys.executable).parent / "ansible-inventory"
    if beside.is_file():
        found = str(beside)
    if not found:
        _missing("ansible-inventory not installed (pip install ansible-core)")
    return found


@pytest.fixture(scope="session")
def ansible_vault_bin(ansible_inventory_bin) -> str:
    p = Path(ansible_inventory_bin).parent / "ansible-vault"
    if not p.is_file():
        _missing("ansible-vault not installed next to ansible-inventory (pip install ansible-core)")
    return str(p)


@pytest.fixture
def make_ctx(tmp_path):
    def make(timeout: float = 30, secrets=(), base_dir=None):
        logs: list[str] = []
        ctx = CollectContext(source="ansible-test", timeout=timeout, base_dir=str(base_dir or tmp_path),
                             secrets=list(secrets), log=logs.append)
        ctx.logs = logs
        return ctx
    return make


@pytest.fixture
def write(tmp_path):
    """write('inv/hosts.yml', text) -> Path; dedents text and creates parent directories."""
    def w(rel: str, text: str, mode: int | None = None) -> Path:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
        if mode is not None:
            p.chmod(mode)
        return p
    return w
