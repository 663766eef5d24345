"""Plugins as a user installs them: entry-point discovery, a broken or misspelled plugin named while the
rest goes on, disabling, a third-party collector/reporter/policy dir, and fail-closed sources."""
import json
import re
import subprocess
import sys

import pytest
from httpfake import FakeServer, closed_port
from pchelpers import ROOT, run_cli

DATA = ROOT / "tests" / "data"
TOKEN = "s3cr3t-T0KEN-value"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo, broken and typo plugins pip-installed into a private site directory."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target)] + [str(DATA / n) for n in ("demo-plugin", "broken-plugin", "typo-plugin")],
                   check=True, capture_output=True, timeout=300)
    return target


def cli(site, *args, env=None, cwd=None):
    e = {"PYTHONPATH": str(site)}
    e.update(env or {})
    return run_cli(*args, env=e, cwd=cwd)


def config(tmp_path, url, extra=""):
    (tmp_path / "inv.yaml").write_text(
        "entities:\n  backup_server: [{id: bk, host: bk, product: bacula}]\n")
    cfg = tmp_path / "policycheck.yaml"
    cfg.write_text(f"version: 1\nsources:\n  - {{name: inv, plugin: file, path: inv.yaml}}\n"
                   f"  - {{name: cmdb, plugin: democmdb, url: '{url}', token: '${{DEMO_TOKEN}}', timeout: 3{extra}}}\n")
    return cfg


def test_plugins_listing_names_versions_providers_and_errors(site):
    code, out, err = cli(site, "plugins")
    assert code == 0
    assert "demo" in out and "0.3.1" in out and "collectors: democmdb" in out and "reporters: csv" in out
    assert "broken" in out and "ModuleNotFoundError" in out and "this_module_does_not_exist" in out
    assert "unknown hook 'policycheck_colectors' (did you mean 'policycheck_collectors'?)" in out
    assert "builtin-file" in out and "collectors: file" in out
    assert "derivations: backup_server.demo_checked" in out  # the demo plugin's registered derivation
    assert "builtin-derivations" in out and re.search(r"derivations: \d+ \(host\.vm, ", out)


def test_third_party_collector_reporter_and_policies_run(site, tmp_path):
    routes = {"/hosts": (200, {}, [{"name": "bk", "roles": ["backup_server"], "services": ["backup"]}])}
    with FakeServer(routes) as srv:
        cfg = config(tmp_path, srv.url)
        code, out, err = cli(site, "check", "-c", cfg, "--select", "BSRV-001", "--select", "DEMO-*",
                             "--format", "csv", env={"DEMO_TOKEN": TOKEN})
        assert srv.requests[0][1]["Authorization"] == f"Bearer {TOKEN}"
    assert code == 0, err
    assert "BSRV-001,bk,pass" in out and "DEMO-001,bk,pass" in out
    assert "plugin 'broken'" in err  # named, while the run went on


def test_closed_port_gives_error_results_exit_3_and_no_secret(site, tmp_path):
    cfg = config(tmp_path, f"http://127.0.0.1:{closed_port()}")
    outs = []
    for fmt in ("brief", "json", "text"):
        code, out, err = cli(site, "check", "-c", cfg, "--select", "BSRV-001", "--format", fmt,
                             env={"DEMO_TOKEN": TOKEN})
        assert code == 3
        outs += [out, err]
        if fmt == "json":
            data = json.loads(out)
            assert {r["status"] for r in data["results"]} == {"error"}
            src = [s for s in data["sources"] if s["name"] == "cmdb"][0]
            assert src["status"] == "error" and "cannot connect" in src["error"]
    code, out, err = cli(site, "collect", "-c", cfg, env={"DEMO_TOKEN": TOKEN})
    assert code == 3
    outs += [out, err]
    assert all(TOKEN not in o for o in outs)


@pytest.mark.parametrize("status,needle", [(401, "HTTP 401"), (403, "HTTP 403"), (500, "HTTP 500")])
def test_http_failures_are_errors_with_reason_and_no_secret(site, tmp_path, status, needle):
    routes = {"/hosts": (status, {}, {"detail": f"denied for token {TOKEN}"})}
    with FakeServer(routes) as srv:
        cfg = config(tmp_path, srv.url)
        code, out, err = cli(site, "check", "-c", cfg, "--select", "BSRV-001", env={"DEMO_TOKEN": TOKEN})
    assert code == 3 and needle in out
    assert TOKEN not in out + err


def test_malformed_and_slow_answers(site, tmp_path):
    routes = {"/hosts": (200, {}, b"{not json", 0)}
    with FakeServer(routes) as srv:
        cfg = config(tmp_path, srv.url)
        code, out, _ = cli(site, "check", "-c", cfg, "--select", "BSRV-001", env={"DEMO_TOKEN": TOKEN})
        assert code == 3 and "malformed JSON" in out
        srv.routes["/hosts"] = (200, {}, [], 6)
        code, out, _ = cli(site, "check", "-c", cfg, "--select", "BSRV-001", env={"DEMO_TOKEN": TOKEN})
        assert code == 3 and ("timed out" in out or "timeout" in out)


def test_disable_plugin_by_flag_and_environment(site, tmp_path):
    cfg = config(tmp_path, "http://127.0.0.1:1")
    code, out, _ = cli(site, "check", "-c", cfg, "--disable-plugin", "demo", "--select", "BSRV-001",
                       env={"DEMO_TOKEN": TOKEN})
    assert code == 3 and "disabled" in out
    code, out, _ = cli(site, "plugins", env={"POLICYCHECK_DISABLE_PLUGINS": "demo,broken"})
    assert "disabled" in out and "this_module_does_not_exist" not in out


def test_unset_secret_variable_is_a_usage_error(site, tmp_path):
    cfg = config(tmp_path, "http://127.0.0.1:1")
    code, out, err = cli(site, "check", "-c", cfg, env={"DEMO_TOKEN": ""})
    import os
    env = {k: v for k, v in os.environ.items() if k != "DEMO_TOKEN"}
    p = subprocess.run([sys.executable, "-m", "policycheck", "check", "-c", str(cfg)],
                       env=dict(env, PYTHONPATH=str(site)), capture_output=True, text=True)
    assert p.returncode == 2 and "DEMO_TOKEN is not set" in p.stderr and "Traceback" not in p.stderr


def test_invalid_plugin_settings_are_located(site, tmp_path):
    cfg = config(tmp_path, "http://x", extra=", verfy_tls: false")
    code, _, err = cli(site, "check", "-c", cfg, env={"DEMO_TOKEN": TOKEN})
    assert code == 2 and "unknown setting 'verfy_tls' (did you mean 'verify_tls'?)" in err
    assert "policycheck.yaml:4:" in err


def test_collector_warnings_reach_stderr_through_the_cli(site, tmp_path):
    routes = {"/hosts": (200, {}, [{"name": "bk", "roles": ["backup_server"], "services": []}])}
    with FakeServer(routes) as srv:
        cfg = config(tmp_path, srv.url, extra=", verify_tls: false")
        code, out, err = cli(site, "check", "-c", cfg, "--select", "BSRV-001", env={"DEMO_TOKEN": TOKEN})
    assert code == 0
    assert "warning: source cmdb: WARNING: TLS verification is OFF" in err and TOKEN not in err


DERIVED_POLICY = """id: XDEMO-009
title: The demo plugin's derivation marked the server
severity: high
target: backup_server
rationale: Proves a plugin derivation reaches the engine.
remediation: Nothing to do, the policy exists for the test.
require:
  fact: demo_checked
  equals: true
"""
SERVER_FACTS = {"schema_version": 1, "collected_at": "2026-11-25T06:00:00+00:00",
                "sources": [{"name": "inv", "plugin": "file", "status": "ok", "kinds": ["backup_server", "host"],
                             "objects": 2, "duration_s": 0.0, "error": None}],
                "entities": {"host": [{"id": "bk"}],
                             "backup_server": [{"id": "bk", "host": "bk", "product": "bacula"}]}, "conflicts": []}


@pytest.mark.parametrize("disabled", [False, True])
def test_check_and_policies_test_run_the_same_plugin_derivation(site, tmp_path, disabled):
    """`check` and `policies test` go through pipeline.run, so the demo plugin's policycheck_derive_facts
    reaches both: with the plugin both pass; with it disabled both see the fact missing (issue 17, item 3)."""
    import yaml

    pol = tmp_path / "pol"
    pol.mkdir()
    (pol / "xdemo-009.yaml").write_text(DERIVED_POLICY)
    snap = tmp_path / "facts.json"
    snap.write_text(json.dumps(SERVER_FACTS))
    cases = tmp_path / "xdemo-009-tests.yaml"
    want = "error" if disabled else "pass"
    cases.write_text(yaml.safe_dump({"policy": "XDEMO-009", "facts": SERVER_FACTS,
                                     "cases": [{"name": "derived by the plugin", "expect": {"bk": want}}]}))
    env = {"POLICYCHECK_DISABLE_PLUGINS": "demo"} if disabled else {}
    code, out, err = cli(site, "check", "--facts", snap, "--no-builtin", "--policies", pol, "--select", "XDEMO-009",
                         "--format", "json", env=env)
    assert code == (3 if disabled else 0), err
    (result,) = json.loads(out)["results"]
    assert result["status"] == want
    code, out, err = cli(site, "policies", "test", cases, "--policies", pol, env=env)
    assert code == 0, out + err
    assert "1 passed, 0 failed" in out


def test_a_plugin_derivation_is_used_identically_by_check_and_policies_test(site, tmp_path):
    """The demo plugin registers backup_server.demo_checked through policycheck_derivations: `check` and
    `policies test` both run it (issue 17), and the derived value credits the source it came from."""
    facts = tmp_path / "f.json"
    facts.write_text(json.dumps({
        "schema_version": 1, "collected_at": "2026-11-25T06:00:00+00:00",
        "sources": [{"name": "inv", "plugin": "file", "status": "ok", "kinds": ["backup_server"]}],
        "entities": {"backup_server": [{"id": "named", "host": "named", "product": "networker", "_sources": ["inv"]},
                                       {"id": "unnamed", "host": "unnamed", "_sources": ["inv"]}]}}))
    code, out, err = cli(site, "check", "--facts", facts, "--select", "DEMO-002", "--format", "json")
    res = {r["target_id"]: r for r in json.loads(out)["results"]}
    assert {k: r["status"] for k, r in res.items()} == {"named": "pass", "unnamed": "error"}, err
    assert res["named"]["evidence"][0]["source"] == "derived from inv"
    assert "its product is not recorded" in res["unnamed"]["message"]
    code, out, err = cli(site, "policies", "test", DATA / "demo-plugin" / "policy-tests")
    assert code == 0, out + err
    assert "1 passed, 0 failed" in out
    assert "DeprecationWarning" not in err  # the demo plugin uses the typed hook
    code, out, err = cli(site, "policies", "show", "DEMO-002")  # and `policies show` names it
    assert code == 0, err
    assert "backup_server.demo_checked  [derivation: demo, policycheck_demo.plugin.derive_demo_checked]" in out
    assert "inputs: backup_server.product" in out


IO_MODULES = {"requests", "subprocess", "socket", "urllib", "http", "pyVmomi", "policycheck.kit.http",
              "policycheck.kit.proc"}


@pytest.mark.parametrize("package", sorted(p.relative_to(ROOT).as_posix()
                                           for p in (ROOT / "plugins").glob("policycheck-*/policycheck_*")
                                           if p.is_dir() and not p.name.endswith(".egg-info")))
def test_every_plugin_has_the_one_shape_and_its_mapping_does_no_io(package):
    """Every plugin: plugin.py (registration, settings schema), client.py (transport), mapping (pure),
    collect.py (orchestration); neither plugin.py nor the mapping imports a transport (README, Layout)."""
    import ast

    pkg = ROOT / package
    for name in ("plugin.py", "client.py", "collect.py"):
        assert (pkg / name).is_file(), f"{package} has no {name}"
    mapping = [pkg / "mapping.py"] if (pkg / "mapping.py").is_file() else sorted((pkg / "mapping").glob("*.py"))
    assert mapping, f"{package} has no mapping.py or mapping/"
    for path in [pkg / "plugin.py", *mapping]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for n in names:
                assert n not in IO_MODULES and n.split(".")[0] not in IO_MODULES, \
                    f"{path.relative_to(ROOT)} imports {n}: transport belongs in client.py"
