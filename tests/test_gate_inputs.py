"""Every input is validated before the first source is contacted, and every problem of a file is
reported in one run (issue 14, item 12)."""
from __future__ import annotations

import pytest
from test_gate_helpers import GATE_POLICIES, gate_env, host, run, snapshot, waiver, waiver_file  # noqa: F401

import policycheck.collect


@pytest.fixture
def contacted(monkeypatch):
    """Records every call that would contact a source; none may happen when an input is invalid."""
    calls = []

    def collect(plans, **kw):
        calls.append([getattr(p, "name", p) for p in plans])
        raise AssertionError("a source was contacted although an input was invalid")
    monkeypatch.setattr(policycheck.collect, "collect", collect)
    return calls


def _config(tmp_path, extra=""):
    facts = snapshot(tmp_path / "inventory.json", [host("h1.example.org", fail=["high"])])
    cfg = tmp_path / "policycheck.yaml"
    cfg.write_text(f"version: 1\nbuiltin_policies: false\npolicies: [{GATE_POLICIES}]\n"
                   f"sources:\n  - name: inventory\n    plugin: file\n    path: {facts}\n" + extra, encoding="utf-8")
    return cfg


def test_bad_waivers_as_of_and_params_are_all_reported_before_any_source(tmp_path, capsys, contacted):
    wf = waiver_file(tmp_path / "w.yaml", [waiver("GATE-004", "*"),
                                          {"policy": "GATE-002", "target": "h1", "reason": "no owner, no expiry"}])
    cfg = _config(tmp_path, "parameters:\n  GATE-004: {limit: 3}\n")
    # give GATE-004 a typed parameter
    pol = tmp_path / "typed"
    pol.mkdir()
    (pol / "p.yaml").write_text("""\
id: TYPE-001
title: A policy with typed parameters
severity: low
target: host
rationale: Parameters are checked against their declared type before anything is collected.
remediation: Give each parameter a value of its declared type.
parameters:
  - {name: max_age, type: duration, default: 26h, description: how old}
  - {name: count, type: integer, default: 2, description: how many}
require:
  fact: gate_low
  equals: true
""", encoding="utf-8")
    rc, out, err = run(capsys, ["check", "-c", cfg, "--policies", pol, "--waivers", wf, "--as-of", "yesterday",
                                "--param", "TYPE-001.max_age=soon", "--param", "TYPE-001.count=many"])
    assert rc == 2 and not out
    assert contacted == [], "a source was contacted before the inputs were validated"
    lines = [ln for ln in err.splitlines() if ln.startswith("policycheck: error:")]
    text = "\n".join(lines)
    assert f"{cfg}:9:14: GATE-004: unknown parameter 'limit'" in text
    assert "--param TYPE-001.max_age=soon: TYPE-001.max_age: 'soon' is not a duration" in text
    assert "--param TYPE-001.count=many: TYPE-001.count: expected a integer, got str 'many'" in text
    assert "--as-of: 'yesterday' is not an ISO 8601 time" in text
    assert "w.yaml:3:11: waivers[0].target '*' would waive every target" in text
    assert "w.yaml:7:3: waivers.1: 'owner' is a required property" in text
    assert "w.yaml:7:3: waivers.1: 'expires' is a required property" in text
    assert len(lines) == 7, text


def test_every_problem_of_each_policy_is_reported_in_one_run(tmp_path, capsys, contacted):
    pol = tmp_path / "p.yaml"
    pol.write_text("""\
id: MANY-001
title: A policy with several mistakes
severity: hgh
target: host
rationale: Each mistake below must be reported in the same run, not one per run.
remediation: Fix every located line.
when:
  fact: platform
  equal: virtual
require:
  all:
    - {fact: gate_low, equals: true, colour: red}
    - {fact: "roles..x", contains: dns}
    - any: {fact: gate_high, equals: true}
    - {fact: gate_info, within: soon}
""", encoding="utf-8")
    cfg = _config(tmp_path)
    rc, out, err = run(capsys, ["check", "-c", cfg, "--policies", pol])
    assert rc == 2 and not out and contacted == []
    lines = [ln for ln in err.splitlines() if "MANY-001" in ln]
    assert len(lines) == 6, err
    assert "p.yaml:3:11 MANY-001 severity: 'hgh' is not one of" in lines[0] and "did you mean 'high'" in lines[0]
    assert "MANY-001 when.equal: unknown operator 'equal' (did you mean 'equals'?)" in err
    assert "MANY-001 require.all[0].colour: unknown operator 'colour'" in err
    assert "MANY-001 require.all[1].fact: bad fact path 'roles..x'" in err
    assert "MANY-001 require.all[2].any: 'any' takes a non-empty list of conditions" in err
    assert "MANY-001 require.all[3].within: within:" in err and "not a duration" in err
    # the policy is named in every line with its file, line and column
    assert all(ln.split(": ", 1)[1].startswith(str(pol)) or str(pol) in ln for ln in lines)
