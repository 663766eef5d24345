"""Waivers: the file's schema, expiry and its limit, matching, and how expired, too-far and stale
waivers are reported."""
from __future__ import annotations

import json

import pytest
from test_gate_helpers import (
    COLLECTED_AT,
    gate_args,
    gate_env,  # noqa: F401  (an autouse fixture: importing it applies it here)
    gate_results,
    host,
    run,
    snapshot,
    waiver,
    waiver_file,
)

from policycheck import waivers


def _load(tmp_path, text, **kw):
    p = tmp_path / "waivers.yaml"
    p.write_text(text, encoding="utf-8")
    return waivers.load_waivers(p, **kw)


VALID = """\
# accepted exceptions
waivers:
  - policy: GATE-004
    target: h1.example.org
    reason: decommissioned in December (CHG-1)
    owner: ops@example.org
    expires: 2026-12-31
"""


def test_a_valid_file_loads_with_locations(tmp_path):
    [w] = _load(tmp_path, VALID)
    assert w["where"].endswith("waivers.yaml:3")
    assert w["expires"] == "2026-12-31"  # an unquoted YAML date stays the text written
    assert w["_limit"] == 365


@pytest.mark.parametrize("key", ["reason", "owner", "expires", "policy", "target"])
def test_each_required_key_is_enforced_with_its_location(tmp_path, key):
    entry = waiver("GATE-004", "h1.example.org")
    del entry[key]
    path = waiver_file(tmp_path / "w.yaml", [waiver("GATE-001", "h1.example.org"), entry])
    with pytest.raises(waivers.WaiverError) as exc:
        waivers.load_waivers(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}:7:"), msg  # the second waiver's line
    assert f"'{key}' is a required property" in msg and "each waiver needs policy, target, reason, owner, expires" in msg


@pytest.mark.parametrize("line,needle", [
    ("    reason: '   '", "does not match"),
    ("    owner: ''", "owner"),
    ("    expires: next year", "YYYY-MM-DD"),
    ("    expires: 2026-13-45", "is not a date"),
    ("    expires: 2026-12-31 and a bit", "YYYY-MM-DD"),
    ("    severity: high", "Additional properties are not allowed"),
])
def test_bad_values_are_refused(tmp_path, line, needle):
    key = line.split(":")[0].strip()
    lines = [ln for ln in VALID.splitlines() if not ln.strip().startswith(key + ":")] + [line]
    with pytest.raises(waivers.WaiverError) as exc:
        _load(tmp_path, "\n".join(lines) + "\n")
    assert needle in str(exc.value)


def test_not_a_waiver_file(tmp_path):
    for text in ("", "- a list\n", "waivers: {}\n", "waivers: []\n---\nwaivers: []\n"):
        with pytest.raises(waivers.WaiverError):
            _load(tmp_path, text)
    with pytest.raises(waivers.WaiverError, match="not found"):
        waivers.load_waivers(tmp_path / "nope.yaml")


def test_waiving_everything_is_refused(tmp_path):
    with pytest.raises(waivers.WaiverError, match="would waive every target"):
        _load(tmp_path, VALID.replace("GATE-004", "'*'").replace("h1.example.org", "'*'"))
    for bare in ("'*'", "'**'", "' * '"):  # one policy, but every target: refused too, located at the target
        with pytest.raises(waivers.WaiverError, match=r"waivers\.yaml:4:13: waivers\[0\]\.target .* would waive every"):
            _load(tmp_path, VALID.replace("h1.example.org", bare))


def test_every_problem_of_a_waiver_file_is_reported_at_once(tmp_path):
    text = VALID + """\
  - policy: GATE-001
    target: '*'
    reason: x
    owner: ops@example.org
    expires: 2026-12-31
  - policy: GATE-002
    target: h2.example.org
    reason: temporary exception
    expires: 2026-02-30
"""
    with pytest.raises(waivers.WaiverError) as exc:
        _load(tmp_path, text)
    lines = str(exc.value).splitlines()
    assert len(lines) == 4, lines
    assert ":9:13:" in lines[0] and "would waive every target" in lines[0]
    assert ":10:13: waivers.1.reason: 'x' is too short" in lines[1]
    assert ":13:5: waivers.2: 'owner' is a required property" in lines[2]
    assert ":16:14: waivers[2].expires '2026-02-30' is not a date" in lines[3]


def test_the_file_may_lower_the_day_limit_but_not_raise_it(tmp_path):
    assert _load(tmp_path, "max_days: 30\n" + VALID)[0]["_limit"] == 30
    assert _load(tmp_path, "max_days: 1000\n" + VALID)[0]["_limit"] == 365
    assert _load(tmp_path, VALID, max_days=730)[0]["_limit"] == 730
    assert _load(tmp_path, "max_days: 90\n" + VALID, max_days=730)[0]["_limit"] == 90


def _w(policy, target, expires="2026-12-31", limit=365, where="w.yaml:1"):
    exp = waivers.parse_time(expires + "T23:59:59+00:00")
    return dict(waiver(policy, target, expires), where=where, _expires=exp, _limit=limit)


def test_apply_marks_waived_and_reports_each_state():
    results = gate_results([host("h1.example.org", fail=["high", "low"], aliases=["h1", "10.0.0.1"]),
                        host("h2.lab.example", missing=["medium"]), host("h3.example.org")])
    states = waivers.apply_waivers(results, [
        _w("gate-004", "H1"),                         # case-insensitive, by alias
        _w("GATE-00*", "*.lab.example"),              # glob: waives the error
        _w("GATE-002", "h1.example.org", "2026-11-01"),  # expired
        _w("GATE-004", "h1.example.org"),             # the first waiver already took it
        _w("GATE-005", "h3.example.org"),             # matches a pass only
        _w("GATE-001", "nowhere.example.org"),        # matches nothing
        _w("GATE-002", "h1.example.org", "2028-06-30"),  # more than 365 days ahead
    ], COLLECTED_AT)
    assert [s["state"] for s in states] == ["active", "active", "expired", "stale", "stale", "stale", "too_far"]
    assert [s["matched"] for s in states] == [1, 1, 1, 0, 0, 0, 1]
    by = {(r.policy.id, r.target_id): r for r in results}
    high = by[("GATE-004", "h1.example.org")]
    assert high.status == "waived" and high.waiver["was"] == "fail" and high.waiver["state"] == "active"
    err = by[("GATE-003", "h2.lab.example")]
    assert err.status == "waived" and err.waiver["was"] == "error"
    low = by[("GATE-002", "h1.example.org")]
    assert low.status == "fail" and low.waiver["state"] == "expired"  # the first non-active one is kept
    assert by[("GATE-005", "h3.example.org")].status == "pass"
    notes = waivers.notes(states)
    assert len(notes) == 5
    assert "expired on 2026-11-01 and no longer applies: 1 result(s) fail again" in notes[0]
    assert "is stale: it matches no result" in notes[1]
    assert "is stale: its 1 matching result(s) no longer fail; remove it" in notes[2]
    assert "more than 365 days ahead: not applied" in notes[4]
    assert [s["policy"] for s in waivers.stale(states)] == ["GATE-004", "GATE-005", "GATE-001"]


def test_expiry_is_the_end_of_the_day(tmp_path):
    results = gate_results([host("h1.example.org", fail=["high"])])
    states = waivers.apply_waivers(results, [_w("GATE-004", "h1.example.org", "2026-11-25")],
                                   "2026-11-25T23:00:00+00:00")
    assert states[0]["state"] == "active"
    results = gate_results([host("h1.example.org", fail=["high"])])
    states = waivers.apply_waivers(results, [_w("GATE-004", "h1.example.org", "2026-11-24")],
                                   "2026-11-25T00:00:01+00:00")
    assert states[0]["state"] == "expired"


def _cli(tmp_path, capsys, hosts, entries, *extra):
    facts = snapshot(tmp_path / "f.json", hosts)
    wf = waiver_file(tmp_path / "w.yaml", entries)
    return run(capsys, ["audit", *gate_args(facts, "--waivers", wf, "--json", tmp_path / "r.json", *extra)])


def test_expired_waiver_is_reported_and_no_longer_applies(tmp_path, capsys):
    rc, out, err = _cli(tmp_path, capsys, [host("h1.example.org", fail=["high"])],
                        [waiver("GATE-004", "h1.example.org", "2026-10-31", reason="temporary CHG-7")])
    assert rc == 1
    assert "expired" in err and "2026-10-31" in err and "GATE-004" in err
    assert "FAIL  GATE-004 host:h1.example.org" in out and "WAIVED" not in out
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [w["state"] for w in data["waivers"]] == ["expired"]
    [r] = [r for r in data["results"] if r["policy_id"] == "GATE-004"]
    assert r["status"] == "fail" and r["waiver"]["state"] == "expired"


def test_stale_waiver_is_a_warning_and_an_error_when_strict(tmp_path, capsys):
    entries = [waiver("GATE-004", "h1.example.org")]
    rc, _, err = _cli(tmp_path, capsys, [host("h1.example.org")], entries)
    assert rc == 0 and "warning" in err and "stale" in err and "GATE-004" in err
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [w["state"] for w in data["waivers"]] == ["stale"]
    rc, _, err = _cli(tmp_path, capsys, [host("h1.example.org")], entries, "--strict-waivers")
    assert rc == 3 and "stale" in err


def test_waived_result_shows_its_reason_in_text_json_junit_markdown(tmp_path, capsys):
    reason = "vendor fix due CHG-42"
    rc, out, _ = _cli(tmp_path, capsys, [host("h1.example.org", fail=["high"])],
                      [waiver("GATE-004", "h1.*", reason=reason)],
                      "--junit", tmp_path / "r.xml", "--markdown", tmp_path / "r.md")
    assert rc == 0
    assert "WAIVED GATE-004 host:h1.example.org" in out and reason in out
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    [r] = [r for r in data["results"] if r["policy_id"] == "GATE-004"]
    assert r["status"] == "waived" and r["waiver"]["reason"] == reason and r["waiver"]["owner"]
    assert f'message="waived: {reason} (owner gate-team@example.org, expires 2026-12-31)"' in \
        (tmp_path / "r.xml").read_text(encoding="utf-8")
    assert f"| GATE-004 | h1.example.org | {reason} |" in (tmp_path / "r.md").read_text(encoding="utf-8")


def test_invalid_waiver_file_is_exit_2_with_location(tmp_path, capsys):
    rc, out, err = _cli(tmp_path, capsys, [host("h1.example.org")],
                        [{"policy": "GATE-004", "target": "h1", "reason": "no owner", "expires": "2026-12-31"}])
    assert rc == 2 and "w.yaml:2:" in err and "'owner' is a required property" in err


def test_too_far_waiver_is_reported(tmp_path, capsys):
    rc, _, err = _cli(tmp_path, capsys, [host("h1.example.org", fail=["high"])],
                      [waiver("GATE-004", "h1.example.org", "2028-06-30")])
    assert rc == 1 and "more than 365 days ahead" in err


def test_brief_format_shows_waived_results(tmp_path, capsys):
    facts = snapshot(tmp_path / "f.json", [host("h1.example.org", fail=["high"])])
    wf = waiver_file(tmp_path / "w.yaml", [waiver("GATE-004", "h1.example.org", reason="vendor fix due")])
    rc, out, _ = run(capsys, ["check", *gate_args(facts, "--waivers", wf)])
    assert rc == 0 and "vendor fix due" in out


# ---- a waiver never waives more than its author can see (issue 14, item 6) ----------------------------
def test_a_glob_over_several_targets_needs_match_many_and_lists_each_target(tmp_path, capsys):
    hosts = [host("h1.example.org", fail=["high"]), host("h2.example.org", fail=["high"]), host("h3.example.org")]
    rc, out, err = _cli(tmp_path, capsys, hosts, [waiver("GATE-004", "*.example.org")])
    assert rc == 1, err  # not applied: both failures still fail the gate
    assert "FAIL  GATE-004 host:h1.example.org" in out and "FAIL  GATE-004 host:h2.example.org" in out
    assert "matches 3 targets (h1.example.org, h2.example.org, h3.example.org): not applied" in err
    assert "match: many" in err
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    [w] = data["waivers"]
    assert w["state"] == "too_broad" and w["targets"] == []
    assert {r["target_id"]: r["status"] for r in data["results"] if r["policy_id"] == "GATE-004"} == \
        {"h1.example.org": "fail", "h2.example.org": "fail", "h3.example.org": "pass"}

    many = [waiver("GATE-004", "*.example.org", match="many")]
    rc, out, err = _cli(tmp_path, capsys, hosts, many, "--junit", tmp_path / "r.xml", "--markdown", tmp_path / "r.md")
    assert rc == 0, err
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    [w] = data["waivers"]
    assert w["state"] == "active" and w["match"] == "many" and w["targets"] == ["h1.example.org", "h2.example.org"]
    assert {r["target_id"]: r["status"] for r in data["results"] if r["policy_id"] == "GATE-004"} == \
        {"h1.example.org": "waived", "h2.example.org": "waived", "h3.example.org": "pass"}
    assert "waived 2 target(s): h1.example.org, h2.example.org" in out  # the text report
    assert "(match: many) waived 2 targets: h1.example.org, h2.example.org" in err
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "waived 2 targets: h1.example.org, h2.example.org" in md
    xml = (tmp_path / "r.xml").read_text(encoding="utf-8")
    assert xml.count('<testcase name="h1.example.org" classname="GATE-004"') == 1
    assert xml.count('<skipped type="skipped" message="waived: ') == 2
    rc, out, _ = run(capsys, ["check", *gate_args(tmp_path / "f.json", "--waivers", tmp_path / "w.yaml")])
    assert rc == 0
    assert "WAIVED high     GATE-004 host:h1.example.org" in out and "WAIVED high     GATE-004 host:h2.example.org" in out


def test_a_bare_star_target_is_exit_2_located(tmp_path, capsys):
    rc, out, err = _cli(tmp_path, capsys, [host("h1.example.org", fail=["high"])], [waiver("GATE-004", "*")])
    assert rc == 2 and not out
    assert "w.yaml:3:11: waivers[0].target '*' would waive every target of 'GATE-004'" in err, err
    assert not (tmp_path / "r.json").exists()


def test_a_mistyped_policy_id_says_did_you_mean_not_stale(tmp_path, capsys):
    rc, out, err = _cli(tmp_path, capsys, [host("h1.example.org", fail=["high"])],
                        [waiver("GATE-04", "h1.example.org")])
    assert rc == 1 and "FAIL  GATE-004 host:h1.example.org" in out
    assert "names no loaded policy: did you mean 'GATE-004'?" in err and "stale" not in err
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["waivers"][0]["state"] == "unknown_policy" and data["waivers"][0]["suggestion"] == "GATE-004"
    rc, _, err = _cli(tmp_path, capsys, [host("h1.example.org")], [waiver("GATE-04", "h1.example.org")],
                      "--strict-waivers")
    assert rc == 3 and "did you mean 'GATE-004'?" in err


def test_select_and_skip_never_make_a_waiver_stale(tmp_path, capsys):
    hosts = [host("h1.example.org", fail=["high"])]
    entries = [waiver("GATE-004", "h1.example.org")]
    for opts in (["--select", "GATE-001"], ["--skip", "GATE-004"], ["--select", "low"]):
        rc, out, err = _cli(tmp_path, capsys, hosts, entries, "--strict-waivers", *opts)
        assert rc == 0, (opts, err)
        assert "stale" not in err and "not evaluated this run" in err, err
        data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
        assert data["waivers"][0]["state"] == "not_evaluated"
        assert "GATE-004" not in {r["policy_id"] for r in data["results"]}
    # selected, the same waiver applies; and when its policy passes it is stale again
    rc, out, err = _cli(tmp_path, capsys, hosts, entries, "--strict-waivers", "--select", "GATE-004")
    assert rc == 0 and "WAIVED GATE-004 host:h1.example.org" in out
    rc, _, err = _cli(tmp_path, capsys, [host("h1.example.org")], entries, "--strict-waivers", "--select", "GATE-004")
    assert rc == 3 and "is stale" in err
