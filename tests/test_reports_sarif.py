"""SARIF 2.1.0: validated against the OASIS schema (tests/data/sarif, source named in SOURCE.md)."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from reports_common import AS_OF, EXAMPLE_CONFIG, example_report, run

SCHEMA = Path(__file__).parent / "data" / "sarif" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def _valid(validator, log):
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_example_datazone_log_is_valid_and_complete(tmp_path, capsys, validator):
    out = tmp_path / "r.sarif"
    rc, rep, _ = example_report(tmp_path, capsys, "--sarif", out)
    assert rc == 1
    log = json.loads(out.read_text(encoding="utf-8"))
    _valid(validator, log)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    # one rule per policy, with help text, level and security-severity
    assert [r["id"] for r in rules] == [p["id"] for p in rep["policies"]]
    sev = {p["id"]: p["severity"] for p in rep["policies"]}
    for r in rules:
        assert r["help"]["text"] and "Remediation:" in r["help"]["text"]
        assert r["defaultConfiguration"]["level"] == {"critical": "error", "high": "error", "medium": "warning",
                                                      "low": "note", "info": "note"}[sev[r["id"]]]
        assert float(r["properties"]["security-severity"]) >= (9.0 if sev[r["id"]] == "critical" else 0)
    # one result per fail and error; the waived failure is not one
    assert len(run_["results"]) == rep["summary"]["fail"] + rep["summary"]["error"] == 15
    for res in run_["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        sev_of = {r["id"]: r["defaultConfiguration"]["level"] for r in rules}
        assert res["kind"] == "fail" and res["level"] == sev_of[res["ruleId"]]  # the policy's severity
        assert res["partialFingerprints"]["policycheck/v1"]
    by_rule = {r["ruleId"]: r for r in run_["results"]}
    # a fact read from a file: the file and the line of the entity's id
    boot = by_rule["BOOT-001"]["locations"][0]
    assert boot["logicalLocations"][0]["fullyQualifiedName"] == "networker/bootstrap/nsr-dir-bootstrap-98765"
    phys = boot["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "examples/datazone/networker.yaml"
    lines = (EXAMPLE_CONFIG.parent / "networker.yaml").read_text().splitlines()
    assert lines[phys["region"]["startLine"] - 1].strip() == "- id: nsr-dir-bootstrap-98765"
    bsrv = by_rule["BSRV-001"]["locations"][0]
    assert bsrv["logicalLocations"][0]["fullyQualifiedName"] == "inventory/host/nsr-dir.corp.example"
    line = bsrv["physicalLocation"]["region"]["startLine"]
    inv = (EXAMPLE_CONFIG.parent / "inventory.yaml").read_text().splitlines()
    assert inv[line - 1].strip() == "- id: nsr-dir.corp.example"
    assert run_["invocations"][0]["executionSuccessful"] is True
    assert run_["properties"]["evaluatedAt"]["time"] == AS_OF


def test_errors_are_open_results_and_a_snapshot_has_logical_locations_only(tmp_path, capsys, validator):
    snap = tmp_path / "f.json"
    run(capsys, ["collect", "-c", EXAMPLE_CONFIG, "-o", snap])
    doc = json.loads(snap.read_text())
    for c in doc["entities"]["client"]:
        if c["id"] == "fs01.corp.example":
            del c["last_image_backup"]
            c["last_bmr_backup"] = None
    doc["sources"][0]["status"], doc["sources"][0]["error"] = "error", "connection refused\x1b[31m\x9b\u202e"
    snap.write_text(json.dumps(doc))
    rc, out, err = run(capsys, ["check", "--facts", snap, "--as-of", AS_OF, "--format", "sarif"])
    assert rc == 1, err
    log = json.loads(out)
    _valid(validator, log)
    results = log["runs"][0]["results"]
    errors = [r for r in results if r["properties"]["status"] == "error"]
    assert errors and all(r["kind"] == "open" and r["level"] == "none" for r in errors)
    fs01 = [r for r in errors if r["properties"]["targetId"] == "fs01.corp.example"]
    assert fs01 and "source inventory failed: connection refused" in fs01[0]["message"]["text"]
    assert not any(c in out for c in "\x1b\x9b\u202e")  # every control character escaped
    assert all("physicalLocation" not in r["locations"][0] for r in results)
    src = [r for r in errors if r["properties"]["targetKind"] == "source"]
    assert src and src[0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "inventory/source/inventory"
    inv = log["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert "source inventory (file) failed: connection refused" in inv["toolExecutionNotifications"][0]["message"]["text"]


def test_a_passing_run_is_a_valid_empty_log(tmp_path, capsys, validator):
    out = tmp_path / "r.sarif"
    rc, rep, _ = example_report(tmp_path, capsys, "--sarif", out, "--select", "BOOT-003")
    log = json.loads(out.read_text())
    _valid(validator, log)
    assert log["runs"][0]["results"] == [] and rc == 0
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == ["BOOT-003"]
