"""Every failure to read vCenter becomes a CollectorError naming where and why, without the password."""
from __future__ import annotations

import time

import pytest
from policycheck_vsphere.plugin import collect

from policycheck.api import CollectorError
from policycheck.testing import Answer, FakeHTTPServer, Request, assert_no_secret, free_port, make_cert


def collect_error(settings, ctx) -> str:
    with pytest.raises(CollectorError) as ei:
        collect(settings, ctx)
    print("\nMSG:", ei.value)
    return str(ei.value)


@pytest.mark.integration
def test_wrong_password(vcsim, director, ctx_factory, secret):
    sim = vcsim(director())
    wrong = secret + "-wrong"
    ctx = ctx_factory()
    ctx.secrets = [wrong]
    msg = collect_error(sim.settings(password=wrong), ctx)
    assert "InvalidLogin" in msg and f"127.0.0.1:{sim.port}" in msg and "password" in msg
    assert_no_secret(wrong, msg)
    assert_no_secret(secret, msg)


@pytest.mark.integration
def test_certificate_that_does_not_verify_then_right_ca_bundle(vcsim, director, ctx_factory, secret):
    sim = vcsim(director())
    msg = collect_error(sim.settings(ca_bundle=None), ctx_factory())
    assert "certificate" in msg and "ca_bundle" in msg and f"127.0.0.1:{sim.port}" in msg
    assert_no_secret(secret, msg)
    # the same source with vCenter's CA verifies and reads
    frag = collect(sim.settings(), ctx_factory())
    assert [v["name"] for v in frag["entities"]["vm"]] == ["nsr01"]
    # and verify_tls: false is the explicit opt-out
    frag = collect(sim.settings(ca_bundle=None, verify_tls=False), ctx_factory())
    assert [v["name"] for v in frag["entities"]["vm"]] == ["nsr01"]


def test_unreadable_ca_bundle(tmp_path, ctx_factory):
    msg = collect_error({"host": "127.0.0.1", "port": free_port(), "username": "u", "password": "p",
                         "ca_bundle": str(tmp_path / "nope.pem")}, ctx_factory())
    assert "ca_bundle" in msg and "nope.pem" in msg


@pytest.mark.integration
def test_timeout(vcsim, director, ctx_factory, secret):
    sim = vcsim(director(delay_ms=2500))
    t0 = time.monotonic()
    msg = collect_error(sim.settings(), ctx_factory(timeout=1))
    assert time.monotonic() - t0 < 10
    assert "timeout" in msg and "1 s" in msg and f"127.0.0.1:{sim.port}" in msg
    assert_no_secret(secret, msg)


def test_connection_refused(ctx_factory, secret):
    port = free_port()
    msg = collect_error({"host": "127.0.0.1", "port": port, "username": "audit", "password": secret,
                         "verify_tls": False}, ctx_factory(timeout=5))
    assert "refused" in msg and f"127.0.0.1:{port}" in msg
    assert_no_secret(secret, msg)


VERSIONS = (b'<?xml version="1.0" encoding="UTF-8" ?><namespaces version="1.0"><namespace><name>urn:vim25</name>'
            b'<version>8.0.0.0</version><priorVersions><version>7.0</version></priorVersions></namespace>'
            b'</namespaces>')


HTML_500 = (b"<html><body><h1>Internal Server Error</h1>\n<pre>java.lang.NullPointerException\n"
            b"  at com.vmware.vim.Dispatcher.invoke(Dispatcher.java:42)\n</pre></body></html>")
TRUNCATED = b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/env'


def broken_answer(mode: str):
    """A broken vCenter front end: every answer in ``mode`` (the SOAP endpoint failing behind a
    working version document for "500soap")."""
    def answer(req: Request) -> Answer:
        if mode == "500soap" and req.method == "GET":
            return Answer(200, VERSIONS, {"Content-Type": "text/xml"})
        if mode in ("500", "500soap"):
            return Answer(500, HTML_500, {"Content-Type": "text/html"})
        if mode in ("401", "403", "503"):
            return Answer(int(mode), b"<html><body>denied or unavailable</body></html>", {"Content-Type": "text/html"})
        return Answer(200, TRUNCATED, {"Content-Type": "text/xml"})  # malformed SOAP: truncated XML
    return answer


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("mode", ["401", "403", "500", "503", "500soap", "truncated"])
def test_broken_answers_are_errors(mode, certs, ctx_factory, secret):
    with FakeHTTPServer(default=broken_answer(mode), tls=(certs.cert_pem, certs.key_pem)) as srv:
        msg = collect_error({"host": "127.0.0.1", "port": srv.port, "username": "audit", "password": secret,
                             "ca_bundle": str(certs.ca_pem)}, ctx_factory(timeout=5))
        paths = {(r.method, r.path) for r in srv.requests}
    assert f"127.0.0.1:{srv.port}" in msg and "\n" not in msg and len(msg) < 700
    if mode in ("401", "403", "500", "503"):  # the status the version probe saw, not a generic text
        assert f"HTTP {mode}" in msg and "/sdk/vimServiceVersions.xml" in msg, msg
    elif mode == "500soap":
        assert "500" in msg, msg
        assert ("POST", "/sdk") in paths
    else:
        assert "malformed or truncated" in msg, msg
    assert_no_secret(secret, msg)


def test_server_certificate_from_another_ca_is_refused(tmp_path, certs, ctx_factory, secret):
    other = make_cert(tmp_path / "other")
    with FakeHTTPServer(default=broken_answer("truncated"), tls=(certs.cert_pem, certs.key_pem)) as srv:
        msg = collect_error({"host": "127.0.0.1", "port": srv.port, "username": "audit", "password": secret,
                             "ca_bundle": str(other.ca_pem)}, ctx_factory(timeout=5))
        assert not any(r.method == "POST" for r in srv.requests)  # no login sent to an unverified server
    assert "certificate" in msg and "ca_bundle" in msg and f"127.0.0.1:{srv.port}" in msg, msg
    assert_no_secret(secret, msg)
