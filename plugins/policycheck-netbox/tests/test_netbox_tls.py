"""TLS towards NetBox: verified by default, a private CA through ca_bundle, verify_tls: false warns."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakenetbox import FakeNetBox, sample_data  # noqa: E402
from policycheck_netbox.plugin import collect  # noqa: E402

from policycheck.api import CollectContext, CollectorError  # noqa: E402

TOKEN = "nbt_abcdefghijkl.SECRETsecretSECRETsecret00"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if not shutil.which("openssl"):
        if __import__("os").environ.get("CI", "").lower() == "true":
            pytest.fail("openssl missing in CI (ci/setup.sh installs it)")
        pytest.skip("openssl binary not installed")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=policycheck test CA")
    run("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")
    return d


WARNINGS = []


def _run(fake, **extra):
    WARNINGS.clear()
    ctx = CollectContext(source="nb", timeout=10, secrets=[TOKEN], log=WARNINGS.append)
    return collect({"url": fake.url, "token": TOKEN, "retries": 0, **extra}, ctx)


def test_unknown_ca_is_refused_with_a_hint(pki):
    with FakeNetBox(sample_data(), TOKEN, tls=(pki / "srv.pem", pki / "srv.key")) as fake:
        assert fake.url.startswith("https://")
        with pytest.raises(CollectorError) as ei:
            _run(fake)
        assert not fake.requests  # the token never went out
    assert "TLS" in str(ei.value) and "ca_bundle" in str(ei.value) and TOKEN not in str(ei.value)


def test_private_ca_through_ca_bundle(pki):
    with FakeNetBox(sample_data(), TOKEN, tls=(pki / "srv.pem", pki / "srv.key")) as fake:
        frag = _run(fake, ca_bundle=str(pki / "ca.pem"))
    assert len(frag["entities"]["host"]) == 5


def test_verify_tls_false_works_and_warns(pki):
    with FakeNetBox(sample_data(), TOKEN, tls=(pki / "srv.pem", pki / "srv.key")) as fake:
        frag = _run(fake, verify_tls=False)
    assert len(frag["entities"]["host"]) == 5
    assert any("TLS verification is OFF" in w for w in WARNINGS)  # the runtime prints it via the CLI
