"""`policycheck merge`: several datazones' JSON reports become one report every writer renders."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from junitparser import JUnitXml
from lxml import html as lhtml
from pchelpers import ROOT
from reports_common import AS_OF, EXAMPLE_CONFIG, run

from policycheck.timeutil import parse_time

SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif" / "sarif-schema-2.1.0.json"
REPORT_SCHEMA = ROOT / "policycheck" / "schemas" / "report.schema.json"


def _two_datazones(tmp_path, capsys):
    east = tmp_path / "east.json"
    rc, _, err = run(capsys, ["check", "-c", EXAMPLE_CONFIG, "--json", east])
    assert rc == 1, err
    snap = tmp_path / "f.json"
    run(capsys, ["collect", "-c", EXAMPLE_CONFIG, "-o", snap])
    doc = json.loads(snap.read_text())
    doc["collected_at"] = "2026-11-26T06:00:00+00:00"
    for c in doc["entities"]["client"]:
        if c["id"] == "fs01.corp.example":  # west cannot tell fs01's image backups: an error there only
            del c["last_image_backup"]
            c["last_bmr_backup"] = None
            c["last_filesystem_backup"] = None
    for h in doc["entities"]["host"]:
        if h["id"] == "fs01.corp.example":
            del h["bmr_methods"]
    snap.write_text(json.dumps(doc))
    west = tmp_path / "west.json"
    rc, _, err = run(capsys, ["check", "--facts", snap, "--as-of", "2026-11-26T06:00:00+00:00", "--json", west])
    assert rc == 1, err
    return east, west, json.loads(east.read_text()), json.loads(west.read_text())


def test_every_writer_renders_the_merged_report(tmp_path, capsys):
    east, west, e, w = _two_datazones(tmp_path, capsys)
    outs = {k: tmp_path / f"m.{k}" for k in ("json", "sarif", "html", "junit", "markdown")}
    prom = tmp_path / "m.prom"
    rc, out, err = run(capsys, ["merge", east, f"dz-west={west}", "--json", outs["json"], "--sarif", outs["sarif"],
                                "--html", outs["html"], "--junit", outs["junit"], "--markdown", outs["markdown"],
                                "--format", "openmetrics", "-o", prom])
    assert rc == 1, err
    m = json.loads(outs["json"].read_text())
    jsonschema.validate(m, json.loads(REPORT_SCHEMA.read_text()))
    # the counts add up, and no target of one datazone merged with the other's
    for k in ("total", "pass", "fail", "error", "skip", "waived"):
        assert m["summary"][k] == e["summary"][k] + w["summary"][k]
    assert e["summary"]["error"] == 0 and w["summary"]["error"] >= 1
    keys = [(r["policy_id"], r["target_kind"], r["target_id"]) for r in m["results"]]
    assert len(set(keys)) == len(keys) == e["summary"]["total"] + w["summary"]["total"]
    assert {r["target_id"].split("/", 1)[0] for r in m["results"]} == {"east", "dz-west"}
    assert {(r["policy_id"], r["target_id"]) for r in m["results"] if r["status"] == "error"} == \
        {(r["policy_id"], "dz-west/" + r["target_id"]) for r in w["results"] if r["status"] == "error"}
    assert [s["name"] for s in m["sources"]] == [f"{dz}/{n}" for dz in ("east", "dz-west")
                                                 for n in ("inventory", "networker", "vsphere")]
    ev = [x for r in m["results"] for x in r["evidence"] if x.get("source") and not x["source"].startswith("derived")]
    assert ev and all(x["source"].split("/")[0] in ("east", "dz-west") for x in ev)
    # a derived value credits its inputs' sources, labelled with their datazone too
    dv = [x["source"][len("derived from "):] for r in m["results"] for x in r["evidence"]
          if (x.get("source") or "").startswith("derived from ") and "client records" not in x["source"]]
    assert dv and all(n.split("/")[0] in ("east", "dz-west") for s in dv for n in s.split(", "))
    waived = [r for r in m["results"] if r["status"] == "waived"]
    assert [r["target_id"] for r in waived] == ["east/db01.corp.example"]  # west ran without waivers
    assert waived[0]["waiver"]["owner"] == "unix-team@corp.example"
    assert [(x["datazone"], x["target"]) for x in m["waivers"]] == [("east", "east/db01.corp.example")]
    assert w["collected_at"] == "2026-11-26T06:00:00+00:00"
    assert m["collected_at"] == min((e["collected_at"], w["collected_at"]), key=parse_time)
    assert m["evaluated_at"]["source"] == "merged" and "dz-west as of 2026-11-26T06:00:00+00:00" in m["evaluated_at"]["where"]
    # SARIF valid, one result per fail and error of both
    sarif = json.loads(outs["sarif"].read_text())
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(sarif)
    assert len(sarif["runs"][0]["results"]) == m["summary"]["fail"] + m["summary"]["error"]
    # HTML counts, JUnit cases, Markdown and OpenMetrics
    doc = lhtml.fromstring(outs["html"].read_text())
    assert int(doc.get_element_by_id("count-total").get("data-count")) == m["summary"]["total"]
    xml = JUnitXml.fromfile(str(outs["junit"]))
    assert sum(s.tests for s in xml) == m["summary"]["total"]
    assert "dz-west/" in outs["markdown"].read_text()
    assert 'policycheck_source_up{source="dz-west/vsphere",plugin="file"} 1' in prom.read_text()


def test_a_merged_report_merges_again_and_gates_like_check(tmp_path, capsys):
    east, west, e, w = _two_datazones(tmp_path, capsys)
    m1 = tmp_path / "m1.json"
    assert run(capsys, ["merge", east, west, "--json", m1, "--soft-fail"])[0] == 0
    rc, out, err = run(capsys, ["merge", m1, f"again={east}", "--format", "json"])
    assert rc == 1, err
    m = json.loads(out)
    assert m["summary"]["total"] == 2 * e["summary"]["total"] + w["summary"]["total"]
    assert any(r["target_id"].startswith("m1/west/") for r in m["results"])
    # the gate: --fail-on critical still fails (critical failures), errors alone give 3
    assert run(capsys, ["merge", west, "--fail-on", "critical"])[0] == 1
    only_err = tmp_path / "err.json"
    w2 = dict(w, results=[r for r in w["results"] if r["status"] != "fail"])
    only_err.write_text(json.dumps(w2))
    assert run(capsys, ["merge", only_err])[0] == 3
    assert run(capsys, ["merge", only_err, "--no-fail-on-error"])[0] == 0


def test_inputs_that_are_not_reports_are_exit_2(tmp_path, capsys):
    east, west, *_ = _two_datazones(tmp_path, capsys)
    rc, _, err = run(capsys, ["merge", east, east])
    assert rc == 2 and "both have the label 'east'" in err
    snap = tmp_path / "f.json"
    rc, _, err = run(capsys, ["merge", snap])
    assert rc == 2 and "is a facts snapshot, not a report" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1,\n "results": [}')
    rc, _, err = run(capsys, ["merge", bad])
    assert rc == 2 and f"{bad}:2:14: invalid JSON" in err
    rc, _, err = run(capsys, ["merge", tmp_path / "nope.json"])
    assert rc == 2 and "no such report" in err
    rc, _, err = run(capsys, ["merge", east, "--sarif", tmp_path])
    assert rc == 2 and "is a directory" in err
    before = east.read_bytes()
    rc, _, err = run(capsys, ["merge", east, west, "--json", east])
    assert rc == 2 and f"--json {east} would overwrite the input REPORT {east}" in err
    assert east.read_bytes() == before
    rc, _, err = run(capsys, ["check", "--facts", snap, "-o", snap, "--format", "json"])
    assert rc == 2 and "would overwrite the input --facts" in err
    assert AS_OF  # the example's clock is pinned (no test reads the wall clock)


def test_a_report_without_its_clock_is_exit_2(tmp_path, capsys):
    """collected_at (and evaluated_at when given) must be there: without them the merged report said
    "judged as of None" and its JSON broke report.schema.json (collected_at null)."""
    base = {"schema_version": 1, "results": [], "policies": [], "sources": [], "waivers": [], "notes": [],
            "collected_at": AS_OF, "evaluated_at": {"time": AS_OF, "source": "collected_at", "where": None}}
    good = tmp_path / "good.json"
    good.write_text(json.dumps(base))
    out = tmp_path / "m.json"
    rc, _, err = run(capsys, ["merge", good, "--json", out])
    assert rc == 0, err
    m = json.loads(out.read_text())
    jsonschema.validate(m, json.loads(REPORT_SCHEMA.read_text()))
    assert m["collected_at"] == AS_OF and m["evaluated_at"]["time"] == AS_OF
    for name, doc, msg in (
            ("no-collected", {k: v for k, v in base.items() if k != "collected_at"}, "collected_at: expected"),
            ("null-collected", dict(base, collected_at=None), "collected_at: expected"),
            ("empty-collected", dict(base, collected_at=""), "collected_at: expected"),
            ("clock-text", dict(base, evaluated_at="yesterday"), "evaluated_at: expected"),
            ("clock-no-time", dict(base, evaluated_at={"source": "merged"}), "evaluated_at: expected")):
        bad = tmp_path / f"{name}.json"
        bad.write_text(json.dumps(doc))
        rc, _, err = run(capsys, ["merge", good, bad, "--json", tmp_path / f"{name}.out.json"])
        assert rc == 2 and f"{bad}: {msg}" in err, (name, rc, err)
        assert not (tmp_path / f"{name}.out.json").exists()


def test_documented_commands_parse():
    """Every `policycheck explain|merge|check|audit` line of README.md and docs/ci.md that uses the new
    reports is accepted by the real parser."""
    import re

    from policycheck.cliargs import build_parser

    parser = build_parser()
    n = 0
    for doc in (ROOT / "README.md", ROOT / "docs" / "ci.md"):
        for block in re.findall(r"```\w*\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            for cmd in re.findall(r"^(policycheck [^#\n]*)", block, re.M):
                if not re.search(r"explain|merge|--sarif|--html|openmetrics|sarif", cmd):
                    continue
                args = parser.parse_args(cmd.split()[1:])
                assert args.command in ("check", "audit", "explain", "merge"), cmd
                n += 1
    assert n >= 10
