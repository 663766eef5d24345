"""The CLI as a user runs it: every exit code, golden text and JSON reports on the example datazone,
located errors without tracebacks, collect and --facts round trip."""
import json
import os
import re

import jsonschema
import pytest
from pchelpers import EXAMPLE, ROOT, run_cli

CONFIG = EXAMPLE / "policycheck.yaml"
GOLDEN = ROOT / "tests" / "golden"
TIMES = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)")


def normalise(text):
    text = re.sub(r"(facts collected |observed )" + TIMES.pattern, r"\1<time>", text)
    return re.sub(r"policycheck \d+\.\d+\.\d+", "policycheck <version>", text)


def golden(name, text):
    path = GOLDEN / name
    if os.environ.get("POLICYCHECK_UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; rerun with POLICYCHECK_UPDATE_GOLDEN=1 if intended"


def test_audit_example_golden_text():
    code, out, err = run_cli("audit", "-c", CONFIG)
    assert code == 1, err
    for needle in ("FAIL", "PASS", "SKIP", "WAIVED", "evidence:", "fix:", "Summary:"):
        assert needle in out
    golden("audit-example.txt", normalise(out).replace(str(ROOT), "<root>"))


def test_check_example_json_golden_and_schema(tmp_path):
    code, out, err = run_cli("check", "-c", CONFIG, "--format", "json")
    assert code == 1
    data = json.loads(out)
    schema = json.loads((ROOT / "policycheck" / "schemas" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    assert data["schema_version"] == 1
    statuses = {(r["policy_id"], r["target_id"]): r["status"] for r in data["results"]}
    assert statuses[("BOOT-002", "nsr-dir.corp.example")] == "fail"
    assert statuses[("BOOT-002", "nsr01.corp.example")] == "pass"
    assert statuses[("VIRT-001", "nsr01.corp.example")] == "skip"
    assert statuses[("BMR-001", "db01.corp.example")] == "waived"
    for key in ("generated_at", "collected_at"):
        data[key] = "<time>"
    data["evaluated_at"]["where"] = data["evaluated_at"]["where"].replace(str(ROOT), "<root>")
    for r in data["results"]:
        for e in r["evidence"]:
            if e.get("observed_at"):
                e["observed_at"] = "<time>"
    data["tool"]["version"] = "<version>"
    for s in data["sources"]:
        s["duration_s"] = 0
    golden("check-example.json", json.dumps(data, indent=1, sort_keys=True).replace(str(ROOT), "<root>") + "\n")


def test_report_envelope_contract_keys():
    """The envelope's top-level shape is a contract: renaming or removing a key needs a schema_version bump;
    a key added (optional in the schema, so version-1 readers and older reports stay valid) is listed here."""
    code, out, _ = run_cli("check", "-c", CONFIG, "--format", "json")
    data = json.loads(out)
    assert sorted(data) == ["collected_at", "controls", "evaluated_at", "generated_at", "notes", "policies", "results",
                            "schema_version", "sources", "summary", "tool", "waivers"]
    assert data["schema_version"] == 1
    assert data["evaluated_at"]["time"] == "2026-11-25T06:00:00+00:00"
    assert data["evaluated_at"]["source"] == "config as_of" and data["evaluated_at"]["where"].endswith(
        "policycheck.yaml:7:8")
    schema = json.loads((ROOT / "policycheck" / "schemas" / "report.schema.json").read_text())
    assert "evaluated_at" in schema["properties"] and "evaluated_at" not in schema["required"]
    assert sorted(data["results"][0]) >= ["evidence", "message", "policy_id", "severity", "status", "target_id",
                                          "target_kind", "title"]


def test_collect_then_facts_round_trip(tmp_path):
    snap = tmp_path / "facts.json"
    code, out, err = run_cli("collect", "-c", CONFIG, "-o", snap)
    assert code == 0, err
    from policycheck.testing import assert_valid_facts
    assert_valid_facts(json.loads(snap.read_text()))
    c1, live, _ = run_cli("check", "-c", CONFIG, "--format", "json")
    c2, saved, _ = run_cli("check", "--facts", snap, "--as-of", "2026-11-25T06:00:00+00:00", "--format", "json",
                           "--waivers", EXAMPLE / "waivers.yaml", "--param", "BSRV-002.max_dependencies=3")
    assert c1 == c2 == 1
    def strip(d):
        return sorted((r["policy_id"], r["target_id"], r["status"]) for r in json.loads(d)["results"])
    assert strip(live) == strip(saved)


def test_exit_0_when_everything_passes(write_facts):
    p = write_facts({"host": [{"id": "bk", "roles": ["backup_server"], "services": ["backup"]}],
                     "backup_server": [{"id": "bk", "host": "bk"}]})
    assert run_cli("check", "--facts", p, "--select", "BSRV-001")[0] == 0


def test_exit_3_when_only_errors(write_facts):
    p = write_facts({"backup_server": [{"id": "bk", "host": "bk"}]})
    code, out, _ = run_cli("check", "--facts", p, "--select", "BSRV-001")
    assert code == 3 and "ERROR" in out
    assert run_cli("check", "--facts", p, "--select", "BSRV-001", "--no-fail-on-error")[0] == 0


def test_fail_on_threshold(write_facts):
    p = write_facts({"host": [{"id": "bk", "roles": ["backup_server"], "services": ["backup"], "depends_on": ["a", "b", "c", "d"]}]
                     + [{"id": x, "depends_on": []} for x in "abcd"],
                     "backup_server": [{"id": "bk", "host": "bk"}]})
    assert run_cli("check", "--facts", p, "--select", "BSRV-002")[0] == 1          # medium >= low
    assert run_cli("check", "--facts", p, "--select", "BSRV-002", "--fail-on", "high")[0] == 0
    assert run_cli("check", "--facts", p, "--select", "BSRV-002", "--soft-fail")[0] == 0


@pytest.mark.parametrize("args,needle", [
    (["check", "--facts", "nope.json"], "facts snapshot not found"),
    (["check", "-c", "nope.yaml"], "config file not found"),
    (["check", "--facts", "{facts}", "--select", "NOPE-*"], "matches no policy"),
    (["check", "--facts", "{facts}", "--param", "BOOT-001.max_age=soon"], "not a duration"),
    (["check", "--facts", "{facts}", "--param", "BOOT-001.maxage=1d"], "did you mean 'max_age'"),
    (["check", "--facts", "{facts}", "--format", "xml"], "unknown format 'xml'"),
    (["check", "--facts", "{facts}", "--fail-on-new"], "--fail-on-new needs --baseline"),
    (["policies", "show", "BOOT-01"], "no policy 'BOOT-01' (did you mean 'BOOT-001'?)"),
    (["check", "--bogus"], "unrecognized arguments"),
])
def test_usage_errors_exit_2_without_traceback(args, needle, write_facts):
    p = write_facts({"backup_server": []})
    code, out, err = run_cli(*[a.replace("{facts}", str(p)) for a in args])
    assert code == 2
    assert needle in err
    assert "Traceback" not in err


def test_malformed_policy_one_located_line_exit_2(tmp_path):
    pol = tmp_path / "boot.yaml"
    pol.write_text("id: BOOT-101\ntitle: x policy\nseverity: high\ntarget: backup_server\n"
                   "rationale: why it matters\nremediation: what to do now\nrequire:\n  all:\n"
                   "    - fact: latest_bootstrap\n      exists: true\n    - fact: latest_bootstrap\n      equal: 3\n")
    code, out, err = run_cli("policies", "validate", pol, cwd=tmp_path)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["policycheck: error: boot.yaml:12:7 BOOT-101 require.all[1].equal: unknown operator 'equal' "
                     "(did you mean 'equals'?)"]


def test_bad_config_is_located(tmp_path):
    cfg = tmp_path / "policycheck.yaml"
    cfg.write_text("version: 1\nsources:\n  - name: inv\n    plugin: file\n    pth: x.yaml\n")
    code, _, err = run_cli("check", "-c", cfg)
    assert code == 2 and "policycheck.yaml:5:5" in err and "did you mean 'path'" in err


def test_unknown_plugin_is_a_config_error_not_a_verdict(tmp_path):
    cfg = tmp_path / "policycheck.yaml"
    (tmp_path / "inv.yaml").write_text("entities:\n  host: [{id: bk, roles: [backup_server], services: []}]\n"
                                       "  backup_server: [{id: bk, host: bk}]\n")
    cfg.write_text("version: 1\nsources:\n  - {name: inv, plugin: file, path: inv.yaml}\n"
                   "  - {name: nsr, plugin: nosuchplugin}\n")
    code, out, err = run_cli("check", "-c", cfg, "--select", "BSRV-001", "--no-fail-on-error")
    assert code == 2 and out == ""
    assert "policycheck.yaml:4:" in err and "nosuchplugin" in err and "policycheck-nosuchplugin" not in err


def test_policies_list_show_and_builtin_tests():
    code, out, _ = run_cli("policies", "list")
    assert code == 0 and len(out.splitlines()) == 15 and "BOOT-002" in out and "COV-001" in out
    code, out, _ = run_cli("policies", "show", "VIRT-002")
    assert code == 0 and "rationale:" in out and "min_hosts" in out
    code, out, _ = run_cli("policies", "test")
    assert code == 0 and out.strip().endswith("passed, 0 failed")


def test_no_color_without_terminal_and_help_teaches():
    code, out, _ = run_cli("audit", "-c", CONFIG)
    assert "\x1b[" not in out
    code, out, _ = run_cli("--help")
    assert code == 0 and "exit codes:" in out and "examples:" in out


def test_select_and_skip_by_tag_and_severity():
    code, out, _ = run_cli("check", "-c", CONFIG, "--select", "bootstrap", "--skip", "medium", "--format", "json")
    ids = {r["policy_id"] for r in json.loads(out)["results"]}
    assert ids == {"BOOT-001", "BOOT-002"}
