"""Issue 16 item 6 and 9: the secret-leak scan. Every command and format runs against a server that echoes
the credentials back (the Authorization header, the password raw, XML-, JSON- and URL-escaped) in its error
bodies and data; every output (stdout, stderr, every file, the GitHub step summary) is searched for every
encoding of every secret. The password is a secret only because the third-party collector names its
setting in ``secret_keys``."""
from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote

import pytest
from relhelpers import run_cli, run_main

from policycheck.testing import secret_forms

USER = "svc-reader"
PASSPHRASE = "Pw&<\"'>%/+ Zeta-42!"  # every character that some encoding changes
API_KEY = "AK-7f3e9d2c1b0a"
SCANS = {"runs": 0, "outputs": 0}


def _echo_server():
    """A server that puts every credential it receives, in every encoding, into its answers."""
    import threading

    from httpfake import FakeServer

    def echo(handler, status):
        auth = handler.headers.get("Authorization", "")
        try:
            user, _, pw = base64.b64decode(auth.split(" ", 1)[1]).decode().partition(":")
        except Exception:
            pw = ""
        key = handler.headers.get("X-Api-Key", "")
        body = {"message": f"denied for {auth} pw={pw} xml={html.escape(pw)} url={quote(pw, safe='')} key={key}",
                "detail": f"<fault><pw>{html.escape(pw)}</pw></fault>"}
        if status == 200:
            return (200, {}, {"count": 1, "items": [{"name": "bk01.corp.example", "roles": ["backup_server", pw],
                                                     "services": [key], "note": f"auth {auth}"}]})
        return (status, {}, body)

    srv = FakeServer({"/api/servers": lambda h: echo(h, srv.status)})
    srv.status = 401
    srv.thread = threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    return srv


def _config(tmp_path, url, **extra):
    (tmp_path / "pass.txt").write_text(PASSPHRASE + "\n")
    cfg = {"version": 1, "select": ["BSRV-001"], "sources": [dict({
        "name": "rel", "plugin": "relcheck", "url": url, "timeout": 5, "username": USER,
        "passphrase_file": "pass.txt", "api_key": "${REL_API_KEY}"}, **extra)]}
    p = tmp_path / "policycheck.yaml"
    p.write_text(json.dumps(cfg))
    return p


FORMS = [(name, f) for name, secret, users in (("passphrase", PASSPHRASE, (USER,)), ("api_key", API_KEY, ()))
         for f in secret_forms(secret, users)]


def _scan(*texts):
    SCANS["runs"] += 1
    for i, t in enumerate(texts):
        SCANS["outputs"] += 1
        for name, form in FORMS:
            assert form not in t, f"{name} leaked into output #{i} as {form!r}"


def _outputs(tmp_path):
    return [p.read_text(errors="replace") for p in sorted(tmp_path.rglob("*")) if p.is_file()
            and p.name not in ("pass.txt",)]


def test_the_echo_server_really_echoes(tmp_path):
    """The scan is only worth something if the secrets do reach the collector's error and data."""
    import requests

    with _echo_server() as srv:
        r = requests.get(srv.url + "/api/servers", auth=(USER, PASSPHRASE), headers={"X-Api-Key": API_KEY})
    assert html.escape(PASSPHRASE) in r.text and API_KEY in r.text
    assert base64.b64encode(f"{USER}:{PASSPHRASE}".encode()).decode() in r.text
    assert len(FORMS) > 20


COMMANDS = [
    ["collect"], ["collect", "-o", "{out}/snap.json"],
    ["check"], ["audit"], ["check", "--format", "json"], ["check", "--format", "junit"],
    ["check", "--format", "markdown"], ["audit", "--format", "brief", "-v"],
    ["check", "--json", "{out}/r.json", "--junit", "{out}/r.xml", "--markdown", "{out}/r.md", "-o", "{out}/r.txt"],
]


@pytest.mark.parametrize("status", [401, 500, 200])
@pytest.mark.parametrize("github", [False, True])
def test_no_secret_in_any_output(tmp_path, with_plugin, status, github):
    with _echo_server() as srv:
        srv.status = status
        cfg = _config(tmp_path, srv.url)
        out = tmp_path / "out"
        out.mkdir()
        env = {"REL_API_KEY": API_KEY}
        if github:
            env.update(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(out / "summary.md"))
        for cmd in COMMANDS:
            rc, stdout, stderr = run_main([c.format(out=out) for c in cmd] + ["-c", cfg], env=env)
            assert rc in (0, 1, 3), stderr
            _scan(stdout, stderr, *_outputs(out))
        if status == 200:  # the data really carried the secrets: the report would have shown them
            snap = (out / "snap.json").read_text()
            assert "***" in snap


def test_secret_in_a_config_error_is_masked(tmp_path, with_plugin):
    """A setting the schema refuses: jsonschema's message quotes the value; only secret_keys makes
    the plugin's ``passphrase`` a secret."""
    long_secret = "Qx" + PASSPHRASE * 4  # over the schema's maxLength
    (tmp_path / "pass.txt").write_text(long_secret)
    cfg = {"version": 1, "sources": [{"name": "rel", "plugin": "relcheck", "url": "http://127.0.0.1:9",
                                      "username": USER, "passphrase_file": "pass.txt"}]}
    p = tmp_path / "c.yaml"
    p.write_text(json.dumps(cfg))
    rc, out, err = run_main(["check", "-c", p], env={"REL_API_KEY": API_KEY})
    assert rc == 2 and "c.yaml:1:" in err and "too long" in err
    for f in secret_forms(long_secret, (USER,)):
        assert f not in out + err


@pytest.mark.parametrize("url", ["http://{u}:{p}@127.0.0.1:9/api", "htp://{u}:{p}@127.0.0.1:99999",
                                 "https://{u}:{p}@netbox.example"])
def test_credentials_in_a_url_are_refused_at_config_time(tmp_path, with_plugin, url):
    secret = "UrlPw-93kd"
    cfg = {"version": 1, "sources": [{"name": "rel", "plugin": "relcheck",
                                      "url": url.format(u=USER, p=secret)}]}
    p = tmp_path / "c.yaml"
    p.write_text(json.dumps(cfg))
    for cmd in (["check"], ["collect"], ["audit", "--format", "json"]):
        rc, out, err = run_main(cmd + ["-c", p])
        assert rc == 2, err
        assert "put the password in password/password_file"  in err
        assert "c.yaml:1:" in err  # located
        assert secret not in out + err


def test_credentials_in_a_url_from_the_environment_are_refused(tmp_path, with_plugin):
    cfg = {"version": 1, "sources": [{"name": "rel", "plugin": "relcheck", "url": "${REL_URL}"}]}
    p = tmp_path / "c.yaml"
    p.write_text(json.dumps(cfg))
    rc, out, err = run_main(["check", "-c", p], env={"REL_URL": "http://u:EnvPw-4431@127.0.0.1:9"})
    assert rc == 2 and "password/password_file" in err and "EnvPw-4431" not in out + err


def test_leak_scan_as_a_user_runs_it(tmp_path):
    """One end-to-end pass in a real process (entry point discovery, console output encoding)."""
    with _echo_server() as srv:
        cfg = _config(tmp_path, srv.url)
        rc, out, err = run_cli("audit", "-c", cfg, env={"REL_API_KEY": API_KEY})
    assert rc == 3 and "HTTP 401" in out + err
    _scan(out, err)


def test_secret_keys_is_read_by_the_runtime(tmp_path, with_plugin):
    """``Collector.secret_keys`` decides which settings are secrets: resolved from *_file and redacted."""
    from policycheck.secrets import resolve

    settings, found = resolve({"passphrase": "abc-123", "other": "x"}, ".", secret_keys=("passphrase",))
    assert found == ["abc-123"]
    settings, found = resolve({"passphrase": "abc-123"}, ".")
    assert found == []
    from policycheck.collect import plan_sources
    from policycheck.config import Config
    from policycheck.plugins import make_plugins

    (tmp_path / "p.txt").write_text("file-secret-77")
    cfg = Config(path=None, base_dir=tmp_path, sources=[{"name": "s", "plugin": "relcheck", "url": "http://x",
                                                         "passphrase_file": "p.txt"}])
    plan = plan_sources(cfg, make_plugins())[0]
    assert plan.settings["passphrase"] == "file-secret-77" and "file-secret-77" in plan.secrets
