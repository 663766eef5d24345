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
