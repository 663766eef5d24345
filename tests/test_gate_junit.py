"""The JUnit report: valid against the Jenkins/Ant XSD, read back by junitparser, counts equal to the
text summary, one suite per policy and one stable, unique case per target, whatever the facts contain."""
from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from junitparser import Error, Failure, JUnitXml, Skipped
from lxml import etree
from test_gate_helpers import (
    EXAMPLE,
    GATE_POLICIES,
    XSD,
    gate_args,
    gate_env,  # noqa: F401  (an autouse fixture: importing it applies it here)
    host,
    run,
    snapshot,
    waiver,
    waiver_file,
)

from policycheck.engine import evaluate
from policycheck.pipeline import build_facts, load_all_policies, make_report
from policycheck.reporters.junit import BODY_MAX, render_junit

SUMMARY = re.compile(r"(\d+) passed, (\d+) failed, (\d+) errors, (\d+) skipped, (\d+) waived \((\d+) results\)")
_SCHEMA = etree.XMLSchema(etree.parse(str(XSD)))


def validate(xml_bytes: bytes):
    doc = etree.fromstring(xml_bytes)
    assert _SCHEMA.validate(doc), _SCHEMA.error_log
    return doc


def read_back(path):
    xml = JUnitXml.fromfile(str(path))
    cases = []
    for suite in xml:
        for case in suite:
            cases.append((suite, case))
    return xml, cases


def kinds(case) -> list:
    return [type(r) for r in case.result]


def summary_of(text: str) -> dict:
    m = SUMMARY.search(text)
    assert m, text
    return dict(zip(("pass", "fail", "error", "skip", "waived", "total"), map(int, m.groups()), strict=True))


def test_example_datazone_junit_validates_and_counts_match_the_text_summary(tmp_path, capsys):
    out_xml = tmp_path / "report.xml"
    rc, out, err = run(capsys, ["check", "-c", EXAMPLE, "--junit", out_xml])
    assert rc == 1, err
    summary = summary_of(out)
    assert summary["fail"] > 0 and summary["skip"] > 0 and summary["waived"] > 0
    validate(out_xml.read_bytes())
    xml, cases = read_back(out_xml)
    total = Counter()
    for suite in xml:
        total.update(tests=suite.tests, failures=suite.failures, errors=suite.errors, skipped=suite.skipped)
    assert total["tests"] == summary["total"] == len(cases)
    assert total["failures"] == summary["fail"]
    assert total["errors"] == summary["error"]
    assert total["skipped"] == summary["skip"] + summary["waived"]
    # the case elements agree with the suites' counts
    assert sum(Failure in kinds(c) for _, c in cases) == summary["fail"]
    assert sum(Skipped in kinds(c) for _, c in cases) == summary["skip"] + summary["waived"]
    # one suite per policy, named by id and title; classname = policy id; names unique
    names = [s.name for s in xml]
    assert len(names) == len(set(names)) == 15
    assert all(re.match(r"^[A-Z]+-\d{3} \S", n) for n in names)
    for suite, case in cases:
        assert suite.name.split(" ")[0] == case.classname
    keys = [(c.classname, c.name) for _, c in cases]
    assert len(keys) == len(set(keys))


def test_example_datazone_cases_carry_message_evidence_and_waiver(tmp_path, capsys):
    out_xml = tmp_path / "report.xml"
    run(capsys, ["audit", "-c", EXAMPLE, "--junit", out_xml])
    _, cases = read_back(out_xml)
    by_key = {(c.classname, c.name): c for _, c in cases}
    fail = by_key[("BSRV-001", "nsr-dir.corp.example")].result[0]
    assert isinstance(fail, Failure)
    assert "\n" not in fail.message and fail.message.startswith("[high] ")
    assert "file_server" in fail.message
    assert "evidence:" in fail.text and "source inventory" in fail.text and "remediation:" in fail.text
    waived = by_key[("BMR-001", "db01.corp.example")].result[0]
    assert isinstance(waived, Skipped)
    assert waived.message.startswith("waived: Solaris host being decommissioned")
    assert "owner unix-team@corp.example" in waived.message and "expires 2026-12-31" in waived.message
    assert "it was fail" in waived.text
    na = by_key[("VIRT-001", "nsr01.corp.example")].result[0]
    assert isinstance(na, Skipped) and na.message.startswith("not applicable")
    assert by_key[("BSRV-001", "nsr01.corp.example")].result == []  # a pass


def test_collection_errors_are_error_elements_naming_the_source(tmp_path, capsys):
    facts = snapshot(tmp_path / "f.json", [host("h1.example.org"), host("h2.example.org", missing=["high"])],
                     failed_sources=[("cmdb", "connection refused by 10.0.0.7:443")])
    out_xml = tmp_path / "r.xml"
    rc, out, err = run(capsys, ["check", *gate_args(facts, "--junit", out_xml)])
    assert rc == 3, err
    validate(out_xml.read_bytes())
    xml, cases = read_back(out_xml)
    errors = {(c.classname, c.name): c.result[0] for _, c in cases if Error in kinds(c)}
    assert sum(s.errors for s in xml) == len(errors) == summary_of(out)["error"]
    src = errors[("GATE-004", "source cmdb")]
    assert src.type == "source-error"
    assert "cmdb" in src.message and "connection refused by 10.0.0.7:443" in src.message
    missing = errors[("GATE-004", "h2.example.org")]
    assert missing.type == "facts-error" and "gate_high" in missing.text
    assert not any(Failure in kinds(c) for _, c in cases), "an error is never written as a failure"


def test_expired_waiver_shows_on_the_failure(tmp_path, capsys):
    facts = snapshot(tmp_path / "f.json", [host("h1.example.org", fail=["high"])])
    wf = waiver_file(tmp_path / "w.yaml", [waiver("GATE-004", "h1.example.org", "2026-01-31",
                                                  reason="old exception CHG-9")])
    out_xml = tmp_path / "r.xml"
    rc, _, err = run(capsys, ["check", *gate_args(facts, "--waivers", wf, "--junit", out_xml)])
    assert rc == 1
    _, cases = read_back(out_xml)
    fail = next(c.result[0] for _, c in cases if c.name == "h1.example.org" and Failure in kinds(c))
    assert "a waiver for this result expired" in fail.text and "old exception CHG-9" in fail.text


NASTY = "bad\x00\x01\x08\x0b\x0c\x1b[31m\x7f\x85\x9f <&>\"' ]]> üñ漢字🚀 \ufffe end"
NASTY_SHOWN = "\\x00\\x01\\x08\\x0b\\x0c\\x1b[31m\\x7f\\x85\\x9f <&>\"' ]]> üñ漢字🚀 \\ufffe end"
SURROGATE = "lone \ud800 surrogate (a JSON \\ud800 escape)"


def _hostile_host():
    h = host("h\x01<&>ü漢🚀.example.org", fail=["high"])
    h["gate_high"] = NASTY + "x" * 1_000_000   # wrong and very long: the failure's evidence
    h["aliases"] = [NASTY]
    return h


def _check_hostile(raw: bytes, names):
    raw.decode("utf-8")
    doc = validate(raw)
    case = next(c for c in doc.iter("testcase") if c.get("classname") == "GATE-004")
    assert case.get("name") == "h\\x01<&>ü漢🚀.example.org"
    body = case.find("failure").text
    assert NASTY_SHOWN in body
    assert len(body) <= BODY_MAX
    assert len(raw) < 1_000_000, "a huge fact value is cut, not copied whole"


def test_hostile_values_give_valid_xml_without_losing_text(tmp_path, capsys):
    facts = snapshot(tmp_path / "f.json", [_hostile_host()])
    out_xml = tmp_path / "r.xml"
    rc, _, err = run(capsys, ["check", *gate_args(facts, "--junit", out_xml)])
    assert rc == 1, err
    _check_hostile(out_xml.read_bytes(), None)
    _, cases = read_back(out_xml)  # junitparser reads it too
    assert any(c.name == "h\\x01<&>ü漢🚀.example.org" for _, c in cases)


def test_lone_surrogates_are_escaped_by_the_junit_reporter():
    h = _hostile_host()
    h["gate_high"] = SURROGATE
    raw = render_junit(_report([h])).encode("utf-8")
    doc = validate(raw)
    assert "lone \\ud800 surrogate" in doc.find(".//failure").text


def test_lone_surrogates_through_the_cli(tmp_path, capsys):
    h = host("h1.example.org", fail=["high"])
    h["gate_high"] = SURROGATE
    facts = snapshot(tmp_path / "f.json", [h])
    rc, _, _ = run(capsys, ["check", *gate_args(facts, "--junit", tmp_path / "r.xml", "--json", tmp_path / "r.json")])
    assert rc == 1


def test_format_junit_on_stdout_equals_the_junit_file(tmp_path, capsys):
    facts = snapshot(tmp_path / "f.json", [host("h1.example.org", fail=["low"])])
    out_xml = tmp_path / "r.xml"
    rc, out, _ = run(capsys, ["check", *gate_args(facts, "--format", "junit", "--junit", out_xml)])
    assert rc == 1
    assert out == out_xml.read_text(encoding="utf-8")
    validate(out.encode("utf-8"))


def test_cases_are_stable_across_runs_and_every_policy_has_a_suite(tmp_path, capsys):
    hosts = [host(f"h{i}.example.org", fail=["medium"] if i % 2 else []) for i in range(5)]
    facts = snapshot(tmp_path / "f.json", hosts)
    keys = []
    for n in (1, 2):
        path = tmp_path / f"r{n}.xml"
        run(capsys, ["check", *gate_args(facts, "--junit", path)])
        xml, cases = read_back(path)
        keys.append([(c.classname, c.name) for _, c in cases])
        assert [s.name.split(" ")[0] for s in xml] == [f"GATE-00{i}" for i in range(1, 6)]
    assert keys[0] == keys[1] and len(set(keys[0])) == 25


def test_several_outputs_in_one_run(tmp_path, capsys):
    facts = snapshot(tmp_path / "f.json", [host("h1.example.org", fail=["critical"]),
                                           host("h2.example.org", missing=["info"])])
    a, b, c = tmp_path / "out" / "a.xml", tmp_path / "out" / "b.json", tmp_path / "out" / "c.md"
    rc, out, err = run(capsys, ["check", *gate_args(facts, "--junit", a, "--json", b, "--markdown", c)])
    assert rc == 1, err
    text = summary_of(out)
    validate(a.read_bytes())
    xml, _ = read_back(a)
    assert sum(s.failures for s in xml) == text["fail"] == 1
    assert sum(s.errors for s in xml) == text["error"] == 1
    data = json.loads(b.read_text(encoding="utf-8"))
    assert {k: data["summary"][k] for k in ("pass", "fail", "error", "skip", "waived", "total")} == text
    md = c.read_text(encoding="utf-8")
    assert "## policycheck: ❌ 1 failure(s) at or above low" in md and "GATE-005" in md


def _report(hosts, failed_sources=()):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = snapshot(Path(d) / "f.json", hosts, failed_sources)
        doc = json.loads(path.read_text(encoding="utf-8"))
    policies = load_all_policies([GATE_POLICIES], builtin=False)
    facts = build_facts(doc)
    return make_report(evaluate(policies, facts), policies, facts, fail_on="low")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=4, unique=True),
       value=st.text(max_size=300), reason=st.text(max_size=80))
def test_any_text_in_the_facts_gives_schema_valid_junit(ids, value, reason):
    hosts = [host(i, fail=["low"]) for i in ids]
    hosts[0]["gate_high"] = value
    report = _report(hosts, failed_sources=[("src" + reason[:10], reason)] if reason else ())
    xml = render_junit(report).encode("utf-8")
    doc = validate(xml)
    cases = doc.findall(".//testcase")
    assert len(cases) == len(report.results)
    keys = [(c.get("classname"), c.get("name")) for c in cases]
    assert len(keys) == len(set(keys))
    assert len(doc.findall(".//failure")) == report.summary["fail"]
    assert len(doc.findall(".//error")) == report.summary["error"]
    plain = [i for i in ids if i.isprintable() and i == " ".join(i.split()) and i.strip()]
    names = {c.get("name") for c in cases}
    for i in plain:  # printable ids come back exactly
        assert i in names


@pytest.mark.parametrize("fmt", ["junit", "markdown"])
def test_reporters_are_registered_builtins(fmt):
    from policycheck.plugins import make_plugins

    plugins = make_plugins(load_entry_points=False)
    assert fmt in plugins.reporters
    assert not [i for i in plugins.infos if i.builtin and i.error]


class _Check:
    """A check as a result's evidence holds it, with any fact and expected text (all the JUnit writer
    reads of a check)."""

    def __init__(self, fact: str, expected: str):
        from types import SimpleNamespace

        self.path = SimpleNamespace(text=fact, steps=[("gate_high", None)])
        self.expected = expected

    def expected_text(self) -> str:
        return self.expected


def _through_testcases(report) -> str:
    """The document with every case made by junit-xml's TestCase (``_case``), every name made unique
    by ``_unique_names`` and written by ``_name_attr``: what the writer's direct paths must reproduce
    byte for byte."""
    from unittest import mock

    from policycheck.reporters import junit

    with mock.patch.object(junit, "_fast_case", lambda *a: None), \
            mock.patch.object(junit._Names, "of", lambda self, results: (junit._unique_names(results), False)):
        return render_junit(report)


def _hostile_report(hosts, text: str, fact: str, expected: str, failed_sources=()):
    """A report whose policy, check and result texts are ``text``-laden (lines a CI runner reads as
    commands, controls, markup), with a not-applicable result, a baseline, context evidence and a body
    too long to keep whole."""
    import dataclasses

    from policycheck.results import SKIP

    report = _report(hosts, failed_sources)
    check = _Check(fact, expected)
    for i, p in enumerate(report.policies):
        report.policies[i] = dataclasses.replace(p, id=text + p.id, title=text, remediation=text + "\n" + text)
    by_id = {p.id[len(text):]: p for p in report.policies}
    for r in report.results:
        r.policy = by_id[r.policy.id]
        r.evidence = [e if e.__class__ is dict else (check, *e[1:]) for e in r.evidence]
        if r.status != "pass":
            r.message = text + (r.message or "")
    others = [r for r in report.results if r.status != "pass" and r.target_kind != "source"]
    others[0].status = SKIP
    others[-1].baseline = "new"
    others[1].message = text + "x" * (BODY_MAX + 10)  # a body cut to BODY_MAX
    others[-1].evidence.append({"fact": fact, "observed": text, "expected": "context (not judged)", "ok": None,
                                "entity": text, "source": "inventory", "observed_at": None})
    return report


COMMANDS = ["::error::x", "##[group]x", "  ##vso[task.setvariable]x", "\t::add-mask::x", "a::b ##c", ""]


NAMES = {  # a suite's names: hostile, or printable with one an attribute escapes, cuts or makes unique
    "hostile": None, "amp": "a&b.example.org", "quote": 'a"b.example.org', "lt": "a<b.example.org", "gt": "a>b.example.org",
    "long": "h" * 600, "as a source": "source cmdb", "plain": "h5.example.org"}


@pytest.mark.parametrize("text", COMMANDS + [NASTY, SURROGATE])
@pytest.mark.parametrize("name", NAMES)
def test_cases_written_directly_equal_their_testcases(text, name):
    hosts = [host("h2.example.org", missing=["high"]), host("h3.example.org")]
    if name == "hostile":
        hosts += [_hostile_host(), host(text or "h4", fail=["high"]), host(text + " ", fail=["high"])]
    else:
        hosts += [host(NAMES[name], fail=["high"])]
    report = _hostile_report(hosts, text, text + "gate_high", text, failed_sources=[("cmdb", text)])
    assert render_junit(report) == _through_testcases(report)


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=4, unique=True),
       value=st.text(max_size=200), text=st.text(max_size=30), fact=st.text(max_size=20),
       prefix=st.sampled_from(COMMANDS))
def test_any_text_written_directly_equals_its_testcase(ids, value, text, fact, prefix):
    hosts = [host(i, fail=["low"], missing=["medium"]) for i in ids]
    hosts[0]["gate_high"] = value
    report = _hostile_report(hosts, prefix + text, prefix + fact, text + value)
    assert render_junit(report) == _through_testcases(report)


@pytest.mark.parametrize("value", [None, True, False, 0, 1, -7, 10**2100, [], [1], [True, None], {}, {"id": "h1"},
                                   [{"id": "h1"}, "x"], 1.5, 2e5, float("nan"), "", "x" * 2100, "ü\n"])
def test_values_written_inline_as_describe_writes_them(value):
    from policycheck.reporters.junit import VALUE_MAX, _describe
    from policycheck.textutil import describe

    assert _describe(value) == describe(value, VALUE_MAX)
