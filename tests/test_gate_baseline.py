"""Baselines: an earlier JSON report marks each failure new or unchanged, and lists the fixed ones."""
from __future__ import annotations

import json

import pytest
from test_gate_helpers import (
    gate_args,
    gate_env,  # noqa: F401  (an autouse fixture: importing it applies it here)
    gate_results,
    host,
    run,
    snapshot,
    waiver,
    waiver_file,
)

from policycheck import baseline


def _report_file(tmp_path, capsys, hosts, name="base.json", *extra):
    facts = snapshot(tmp_path / f"{name}.facts.json", hosts)
    out = tmp_path / name
    rc, _, err = run(capsys, ["check", *gate_args(facts, "--json", out, "--soft-fail", *extra)])
    assert rc == 0, err
    return out


@pytest.mark.parametrize("content,needle", [
    (None, "baseline file not found"),
    ("{oops", "not a JSON report"),
    ('{"results": []}', "not a policycheck JSON report"),
    ('{"schema_version": 2, "results": []}', "not a policycheck JSON report"),
    ('{"schema_version": 1, "results": [42]}', "results[0] has no policy_id and target_id"),
    ('{"schema_version": 1, "results": [{"status": "fail"}]}', "results[0] has no policy_id"),
])
def test_unusable_baselines_are_refused(tmp_path, content, needle):
    p = tmp_path / "b.json"
    if content is not None:
        p.write_text(content, encoding="utf-8")
    with pytest.raises(baseline.BaselineError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        baseline.load_baseline(p)


def test_load_counts_failures_and_waived_failures_only(tmp_path, capsys):
    wf = waiver_file(tmp_path / "w.yaml", [waiver("GATE-004", "h2.example.org")])
    path = _report_file(tmp_path, capsys, [host("h1.example.org", fail=["low"]),
                                           host("h2.example.org", fail=["high"]),
                                           host("h3.example.org", missing=["medium"])], "b.json", "--waivers", wf)
    assert baseline.load_baseline(path) == {("GATE-002", "h1.example.org"), ("GATE-004", "h2.example.org")}


def test_apply_marks_new_unchanged_and_notes_fixed_and_gone():
    before = {("GATE-002", "h1.example.org"), ("GATE-003", "h1.example.org"), ("GATE-004", "h1.example.org"),
              ("GATE-002", "gone.example.org"), ("GATE-005", "h1.example.org")}
    results = gate_results([host("h1.example.org", fail=["low", "info"], missing=["high"])])
    results_by = {r.policy.id: r for r in results}
    results_by["GATE-005"].status = "waived"  # waived now: neither fixed nor a failure
    results_by["GATE-005"].waiver = {"was": "fail"}
    notes = baseline.apply_baseline(results, before)
    assert results_by["GATE-002"].baseline == "unchanged"
    assert results_by["GATE-001"].baseline == "new"
    assert results_by["GATE-003"].baseline is None  # passes
    assert notes == ["baseline failure GATE-002 gone.example.org was not evaluated in this run (target gone or "
                     "policy not selected)", "fixed since the baseline: GATE-003 h1.example.org"]
    assert baseline.counts(results) == {"new": 1, "unchanged": 1}


def test_cli_marks_failures_in_json_junit_markdown_and_text(tmp_path, capsys):
    base = _report_file(tmp_path, capsys, [host("h1.example.org", fail=["high"]), host("h2.example.org",
                                                                                       fail=["low"])])
    facts = snapshot(tmp_path / "now.json", [host("h1.example.org", fail=["high", "critical"]),
                                             host("h2.example.org")])
    outs = {ext: tmp_path / f"r.{ext}" for ext in ("json", "xml", "md")}
    rc, out, err = run(capsys, ["audit", *gate_args(facts, "--baseline", base, "--json", outs["json"],
                                                    "--junit", outs["xml"], "--markdown", outs["md"])])
    assert rc == 1
    data = json.loads(outs["json"].read_text(encoding="utf-8"))
    marks = {(r["policy_id"], r["target_id"]): r.get("baseline") for r in data["results"] if r["status"] == "fail"}
    assert marks == {("GATE-004", "h1.example.org"): "unchanged", ("GATE-005", "h1.example.org"): "new"}
    assert "fixed since the baseline: GATE-002 h2.example.org" in err
    assert "baseline: new" in outs["xml"].read_text(encoding="utf-8")
    assert "(critical, baseline: new)" in outs["md"].read_text(encoding="utf-8")
    assert "baseline: unchanged" in out
    rc, _, _ = run(capsys, ["check", *gate_args(facts, "--baseline", base, "--fail-on-new", "--fail-on", "high")])
    assert rc == 1  # GATE-005 (critical) is new
    facts2 = snapshot(tmp_path / "now2.json", [host("h1.example.org", fail=["high"]), host("h2.example.org")])
    rc, _, _ = run(capsys, ["check", *gate_args(facts2, "--baseline", base, "--fail-on-new")])
    assert rc == 0  # only the unchanged failure is left


def test_a_report_is_its_own_baseline(tmp_path, capsys):
    hosts = [host(f"h{i}.example.org", fail=["medium"] if i % 2 else ["low", "high"]) for i in range(6)]
    base = _report_file(tmp_path, capsys, hosts)
    facts = snapshot(tmp_path / "same.json", hosts)
    rc, out, err = run(capsys, ["check", *gate_args(facts, "--baseline", base, "--fail-on-new")])
    assert rc == 0 and "fixed" not in err
