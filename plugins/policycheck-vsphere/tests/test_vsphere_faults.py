"""Every failure to read vCenter becomes a CollectorError naming where and why, without the password."""
from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest
from policycheck_vsphere.plugin import collect

from policycheck.api import CollectorError
from policycheck.testing import assert_no_secret


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


VERSIONS = (b'<?xml version="1.0" encoding="UTF-8" ?><namespaces version="1.0"><namespace><name>urn:vim25</name>'
            b'<version>8.0.0.0</version><priorVersions><version>7.0</version></priorVersions></namespace>'
            b'</namespaces>')


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "500"

    def log_message(self, *a):
        pass

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.mode == "500soap" and self.command == "GET":  # a vCenter whose SOAP endpoint then fails
            body = VERSIONS
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
        elif self.mode in ("500", "500soap"):
            body = (b"<html><body><h1>Internal Server Error</h1>\n<pre>java.lang.NullPointerException\n"
                    b"  at com.vmware.vim.Dispatcher.invoke(Dispatcher.java:42)\n</pre></body></html>")
            self.send_response(500)
            self.send_header("Content-Type", "text/html")
        elif self.mode in ("401", "403", "503"):
            body = b"<html><body>denied or unavailable</body></html>"
            self.send_response(int(self.mode))
            self.send_header("Content-Type", "text/html")
        else:  # malformed SOAP: truncated XML
            body = b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/env'
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture(params=["401", "403", "500", "503", "500soap", "truncated"])
def broken_server(request):
    handler = type("H", (_Handler,), {"mode": request.param})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield srv.server_address[1], request.param
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
    port, mode = broken_server
    msg = collect_error({"host": "127.0.0.1", "port": port, "username": "audit", "password": secret,
                         "verify_tls": False}, ctx_factory(timeout=5))
    assert f"127.0.0.1:{port}" in msg and "\n" not in msg and len(msg) < 700
    if mode in ("401", "403", "500", "503"):  # the status the version probe saw, not a generic text
        assert f"HTTP {mode}" in msg and "/sdk/vimServiceVersions.xml" in msg, msg
    elif mode == "500soap":
        assert "500" in msg, msg
    else:
        assert "malformed or truncated" in msg, msg
    assert_no_secret(secret, msg)
