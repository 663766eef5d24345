"""The collector runtime, secrets and the shared HTTP client: concurrency, timeouts, crashes,
retries with Retry-After, TLS verification and ca_bundle, redaction."""
import subprocess
import time

import pytest
from httpfake import FakeServer, closed_port

from policycheck.api import Collector, CollectorError
from policycheck.collect import collect, plan_sources
from policycheck.config import Config
from policycheck.kit.http import HttpClient
from policycheck.plugins import make_plugins
from policycheck.secrets import SecretError, redact, resolve


class FakePlugins:
    def __init__(self, **collectors):
        self.collectors = collectors

    def why_missing_collector(self, name):
        return f"no collector {name}"


def run(sources, **collectors):
    cfg = Config(path=None, base_dir=".", sources=sources)
    return collect(plan_sources(cfg, FakePlugins(**collectors)), concurrency=4)


def ok_collect(settings, ctx):
    return {"entities": {"host": [{"id": settings.get("id", "h1")}]}}


@pytest.mark.realtime
def test_sources_run_concurrently_and_a_hung_one_times_out():
    def slow(settings, ctx):
        time.sleep(30)

    doc = run([{"name": "a", "plugin": "slow", "timeout": 1}, {"name": "b", "plugin": "slow", "timeout": 1},
               {"name": "c", "plugin": "ok"}],
              slow=Collector("slow", slow, kinds=("host",)), ok=Collector("ok", ok_collect))
    st = {s["name"]: s for s in doc["sources"]}
    assert st["a"]["status"] == "error" and "timed out after 1s" in st["a"]["error"]
    assert st["c"]["status"] == "ok" and doc["entities"]["host"][0]["_sources"] == ["c"]


def test_crash_and_malformed_fragment_are_source_errors():
    def crash(settings, ctx):
        raise KeyError("oops")

    doc = run([{"name": "a", "plugin": "crash"}, {"name": "b", "plugin": "bad"}],
              crash=Collector("crash", crash), bad=Collector("bad", lambda s, c: {"entities": {"host": [{"x": 1}]}}))
    st = {s["name"]: s["error"] for s in doc["sources"]}
    assert "collector crashed: KeyError" in st["a"]
    assert "has no string 'id'" in st["b"]


def test_secret_from_env_and_file_never_in_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("PC_PW", "hunter2-env")
    (tmp_path / "pw").write_text("hunter2-file\n")

    def leaky(settings, ctx):
        raise CollectorError(f"login failed for {settings['password']} / {settings['token']}")

    schema = {"type": "object", "properties": {"password": {"type": "string"}, "token": {"type": "string"}}}
    cfg = Config(path=None, base_dir=tmp_path, sources=[{"name": "s", "plugin": "leaky", "password": "${PC_PW}",
                                                         "token_file": "pw"}])
    doc = collect(plan_sources(cfg, FakePlugins(leaky=Collector("leaky", leaky, schema))))
    err = doc["sources"][0]["error"]
    assert "hunter2" not in err and "***" in err


def test_resolve_errors_never_show_values(tmp_path):
    with pytest.raises(SecretError, match="NOPE_NOT_SET is not set"):
        resolve({"password": "${NOPE_NOT_SET}"})
    with pytest.raises(SecretError, match="cannot read"):
        resolve({"password_file": str(tmp_path / "missing")})
    assert redact("a hunter2 b", ["hunter2"]) == "a *** b"


def test_http_retries_on_503_honouring_retry_after():
    calls = []

    def flaky(handler):
        calls.append(time.monotonic())
        return (503, {"Retry-After": "1"}, {"message": "busy"}) if len(calls) < 3 else (200, {}, {"ok": True})

    with FakeServer({"/x": flaky}) as srv:
        assert HttpClient(srv.url, retries=3, backoff=0.01).get_json("/x") == {"ok": True}
    assert len(calls) == 3 and calls[1] - calls[0] >= 0.9


def test_http_gives_up_after_retries_with_reason():
    with FakeServer({"/x": (502, {}, {"message": "bad gateway"})}) as srv, \
            pytest.raises(CollectorError, match=r"HTTP 502 .* after 2 retries"):
        HttpClient(srv.url, retries=2, backoff=0.01).get_json("/x")


def test_http_401_names_the_fix_and_hides_the_password():
    with FakeServer({"/x": (401, {}, {"message": "bad credentials for pw=Sekr1t!"})}) as srv, \
            pytest.raises(CollectorError) as exc:
        HttpClient(srv.url, auth=("audit", "Sekr1t!")).get_json("/x")
    assert "HTTP 401" in str(exc.value) and "username and password" in str(exc.value)
    assert "Sekr1t!" not in str(exc.value)


def test_http_refused_and_timeout():
    with pytest.raises(CollectorError, match="cannot connect"):
        HttpClient(f"http://127.0.0.1:{closed_port()}").get_json("/x")
    with FakeServer({"/x": (200, {}, {}, 3)}) as srv, pytest.raises(CollectorError, match="within 1s"):
        HttpClient(srv.url, timeout=1).get_json("/x")


def test_http_paginate_follows_next():
    with FakeServer() as srv:
        srv.routes["/p1"] = (200, {}, {"results": [1, 2], "next": srv.url + "/p2"})
        srv.routes["/p2"] = (200, {}, {"results": [3], "next": None})
        assert list(HttpClient(srv.url).paginate("/p1")) == [1, 2, 3]


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    import ssl
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    return ctx, str(d / "cert.pem")


def test_tls_verification_on_by_default_and_ca_bundle(tls):
    ctx, cert = tls
    with FakeServer({"/x": (200, {}, {"ok": 1})}, tls_context=ctx) as srv:
        with pytest.raises(CollectorError, match="TLS error"):
            HttpClient(srv.url).get_json("/x")
        assert HttpClient(srv.url, ca_bundle=cert).get_json("/x") == {"ok": 1}
        warnings = []
        assert HttpClient(srv.url, verify_tls=False, warn=warnings.append).get_json("/x") == {"ok": 1}
        assert "TLS verification is OFF" in warnings[0]


def test_builtin_plugins_are_registered_through_the_hooks():
    p = make_plugins(load_entry_points=False)
    assert "file" in p.collectors and {"text", "json", "brief"} <= set(p.reporters)
    assert all(i.builtin for i in p.infos)
    assert p.pm.hook.policycheck_collectors.get_hookimpls()  # the same hook a third party uses


def test_testing_kit_run_source_ok_and_error(tmp_path):
    from policycheck.testing import assert_no_secret, assert_valid_fragment, run_source

    f = tmp_path / "inv.yaml"
    f.write_text("entities:\n  host: [{id: h1, roles: [dns], services: [dns]}]\n")
    r = run_source("file", {"path": str(f)}, load_entry_points=False)
    assert r.status == "ok" and r.error is None
    assert_valid_fragment(r.fragment)
    from policycheck.collect import SourceConfigError

    with __import__("pytest").raises(SourceConfigError, match="not found"):  # a config mistake, before collecting
        run_source("file", {"path": str(tmp_path / "missing.yaml")}, load_entry_points=False)
    f.write_text("entities: [1, 2]\n")
    with __import__("pytest").raises(SourceConfigError, match=r"inv.yaml:1:11: entities must be an object"):
        run_source("file", {"path": str(f)}, load_entry_points=False)
    assert_no_secret("hunter2", r.error, r.document)
    import pytest as _pytest
    with _pytest.raises(AssertionError):
        assert_no_secret("h1", r.document if r.document["entities"] else {"x": "h1"})


def test_paginate_keeps_the_base_origin_and_refuses_other_hosts():
    with FakeServer() as srv:
        port = srv.httpd.server_address[1]
        srv.routes["/p1"] = (200, {}, {"results": [1], "next": f"http://127.0.0.1:{port}/p2?page=2"})
        srv.routes["/p2"] = (200, {}, {"results": [2], "next": "http://evil.example/p3"})
        it = HttpClient(srv.url, token="tok-123").paginate("/p1")
        assert next(it) == 1 and next(it) == 2
        with pytest.raises(CollectorError, match="another host"):
            next(it)
        assert all("evil" not in path for path, _ in srv.requests)


def test_deadline_covers_a_body_that_trickles_in():
    import threading

    def trickle(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        try:
            for _ in range(100):
                handler.wfile.write(b" " * 10)
                handler.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return None

    class Srv(FakeServer):
        pass

    with FakeServer() as srv:
        def route(handler):
            trickle(handler)
            return (200, {}, b"", 0)
        srv.routes["/slow"] = route
        t0 = time.monotonic()
        with pytest.raises(CollectorError, match="time budget"):
            HttpClient(srv.url, timeout=5, deadline=time.monotonic() + 1.0).get_json("/slow")
        assert time.monotonic() - t0 < 4  # never waits for the whole trickle (10 s)
    del threading, Srv
