"""Fixtures for the networker plugin tests: recorded datazones, a collect() runner, a self-signed cert."""
from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

import pytest
from policycheck_networker.fakeserver import FakeNetworker, load_datazone

from policycheck.api import CollectContext

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
    """(cert.pem, key.pem) for 127.0.0.1, generated at test time."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        msg = "the cryptography package is missing (ci/setup.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nsr-test.local")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return str(d / "cert.pem"), str(d / "key.pem")
