"""Fixtures for the networker plugin tests: recorded datazones, a collect() runner, a test certificate;
makes this directory's fake NetWorker server (fakenetworker.py, test-only) importable."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from policycheck.api import CollectContext
from policycheck.testing import make_cert, need

sys.path.insert(0, str(Path(__file__).parent))
from fakenetworker import FakeNetworker, load_datazone  # noqa: E402

DATA = Path(__file__).parent / "data"
PASSWORD = "Nw-audit-S3cret!42"


@pytest.fixture
def zone():
    return lambda name: load_datazone(DATA / f"{name}.json")


class Run:
    def __init__(self):
        self.logs: list[str] = []
        self.warnings: list[str] = []

    def __call__(self, srv, timeout: float = 10, **settings):
        ctx = CollectContext(source="nsr", timeout=timeout, secrets=[srv.password], log=self.logs.append,
                             warnings=self.warnings)
        cfg = {"url": srv.url, "username": srv.username, "password": srv.password, **settings}
        return collect_fn()(cfg, ctx)


def collect_fn():
    from policycheck_networker.plugin import collect

    return collect


@pytest.fixture
def run():
    return Run()


@pytest.fixture
def server():
    """server(zone, **opts) → a started FakeNetworker (stopped at teardown)."""
    started = []

    def start(datazone, **opts):
        opts.setdefault("password", PASSWORD)
        srv = FakeNetworker(datazone, **opts).__enter__()
        started.append(srv)
        return srv
    yield start
    for srv in started:
        srv.__exit__(None, None, None)


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory):
    """A throw-away CA and a certificate for 127.0.0.1 (policycheck.testing.make_cert), made at test time."""
    need(importlib.util.find_spec("cryptography") is not None or shutil.which("openssl"),
         "neither the cryptography package (ci/setup.sh installs it) nor openssl is available")
    return make_cert(tmp_path_factory.mktemp("tls"))
