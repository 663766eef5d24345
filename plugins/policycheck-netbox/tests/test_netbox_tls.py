"""TLS towards NetBox: verified by default, a private CA through ca_bundle, verify_tls: false warns."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakenetbox import FakeNetBox, sample_data  # noqa: E402
from policycheck_netbox.plugin import collect  # noqa: E402

from policycheck.api import CollectContext, CollectorError  # noqa: E402
from policycheck.testing import make_cert  # noqa: E402

TOKEN = "nbt_abcdefghijkl.SECRETsecretSECRETsecret00"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A throw-away CA and a server certificate for 127.0.0.1 (policycheck.testing.make_cert)."""
    return make_cert(tmp_path_factory.mktemp("pki"))


WARNINGS = []


def _run(fake, **extra):
    WARNINGS.clear()
    ctx = CollectContext(source="nb", timeout=10, secrets=[TOKEN], log=WARNINGS.append)
    return collect({"url": fake.url, "token": TOKEN, "retries": 0, **extra}, ctx)


def test_unknown_ca_is_refused_with_a_hint(pki):
    with FakeNetBox(sample_data(), TOKEN, tls=(pki.cert_pem, pki.key_pem)) as fake:
        assert fake.url.startswith("https://")
        with pytest.raises(CollectorError) as ei:
            _run(fake)
        assert not fake.requests  # the token never went out
    assert "TLS" in str(ei.value) and "ca_bundle" in str(ei.value) and TOKEN not in str(ei.value)


def test_private_ca_through_ca_bundle(pki):
    """Also: the fake (like NetBox behind a TLS proxy) writes http:// next links; they are followed on
    the configured https origin, so every page is read and the token never goes out in clear."""
    with FakeNetBox(sample_data(), TOKEN, tls=(pki.cert_pem, pki.key_pem)) as fake:
        frag = _run(fake, ca_bundle=str(pki.ca_pem), page_size=2)
        pages = [q.get("offset", "0") for p, q, _ in fake.requests if p == "/api/dcim/devices/"]
    assert pages == ["0", "2", "4"]
    assert len(frag["entities"]["host"]) == 5


def test_verify_tls_false_works_and_warns(pki):
    with FakeNetBox(sample_data(), TOKEN, tls=(pki.cert_pem, pki.key_pem)) as fake:
        frag = _run(fake, verify_tls=False)
    assert len(frag["entities"]["host"]) == 5
    assert any("TLS verification is OFF" in w for w in WARNINGS)  # the runtime prints it via the CLI
