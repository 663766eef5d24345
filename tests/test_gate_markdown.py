"""The Markdown summary, $GITHUB_STEP_SUMMARY and the GitHub workflow annotations."""
from __future__ import annotations

import re

from test_gate_helpers import EXAMPLE, gate_args, gate_env, host, run, snapshot, waiver, waiver_file  # noqa: F401

from policycheck.reporters.markdown import MAX_DETAILED, code, esc


def _md(tmp_path, capsys, hosts, *extra, failed_sources=()):
    facts = snapshot(tmp_path / "f.json", hosts, failed_sources)
    out = tmp_path / "s.md"
    rc, stdout, err = run(capsys, ["check", *gate_args(facts, "--markdown", out, *extra)])
    return rc, out.read_text(encoding="utf-8"), stdout, err


def test_counts_then_failures_with_evidence_then_passes_folded(tmp_path, capsys):
    rc, md, _, _ = _md(tmp_path, capsys, [host("h1.example.org", fail=["critical", "low"]),
                                          host("h2.example.org", missing=["medium"]), host("h3.example.org")])
    assert rc == 1
    assert md.startswith("## policycheck: ❌ 2 failure(s) at or above low\n")
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert table[0] == "| severity | passed | failed | errors | not applicable | waived | total |"
    assert "| critical | 2 | 1 | 0 | 0 | 0 | 3 |" in table
    assert "| medium | 2 | 0 | 1 | 0 | 0 | 3 |" in table
    assert "| **all** | **12** | **2** | **1** | **0** | **0** | **15** |" in table
    i_fail, i_err, i_pass = md.index("### Failures (2)"), md.index("### Errors"), md.index("<details><summary>12 passed")
    assert md.index("| severity") < i_fail < i_err < i_pass
    failures = md[i_fail:i_err]
    assert failures.index("GATE-005") < failures.index("GATE-002"), "most severe first"
    assert "`gate_critical` = `false`; expected `equals true`" in failures
    assert "fix: Set gate\\_critical to true" in failures
    assert "gate\\_medium" in md[i_err:i_pass]
    assert md.rstrip().endswith("</details>")


def test_all_pass_and_errors_verdicts(tmp_path, capsys):
    _, md, _, _ = _md(tmp_path, capsys, [host("h1.example.org")])
    assert md.startswith("## policycheck: ✅ no failure") and "### Failures" not in md
    _, md, _, _ = _md(tmp_path, capsys, [host("h1.example.org")], failed_sources=[("cmdb", "timed out")])
    assert md.startswith("## policycheck: ⚠️ no failure, but errors")
    assert "- ⚠️ **cmdb** (file): timed out" in md


def test_waived_and_expired_waivers_are_shown(tmp_path, capsys):
    wf = waiver_file(tmp_path / "w.yaml", [waiver("GATE-004", "h1.example.org", reason="known | accepted *risk*"),
                                           waiver("GATE-003", "h2.example.org", "2026-02-01", reason="ran out")])
    rc, md, _, _ = _md(tmp_path, capsys, [host("h1.example.org", fail=["high"]),
                                          host("h2.example.org", fail=["medium"])], "--waivers", wf)
    assert rc == 1
    assert "| GATE-004 | h1.example.org | known \\| accepted \\*risk\\* | gate-team@example.org | 2026-12-31 |" in md
    assert "### Notes" in md and "expired on 2026-02-01" in md
    assert "waiver expired on 2026-02-01: ran out" in md


def test_untrusted_text_cannot_inject_markup(tmp_path, capsys):
    hid = "<script>alert(1)</script>|**x**|[a](http://e.x)`"
    h = host(hid, fail=["high"])
    h["gate_high"] = "`rm -rf` <img src=x> | a"
    _, md, _, _ = _md(tmp_path, capsys, [h])
    assert "<script>" not in md
    assert md.count("<img") == md.count("`` `rm -rf` <img src=x> | a ``") == 1, "HTML only inside a code span"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\|\\*\\*x\\*\\*\\|\\[a\\](http://e.x)\\`" in md


def test_escape_helpers():
    assert esc("a|b\nc\x00d") == "a\\|b c d"
    assert esc("x" * 50, 10) == "x" * 9 + "…"
    assert code("a`b") == "`` a`b ``" and code("plain") == "`plain`"


def test_long_failure_lists_are_capped(tmp_path, capsys):
    hosts = [host(f"h{i:03}.example.org", fail=["low"]) for i in range(MAX_DETAILED + 20)]
    _, md, _, _ = _md(tmp_path, capsys, hosts)
    assert md.count("  - why:") == MAX_DETAILED
    assert len(re.findall(r"^- ❌ GATE-002 `host` h\d+\\?.example.org", md, re.M)) == 20
    assert len(md) < 200_000


def test_github_step_summary_and_annotations(tmp_path, capsys, monkeypatch):
    summary = tmp_path / "step_summary.md"
    summary.write_text("previous step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    facts = snapshot(tmp_path / "f.json", [host("h1.example.org", fail=["high", "info"]),
                                           host("h2,x:y.example.org", missing=["critical"])])
    rc, out, err = run(capsys, ["check", *gate_args(facts)])
    assert rc == 1
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("previous step\n## policycheck: ❌ 1 failure(s) at or above low")
    ann = [line for line in (out + err).splitlines() if line.startswith("::")]
    assert "::error title=GATE-004 h1.example.org::Gate test policy of severity high: gate_high is false; " \
           "expected equals true" in ann
    assert any(a.startswith("::warning title=GATE-001 h1.example.org::") for a in ann), "below --fail-on"
    assert any(a.startswith("::warning title=GATE-005 h2%2Cx%3Ay.example.org::") for a in ann), "error, escaped"
    assert len(ann) == 3


def test_no_github_output_outside_github(tmp_path, capsys, monkeypatch):
    summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))  # set, but not in GitHub Actions
    facts = snapshot(tmp_path / "f.json", [host("h1.example.org", fail=["high"])])
    rc, out, err = run(capsys, ["check", *gate_args(facts)])
    assert rc == 1 and "::error" not in out + err and not summary.exists()


def test_example_datazone_markdown(tmp_path, capsys):
    out = tmp_path / "s.md"
    rc, stdout, _ = run(capsys, ["audit", "-c", EXAMPLE, "--markdown", out])
    md = out.read_text(encoding="utf-8")
    m = re.search(r"(\d+) passed, (\d+) failed, (\d+) errors, (\d+) skipped, (\d+) waived", stdout)
    assert f"{m[1]} passed, {m[2]} failed, {m[3]} errors, {m[4]} not applicable, {m[5]} waived" in md
    assert "| BMR-001 | db01.corp.example | Solaris host being decommissioned" in md


def test_annotations_do_not_corrupt_machine_output_on_stdout(tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    facts = snapshot(tmp_path / "f.json", [host("h1.example.org", fail=["high"])])
    rc, out, err = run(capsys, ["check", *gate_args(facts, "--format", "json")])
    assert rc == 1
    assert json.loads(out)["summary"]["fail"] == 1
    assert "::error title=GATE-004 h1.example.org::" in err
