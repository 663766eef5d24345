"""policycheck.testing's kit half: collect_context, run_cli, FakeHTTPServer, make_cert, need."""
from __future__ import annotations

import os
import time

import pytest
import requests

from policycheck.api import Collector
from policycheck.kit.http import HttpClient, HttpError
from policycheck.testing import (
    Answer,
    CliResult,
    FakeHTTPServer,
    collect_context,
    json_answer,
    make_cert,
    need,
    run_cli,
)

# --- need() ------------------------------------------------------------------------------------


def test_need_passes_when_available(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert need(True, "bconsole") is None


def test_need_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no vcsim here"):
        need(False, "no vcsim here")


@pytest.mark.parametrize("value", ["true", "TRUE"])
def test_need_fails_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=r"no vcsim here \(CI=true: failing instead of skipping\)"):
        need(False, "no vcsim here")


def test_need_skips_when_ci_is_something_else(monkeypatch):
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        need(None, "missing")


# --- collect_context() -------------------------------------------------------------------------

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["url"],
          "properties": {"url": {"type": "string"}, "username": {"type": "string"},
                         "password": {"type": "string"}, "page_size": {"type": "integer", "minimum": 1}}}


@pytest.fixture
def demo_plugin(monkeypatch):
    """A collector 'kitdemo' registered next to the built-ins (what an installed plugin would add)."""
    import policycheck.plugins as plugins_mod

    real = plugins_mod.make_plugins

    def make(*a, **kw):
        p = real(*a, load_entry_points=False)
        p.collectors["kitdemo"] = Collector(name="kitdemo", collect=lambda s, ctx: {"entities": {}},
                                            config_schema=SCHEMA, kinds=("host",))
        return p
    monkeypatch.setattr(plugins_mod, "make_plugins", make)
    return "kitdemo"


def test_collect_context_resolves_a_secret_from_the_environment_and_registers_it(demo_plugin, monkeypatch):
    from policycheck.secrets import redact_all

    monkeypatch.delenv("KIT_DEMO_PW", raising=False)
    col, settings, ctx = collect_context(demo_plugin, {"url": "http://x", "username": "ops",
                                                       "password": "${KIT_DEMO_PW}"},
                                         name="dz1", timeout=7, env={"KIT_DEMO_PW": "kit-pw-4711"})
    assert col.name == "kitdemo"
    assert settings == {"url": "http://x", "username": "ops", "password": "kit-pw-4711"}
    assert "KIT_DEMO_PW" not in os.environ  # env was applied only while resolving
    assert ctx.source == "dz1" and ctx.timeout == 7 and ctx.deadline is not None
    assert ctx.deadline > time.monotonic()
    assert "kit-pw-4711" in ctx.secrets
    assert ctx.redact("login kit-pw-4711 failed") == "login *** failed"
    ctx.warn("the server said kit-pw-4711")
    assert ctx.warnings == ["the server said ***"]
    assert "kit-pw-4711" not in redact_all("anywhere in the output: kit-pw-4711")  # registered process-wide


def test_collect_context_runs_the_settings_schema(demo_plugin):
    from policycheck.collect import SourceConfigError

    with pytest.raises(SourceConfigError, match="unknown setting 'pagesize'"):
        collect_context(demo_plugin, {"url": "http://x", "pagesize": 10})
    with pytest.raises(SourceConfigError, match="'url' is a required property"):
        collect_context(demo_plugin, {})
    with pytest.raises(SourceConfigError, match="environment variable KIT_UNSET_VAR is not set"):
        collect_context(demo_plugin, {"url": "http://x", "password": "${KIT_UNSET_VAR}"},
                        env={"KIT_UNSET_VAR": None})


def test_collect_context_context_builds_the_kit_client(demo_plugin):
    _, settings, ctx = collect_context(demo_plugin, {"url": "http://127.0.0.1:1"}, timeout=3)
    client = ctx.http(settings["url"])
    assert isinstance(client, HttpClient) and client.deadline == ctx.deadline


def test_collect_context_of_an_unknown_plugin_is_a_config_error():
    from policycheck.collect import SourceConfigError

    with pytest.raises((SourceConfigError, LookupError)):
        collect_context("no-such-plugin-xyz", {})


# --- run_cli() ---------------------------------------------------------------------------------


def test_run_cli_returns_code_and_output():
    r = run_cli(["--version"])
    assert isinstance(r, CliResult) and r.code == 0 and "policycheck" in r.stdout


def test_run_cli_turns_a_usage_error_into_its_exit_code():
    r = run_cli(["no-such-command"])
    assert r.code == 2 and "invalid choice" in r.stderr and r.stdout == ""


def test_run_cli_restores_cwd_and_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_KEEP", "1")
    here = os.getcwd()
    r = run_cli(["policies", "list"], cwd=tmp_path, env={"KIT_KEEP": None, "NO_COLOR": "1"})
    assert r.code == 0, r.stderr
    assert os.getcwd() == here and os.environ["KIT_KEEP"] == "1"


# --- FakeHTTPServer ----------------------------------------------------------------------------


def test_fake_server_routes_records_and_answers_tuples_and_callables():
    routes = {("GET", "/a"): (201, {"X-T": "1"}, {"a": 1}),
              ("POST", "/b"): lambda req: json_answer({"got": req.json()})}
    with FakeHTTPServer(routes) as srv:
        r = requests.get(srv.url + "/a?x=1", headers={"X-Who": "me"}, timeout=10)
        assert (r.status_code, r.headers["X-T"], r.json()) == (201, "1", {"a": 1})
        assert requests.post(srv.url + "/b", json={"k": "v"}, timeout=10).json() == {"got": {"k": "v"}}
        assert requests.get(srv.url + "/nope", timeout=10).status_code == 404
    first = srv.requests[0]
    assert (first.method, first.path, first.query, first.headers["X-Who"]) == ("GET", "/a", {"x": ["1"]}, "me")
    assert [r.method for r in srv.requests] == ["GET", "POST", "GET"]


@pytest.mark.realtime
def test_fake_server_delay_makes_the_client_time_out():
    with (FakeHTTPServer({("GET", "/slow"): json_answer([])}, delay=30) as srv,
          pytest.raises(HttpError, match=r"no answer from .*/slow within 0.5s \(timeout\)") as exc):
        HttpClient(srv.url, timeout=0.5, retries=0).get_json("/slow")
    assert exc.value.status is None and exc.value.endpoint == "/slow"


@pytest.mark.realtime
def test_fake_server_stall_after_n_bytes_cuts_the_answer_short():
    with FakeHTTPServer({("GET", "/stall"): json_answer({"items": list(range(1000))})}, stall_after=50) as srv:
        with pytest.raises(HttpError, match=r"(reading the answer from|still arriving).*/stall") as exc:
            HttpClient(srv.url, timeout=0.5, retries=0).get_json("/stall")
        assert exc.value.endpoint == "/stall"
        # per-answer values win over the server's: this one is whole
        srv.routes[("GET", "/whole")] = Answer(200, b"[1]", stall_after=None)
        srv.stall_after = None
        assert HttpClient(srv.url, timeout=5).get_json("/whole") == [1]


# --- make_cert() and TLS ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_env_ca(monkeypatch):
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize("backend", ["cryptography", "openssl"])
def test_make_cert_certificates_are_accepted_with_the_ca_bundle_and_refused_without(tmp_path, monkeypatch, backend):
    import sys

    if backend == "openssl":
        monkeypatch.setitem(sys.modules, "cryptography", None)  # import fails: the openssl CLI path
    certs = make_cert(tmp_path / "pki")
    assert certs.ca_pem.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert oct(certs.key_pem.stat().st_mode & 0o777) == "0o600"
    with FakeHTTPServer({("GET", "/api/ping"): json_answer({"pong": True})},
                        tls=(certs.cert_pem, certs.key_pem)) as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        assert requests.get(srv.url + "/api/ping", verify=str(certs.ca_pem), timeout=10).json() == {"pong": True}
        assert requests.get(f"https://localhost:{srv.port}/api/ping", verify=str(certs.ca_pem),
                            timeout=10).json() == {"pong": True}
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(srv.url + "/api/ping", timeout=10)
        assert HttpClient(srv.url, ca_bundle=str(certs.ca_pem)).get_json("/api/ping") == {"pong": True}
        with pytest.raises(HttpError, match="TLS error talking to") as exc:
            HttpClient(srv.url, retries=0).get_json("/api/ping")
        assert exc.value.status is None and exc.value.endpoint == "/api/ping"


def test_a_cert_for_other_names_is_refused(tmp_path):
    certs = make_cert(tmp_path, hostnames=("nsr.example.test",))
    with (FakeHTTPServer({("GET", "/"): json_answer({})}, tls=(certs.cert_pem, certs.key_pem)) as srv,
          pytest.raises(requests.exceptions.SSLError)):
        requests.get(srv.url + "/", verify=str(certs.ca_pem), timeout=10)


def test_fake_server_cut_after_n_bytes_is_a_truncated_answer():
    with (FakeHTTPServer({("GET", "/cut"): json_answer({"items": list(range(1000))}, cut_after=40)}) as srv,
          pytest.raises(HttpError, match=r"reading the answer from .*/cut failed") as exc):
        HttpClient(srv.url, timeout=10).get_json("/cut")
    assert exc.value.status is None and exc.value.endpoint == "/cut"


@pytest.mark.realtime
def test_fake_server_trickle_runs_past_the_deadline():
    body = {"items": list(range(2000))}
    # a piece every 0.4 s: no single read waits long, the whole answer outlasts the deadline
    with FakeHTTPServer({("GET", "/drip"): json_answer(body, trickle=8)}) as srv:
        with pytest.raises(HttpError, match=r"answer from .*/drip was still arriving when the time budget ran out"):
            HttpClient(srv.url, timeout=10, deadline=time.monotonic() + 1.5).get_json("/drip")
        srv.routes[("GET", "/quick")] = json_answer(body, trickle=0.2)
        assert HttpClient(srv.url, timeout=10).get_json("/quick") == body


def test_fake_server_counts_requests_in_flight():
    import threading

    both = threading.Barrier(2, timeout=30)

    def meet(req):
        both.wait()
        return json_answer({"ok": True})
    with FakeHTTPServer({("GET", "/meet"): meet}) as srv:
        threads = [threading.Thread(target=requests.get, args=(srv.url + "/meet",), kwargs={"timeout": 30})
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert srv.max_in_flight == 2 and srv.in_flight == 0 and len(srv.requests) == 2


def test_a_route_that_raises_is_answered_500_naming_it_and_recorded():
    """A bug in a fake's route is not a silent dropped connection: the client gets a 500 naming the
    exception, and the server keeps it for the test to assert on."""
    import requests

    from policycheck.testing import FakeHTTPServer

    def broken(req):
        raise KeyError("no such fixture")

    with FakeHTTPServer({("GET", "/x"): broken}) as srv:
        resp = requests.get(srv.url + "/x", timeout=5)
    assert resp.status_code == 500
    assert "KeyError: 'no such fixture'" in resp.json()["fake_server_error"]
    assert len(srv.errors) == 1 and isinstance(srv.errors[0], KeyError)
