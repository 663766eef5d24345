"""The streaming writers (JSON per result, JUnit per test case) give the same content as the reference
renderings: json's encoder over ``Result.to_dict`` and junit-xml's own ``to_xml_report_string``, on a
generated datazone and on the example datazone with its waivers and a baseline."""
from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from policycheck import pipeline
from policycheck.engine import evaluate
from policycheck.reporters import json as json_rep
from policycheck.reporters import junit as junit_rep

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gen_datazone  # noqa: E402


@pytest.fixture(scope="module")
def generated_report():
    facts = pipeline.build_facts(gen_datazone.generate(clients=400, seed=3))
    policies = pipeline.select_policies(pipeline.load_all_policies())
    results = evaluate(policies, facts)
    rep = pipeline.make_report(results, policies, facts)
    # every status and both annotations a result can carry, on a few results
    results[0].waiver = {"reason": "r <&> \"q\"", "owner": "ops", "expires": "2027-01-01", "state": "active"}
    results[1].baseline = "new"
    return rep


def _example_report(tmp_path, capsys):
    """The example datazone through the real CLI (waivers from its config, a baseline of itself), the
    Report caught on its way to the writers."""
    from pchelpers import EXAMPLE, run_in_process

    from policycheck import cli

    base = tmp_path / "base.json"
    run_in_process(capsys, ["check", "-c", EXAMPLE / "policycheck.yaml", "--json", base])
    seen = []
    orig = cli._write_outputs
    cli._write_outputs = lambda args, report, reporters: seen.append(report)
    try:
        run_in_process(capsys, ["check", "-c", EXAMPLE / "policycheck.yaml", "--baseline", base])
    finally:
        cli._write_outputs = orig
    return seen[0]


def test_json_stream_equals_reference_bytes(generated_report):
    rep = generated_report
    assert {r.status for r in rep.results} >= {"pass", "fail", "error", "skip"}
    streamed = json_rep.render_json(rep)
    assert streamed == json_rep.reference_json(rep)
    doc = json.loads(streamed)
    assert len(doc["results"]) == len(rep.results)
    assert all(len(d["evidence"]) == len(r.evidence) for d, r in zip(doc["results"], rep.results, strict=True))


def test_json_stream_equals_reference_on_example(tmp_path, capsys):
    rep = _example_report(tmp_path, capsys)
    assert any(r.waiver for r in rep.results) and any(r.baseline for r in rep.results)
    assert json_rep.render_json(rep) == json_rep.reference_json(rep)


class _Path:
    def __init__(self, text, steps):
        self.text, self.steps = text, steps


class _Check:
    """A check as evidence holds one: its path and expected text (the writers read nothing else)."""

    def __init__(self, text, steps, expected):
        self.path, self._exp = _Path(text, steps), expected

    def expected_text(self):
        return self._exp


def test_json_stream_equals_reference_on_unusual_evidence(monkeypatch):
    """Every kind of value the evidence tuples can hold, through the writer's shortcuts and its
    fallbacks: the same text as json's encoder over ``to_dict``."""
    from datetime import date

    from policycheck.conditions import QuantLeaf
    from policycheck.missing import Missing
    from policycheck.results import Report, Result

    pol = pipeline.load_all_policies()[0]
    plain = _Check("a.b", [("b", None)], "equals \"x\" ‹y›")
    bare = _Check("@target.", [], "exists")
    quant = QuantLeaf("for_any", _Path("copies", [("copies", None)]))
    quant2 = QuantLeaf("for_any", quant.path)  # another made for another evaluation, same texts
    owners = [None, "not a dict", {}, {"id": "h1", "_sources": ["inv"], "_observed_at": "2026-01-01T00:00:00Z"},
              {"id": 7, "_sources": ["b", "a"], "_attr_sources": {"b": "derived from x"}, "_observed_at": None},
              {"id": None, "_sources": "ab", "_attr_sources": {"z": "q"}}, {"id": "é\"\n", "_sources": []}]
    observed = ["s", "ü \"q\" \\ \u2028 \x01", "", None, True, False, 0, -3, 2**70, 1.5, 1e300, float("nan"), [], ["a"],
                ["a", "b"], [1], [None], [{"id": "e1", "x": 1}], [{"k": 1, "_hidden": 2}], {"id": "e2"},
                {"k": [1, {"_h": 0, "v": "w"}]}, Missing("not collected"), Missing(3), date(2026, 1, 2)]
    evidence = [(leaf, obs, owner, ok) for leaf in (plain, bare, quant, quant2) for obs in observed
                for owner in owners for ok in (True, False, None, 1)]
    ctx = {"fact": "ctx", "observed": "v \"é\"", "expected": "context (not judged)", "ok": None, "entity": "h1",
           "source": "s", "observed_at": "2026-01-01T00:00:00Z"}
    evidence += [ctx, {**ctx, "observed": None}, {**ctx, "observed": ["x"]}, {**ctx, "observed": 3},
                 {**ctx, "entity": None}, {**ctx, "ok": False}, {**ctx, "source": None}, {**ctx, "observed_at": None},
                 {"entity": "h1", **ctx}, {k: ctx[k] for k in reversed(ctx)},
                 {"fact": "ctx", "observed": ["x"], "expected": "context (not judged)", "ok": None},
                 {"fact": "ctx", "observed": None, "missing": "why", "entity": "h1", "source": "s"}]
    results = []
    for i, status in enumerate(["pass", "fail", "error", "skip", "waived"]):
        for tid, msg in (("t1", ""), (42, "m \"q\" …"), (None, "x")):
            r = Result(pol, "client" if i % 2 else "host", tid, status, msg, evidence[i::5] if tid else [])
            results.append(r)
    results[1].waiver = {"reason": "r", "expires": date(2027, 1, 1)}
    results[2].baseline = "new"
    rep = Report(results=results, policies=[pol], sources=[], collected_at="2026-01-01T00:00:00Z",
                 generated_at="2026-01-01T00:00:00Z")
    for batch in (1, 2, 1000):
        monkeypatch.setattr(json_rep, "BATCH", batch)
        assert json_rep.render_json(rep) == json_rep.reference_json(rep)


def _canon(el) -> tuple:
    """An element as (tag, attributes, text, children), whitespace between elements ignored."""
    attrs = {k: v for k, v in el.attrib.items() if k != "disabled"}  # junit-xml's, which the XSD rejects
    return (el.tag, attrs, (el.text or "").strip() if len(el) else (el.text or ""),
            [_canon(c) for c in el])


def _reference_junit(rep) -> str:
    from junit_xml import to_xml_report_string

    return to_xml_report_string(junit_rep.suites(rep), prettyprint=False)


def test_junit_stream_equals_junit_xml(generated_report):
    rep = generated_report
    streamed = junit_rep.render_junit(rep)
    ours, ref = ET.fromstring(streamed.encode()), ET.fromstring(_reference_junit(rep).encode())
    assert [_canon(s) for s in ours] == [_canon(s) for s in ref]
    assert {k: int(ours.get(k)) for k in ("tests", "failures", "errors")} == \
        {k: int(ref.get(k)) for k in ("tests", "failures", "errors")}
    assert len(ours.findall("testsuite/testcase")) == len(rep.results)


def test_junit_stream_equals_junit_xml_on_example(tmp_path, capsys):
    rep = _example_report(tmp_path, capsys)
    streamed = junit_rep.render_junit(rep)
    ours, ref = ET.fromstring(streamed.encode()), ET.fromstring(_reference_junit(rep).encode())
    assert [_canon(s) for s in ours] == [_canon(s) for s in ref]


def test_junit_pieces_make_the_same_document(generated_report, monkeypatch):
    rep = generated_report
    whole = junit_rep.render_junit(rep)
    assert whole.count("\n  <testcase ") == len(rep.results)  # each case on its own line, indented once
    assert whole.count("\n </testsuite>") == len({r.policy.id for r in rep.results})
    monkeypatch.setattr(junit_rep, "_CASES_PER_CHUNK", 3)
    pieces = list(junit_rep.junit_chunks(rep))
    assert len(pieces) > len(rep.results) // 6  # a piece ends once it holds 3 cases or more
    assert "".join(pieces) == whole


def test_counts_are_made_once_for_every_copy_a_writer_gets(generated_report, monkeypatch):
    import copy

    from policycheck import controls, results

    made = {"tally": 0, "controls": 0}
    real_tally, real_controls = results.tally, controls.control_summary

    def counting_tally(rs):
        made["tally"] += 1
        return real_tally(rs)

    def counting_controls(*a, **kw):
        made["controls"] += 1
        return real_controls(*a, **kw)

    monkeypatch.setattr(results, "tally", counting_tally)
    monkeypatch.setattr(controls, "control_summary", counting_controls)
    rep = copy.copy(generated_report)
    rep.memo = {}  # as the pipeline makes it: nothing counted yet
    copies = [copy.copy(rep) for _ in range(3)]  # what the CLI hands the JSON, JUnit and text writers
    summaries = [c.summary for c in copies] + [rep.summary]
    assert made["tally"] == 1 and all(s == summaries[0] for s in summaries)
    assert summaries[0]["total"] == len(rep.results) == sum(summaries[0][s] for s in results.STATUSES)
    rows = [c.controls for c in copies]
    assert made["controls"] == 1 and rows[0] and all(r is rows[0] for r in rows)
    rep.results = rep.results + rep.results[:1]  # results added later are counted again
    assert rep.summary["total"] == summaries[0]["total"] + 1 and made["tally"] == 2
