"""Every way reading the server can fail raises CollectorError naming where and why, never the password."""
from __future__ import annotations

import json
import time

import pytest

from policycheck.api import CollectorError
from policycheck.testing import assert_no_secret, free_port


def fail(run, srv, **kw) -> str:
    with pytest.raises(CollectorError) as info:
        run(srv, **kw)
    msg = str(info.value)
    assert_no_secret(srv.password, msg, "\n".join(run.logs))
    return msg


def recorded(data_dir, code):
    return json.loads((data_dir / "errors" / f"{code}.json").read_text())


@pytest.fixture
def data_dir():
    from pathlib import Path

    return Path(__file__).parent / "data"


@pytest.mark.parametrize("code,words", [
    (403, ["HTTP 403", "/backups", "privilege", "read permission"]),
    (404, ["HTTP 404", "/backups", "not found", "API version"]),
    (500, ["HTTP 500", "/backups", "Unable to open DB session"]),
])
def test_http_errors_with_api_error_body(server, run, zone, data_dir, code, words):
    srv = server(zone("director"), faults={"backups": code}, error_bodies={code: recorded(data_dir, code)})
    msg = fail(run, srv)
    assert msg.startswith("NetWorker 127.0.0.1: ")
    for w in words:
        assert w.lower() in msg.lower(), (w, msg)


def test_wrong_password_is_401(server, run, zone, data_dir):
    srv = server(zone("director"), error_bodies={401: recorded(data_dir, 401)})
    with pytest.raises(CollectorError) as info:
        run(srv, password="not-the-password")
    msg = str(info.value)
    assert "HTTP 401" in msg and "check the username and password" in msg and "Authentication failed" in msg
    assert_no_secret(srv.password, msg)
    assert_no_secret("not-the-password", msg)


def test_optional_protectedvms_404_is_tolerated(server, run, zone):
    z = zone("director")
    del z["vmware/protectedvms"]
    frag = run(server(z))
    # without the VM list the image backup still joins through its *vm_name attribute
    assert any(c["hostname"] == "web01" and c["last_image_backup"] for c in frag["entities"]["client"])
    assert any("protectedvms" in m and "404" in m for m in run.logs)


def test_invalid_json(server, run, zone):
    msg = fail(run, server(zone("director"), faults={"devices": "invalid_json"}))
    assert "malformed JSON" in msg and "/devices" in msg


def test_truncated_body(server, run, zone):
    msg = fail(run, server(zone("director"), faults={"backups": "truncated"}))
    assert "/backups" in msg and ("cut short" in msg or "malformed JSON" in msg)


def test_count_disagrees_with_items(server, run, zone):
    z = zone("director")
    z["clients"]["clients"].pop()  # count still says 5: a list cut short but still valid JSON
    srv = server(z)
    srv.zone["clients"]["count"] = 5
    msg = fail(run, srv)
    assert "incomplete answer" in msg and "/clients" in msg


def test_slower_than_timeout(server, run, zone):
    srv = server(zone("director"), faults={"backups": "slow"}, slow_seconds=4)
    t0 = time.monotonic()
    msg = fail(run, srv, timeout=1)
    assert time.monotonic() - t0 < 3
    assert "/backups" in msg and "timeout" in msg.lower()


def test_body_trickling_in_past_the_timeout(server, run, zone):
    import threading

    srv = server(zone("director"), faults={"backups": "drip"}, slow_seconds=6)
    t0 = time.monotonic()
    msg = fail(run, srv, timeout=1.5)
    assert time.monotonic() - t0 < 3.5
    assert "/backups" in msg and "timeout" in msg.lower()
    time.sleep(1.0)  # the reader notices the deadline at its next piece and ends: nothing keeps running
    assert not [t for t in threading.enumerate() if t.name.startswith("networker")]


def test_answer_over_the_size_cap(server, run):
    from fakenetworker import generate_datazone

    msg = fail(run, server(generate_datazone(5000, 500)), max_response_mb=1)
    assert "exceeds 1 MiB" in msg and "/backups" in msg and "max_response_mb" in msg


def test_a_busy_server_is_asked_again(server, run, zone):
    srv = server(zone("director"), faults={"backups": "busy_once"})
    frag = run(srv)  # the core's HttpClient retries 503 after Retry-After
    assert len(frag["entities"]["bootstrap"]) == 2
    assert [p for p, _ in srv.requests].count("/nwrestapi/v3/global/backups") == 2


def test_answer_of_the_wrong_shape(server, run, zone):
    z = zone("director")
    z["devices"] = {"count": 2, "devices": ["/nsr/aftd1", "/nsr/aftd2"]}  # names, not objects
    msg = fail(run, server(z))
    assert "unexpected answer shape" in msg


def test_wrong_api_version_meets_html_404(server, run, zone):
    msg = fail(run, server(zone("director")), api_version="v2")
    assert "HTTP 404" in msg and "/nwrestapi/v2/global/" in msg


def test_connection_refused(run):

    class Gone:
        password = "Nw-audit-S3cret!42"
        username = "audit"

    port = free_port()
    Gone.url = f"http://127.0.0.1:{port}"
    msg = fail(run, Gone)
    assert "cannot connect" in msg and str(port) in msg


def test_tls_with_ca_bundle(server, run, zone, self_signed, monkeypatch):
    import certifi

    certs = self_signed
    # a CA bundle in the environment must not override the source's ca_bundle / verify_tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    srv = server(zone("director"), certfile=str(certs.cert_pem), keyfile=str(certs.key_pem))
    assert srv.url.startswith("https://")
    frag = run(srv, ca_bundle=str(certs.ca_pem))
    assert len(frag["entities"]["bootstrap"]) == 2
    msg = fail(run, srv)  # default: verify against the system CAs, which do not know this cert
    assert "TLS" in msg and "ca_bundle" in msg
    frag = run(srv, verify_tls=False)
    assert frag["entities"]["device"]
    assert any("TLS verification is OFF" in m for m in run.logs)
