"""Every failure to read vCenter becomes a CollectorError naming where and why, without the password."""
from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from policycheck.api import CollectorError
from policycheck.testing import assert_no_secret
from policycheck_vsphere.plugin import collect


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "500"

    def log_message(self, *a):
        pass

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.mode == "500":
            body = b"<html><body>Internal Server Error</body></html>"
            self.send_response(500)
            self.send_header("Content-Type", "text/html")
        elif self.mode == "503":
            body = b"Service Unavailable"
            self.send_response(503)
            self.send_header("Content-Type", "text/plain")
        else:  # malformed SOAP: truncated XML
            body = b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/env'
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture(params=["500", "503", "truncated"])
def broken_server(request):
    handler = type("H", (_Handler,), {"mode": request.param})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_broken_answers_are_errors(broken_server, ctx_factory, secret, monkeypatch):
    # plain HTTP stand-in for a broken vCenter front end: pyVmomi speaks https, so point it at http
    import pyVim.connect as pc

    orig = pc.SmartConnect

    def http_connect(*a, **kw):
        kw["protocol"] = "http"
        return orig(*a, **kw)

    monkeypatch.setattr(pc, "SmartConnect", http_connect)
    msg = collect_error({"host": "127.0.0.1", "port": broken_server, "username": "audit", "password": secret,
                         "verify_tls": False}, ctx_factory(timeout=5))
    assert f"127.0.0.1:{broken_server}" in msg
    assert "no vSphere SOAP service answered" in msg or "malformed or truncated" in msg
    assert_no_secret(secret, msg)
