"""The clock a verdict used is always visible (issue 14, item 9): every report states the evaluation
time and where it came from, and a config's fixed as_of left far behind the facts is warned about."""
from __future__ import annotations

import json

from test_gate_helpers import COLLECTED_AT, gate_env, run, snapshot  # noqa: F401

POLICY = """\
id: AGE-001
title: The host was seen within 30 hours
severity: high
target: host
rationale: A host not seen for more than a day may be gone, and its backups with it; the test needs an age.
remediation: Find out why the host stopped reporting, then bring it back or retire it in the inventory.
require:
  fact: last_seen
  within: 30h
"""
THREE_DAYS_BEFORE = "2026-11-22T06:00:00+00:00"  # three days before COLLECTED_AT


def _setup(tmp_path, as_of_in_config=None):
    (tmp_path / "pol").mkdir(exist_ok=True)
    (tmp_path / "pol" / "age.yaml").write_text(POLICY, encoding="utf-8")
    facts = snapshot(tmp_path / "f.json", [{"id": "h1.example.org", "last_seen": THREE_DAYS_BEFORE}])
    cfg = tmp_path / "policycheck.yaml"
    cfg.write_text("version: 1\n# copied from the example\n" + (f"as_of: '{as_of_in_config}'\n" if as_of_in_config
                                                               else ""), encoding="utf-8")
    return facts, cfg


def _audit(tmp_path, capsys, facts, cfg, *extra, env=None):
    argv = ["audit", "-c", cfg, "--facts", facts, "--no-builtin", "--policies", tmp_path / "pol",
            "--json", tmp_path / "r.json", "--junit", tmp_path / "r.xml", "--markdown", tmp_path / "r.md", *extra]
    return run(capsys, argv)


def _status(tmp_path):
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    [r] = [r for r in data["results"] if r["policy_id"] == "AGE-001"]
    return r["status"], data["evaluated_at"]


def test_a_stale_config_as_of_is_warned_about_and_shown_in_every_report(tmp_path, capsys, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    facts, cfg = _setup(tmp_path, as_of_in_config="2026-11-22T00:00:00+00:00")
    rc, out, err = _audit(tmp_path, capsys, facts, cfg)
    # judged by the config's old clock, the three-day-old host passes a 30 h limit ...
    assert rc == 0, err
    status, clock = _status(tmp_path)
    assert status == "pass"
    # ... and no report hides it
    assert clock == {"time": "2026-11-22T00:00:00+00:00", "source": "config as_of", "where": f"{cfg}:3:8"}
    assert "policycheck: warning: " in err and f"{cfg}:3:8: as_of 2026-11-22T00:00:00+00:00 is 3.2d older " \
        "than the facts (collected 2026-11-25T06:00:00+00:00)" in err
    shown = "2026-11-22T00:00:00+00:00 (from as_of in the config"
    assert f"Judged as of {shown}" in out.splitlines()[1]
    md_shown = "Judged as of 2026-11-22T00:00:00+00:00 (from as\\_of in the config"  # Markdown-escaped
    assert md_shown in (tmp_path / "r.md").read_text(encoding="utf-8")
    assert md_shown in summary.read_text(encoding="utf-8")
    xml = (tmp_path / "r.xml").read_text(encoding="utf-8")
    assert '<property name="evaluated_at" value="2026-11-22T00:00:00+00:00" />' in xml
    assert f'<property name="evaluated_at_source" value="config as_of ({cfg}:3:8)" />' in xml
    rc, out, err = run(capsys, ["check", "-c", cfg, "--facts", facts, "--no-builtin", "--policies", tmp_path / "pol"])
    assert f"judged as of {shown}" in out  # the brief format too

    # --as-of says the user means it: no warning, and the source says so
    rc, out, err = _audit(tmp_path, capsys, facts, cfg, "--as-of", COLLECTED_AT)
    assert rc == 1 and "older than the facts" not in err
    assert _status(tmp_path) == ("fail", {"time": COLLECTED_AT, "source": "--as-of", "where": None})
    assert f"Judged as of {COLLECTED_AT} (from --as-of)" in out


def test_without_as_of_the_facts_collection_time_is_the_clock(tmp_path, capsys):
    facts, cfg = _setup(tmp_path)
    rc, out, err = _audit(tmp_path, capsys, facts, cfg)
    assert rc == 1 and "warning" not in err
    assert _status(tmp_path) == ("fail", {"time": COLLECTED_AT, "source": "collected_at", "where": None})
    assert f"Judged as of {COLLECTED_AT} (from the facts' collected_at)" in out
    assert '<property name="evaluated_at_source" value="collected_at" />' in \
        (tmp_path / "r.xml").read_text(encoding="utf-8")


def test_a_recent_config_as_of_is_not_warned_about(tmp_path, capsys):
    facts, cfg = _setup(tmp_path, as_of_in_config="2026-11-24T12:00:00+00:00")  # 18 h before collection
    rc, _, err = _audit(tmp_path, capsys, facts, cfg)
    assert "older than the facts" not in err
    assert _status(tmp_path)[1]["source"] == "config as_of"
