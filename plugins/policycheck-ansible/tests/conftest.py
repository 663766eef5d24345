"""Fixtures for the ansible plugin tests: the real ansible-inventory binary, contexts, inventory writers."""
from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from policycheck.api import CollectContext
from policycheck.testing import need


@pytest.fixture(scope="session")
def ansible_inventory_bin() -> str:
    """Absolute path of the real ansible-inventory (ansible-core from PyPI), or skip/fail."""
    found = shutil.which("ansible-inventory")
    beside = Path(sys.executable).parent / "ansible-inventory"
    if beside.is_file():
        found = str(beside)
    need(found, "ansible-inventory not installed (pip install ansible-core; ci/setup.sh installs it)")
    assert found
    return found


@pytest.fixture(scope="session")
def ansible_vault_bin(ansible_inventory_bin) -> str:
    p = Path(ansible_inventory_bin).parent / "ansible-vault"
    need(p.is_file(), "ansible-vault not installed next to ansible-inventory (pip install ansible-core)")
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
