"""OpenMetrics for the node-exporter textfile collector, read back by prometheus_client's parsers."""
from __future__ import annotations

import json

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus
from reports_common import AS_OF, EXAMPLE_CONFIG, example_report, run

from policycheck.timeutil import parse_time


def _families(text):
    return {f.name: f for f in parse_openmetrics(text)}


def test_counts_by_policy_severity_status_and_the_heartbeat(tmp_path, capsys):
    prom = tmp_path / "policycheck.prom"
    rc, rep, _ = example_report(tmp_path, capsys, "--format", "openmetrics", "-o", prom)
    assert rc == 1
    text = prom.read_text(encoding="utf-8")
    assert text.endswith("# EOF\n")
    fams = _families(text)
    results = fams["policycheck_results"]
    assert results.type == "gauge"
    got: dict = {}
    for s in results.samples:
        got[(s.labels["policy"], s.labels["severity"], s.labels["status"])] = s.value
    want: dict = {}
    for r in rep["results"]:
        key = (r["policy_id"], r["severity"], r["status"])
        want[key] = want.get(key, 0) + 1
    assert {k: v for k, v in got.items() if v} == want
    # every status of every policy is a series, zeros included
    assert len(got) == len(rep["policies"]) * 5
    assert sum(got.values()) == rep["summary"]["total"]
    by_status = {s.labels["status"]: s.value for s in fams["policycheck_results_by_status"].samples}
    assert by_status == {k: rep["summary"][k] for k in ("pass", "fail", "error", "skip", "waived")}
    up = {s.labels["source"]: s.value for s in fams["policycheck_source_up"].samples}
    assert up == {"inventory": 1, "networker": 1, "vsphere": 1}
    ts = {name: fams[name].samples[0].value for name in ("policycheck_facts_collected_timestamp_seconds",
                                                         "policycheck_evaluated_as_of_timestamp_seconds",
                                                         "policycheck_last_run_timestamp_seconds")}
    assert fams["policycheck_last_run_timestamp_seconds"].unit == "seconds"
    assert ts["policycheck_evaluated_as_of_timestamp_seconds"] == parse_time(AS_OF).timestamp()
    assert ts["policycheck_facts_collected_timestamp_seconds"] == parse_time(rep["collected_at"]).timestamp()
    assert ts["policycheck_last_run_timestamp_seconds"] == parse_time(rep["generated_at"]).timestamp()
    # the Prometheus text parser (what node-exporter's textfile collector uses) reads it too
    assert {f.name for f in parse_prometheus(text)} >= {"policycheck_results", "policycheck_source_up"}


def test_label_values_are_escaped_and_a_failed_source_is_down(tmp_path, capsys):
    snap = tmp_path / "f.json"
    run(capsys, ["collect", "-c", EXAMPLE_CONFIG, "-o", snap])
    doc = json.loads(snap.read_text())
    doc["sources"][2].update(name='vc "east"\\1\nx\x1b[2J\x9b', status="error", error="timeout")
    for kind in ("cluster", "datastore", "hypervisor_host", "vm"):
        for e in doc["entities"][kind]:
            e["_sources"] = ['vc "east"\\1\nx\x1b[2J\x9b']
    snap.write_text(json.dumps(doc))
    rc, out, err = run(capsys, ["check", "--facts", snap, "--as-of", AS_OF, "--format", "openmetrics"])
    assert rc == 1, err
    fams = _families(out)
    assert "\x1b" not in out and "\x9b" not in out  # a label is one line, every control visible
    up = {s.labels["source"]: s.value for s in fams["policycheck_source_up"].samples}
    assert up['vc "east"\\1\\nx\\x1b[2J\\x9b'] == 0 and up["inventory"] == 1
    errors = sum(s.value for s in fams["policycheck_results"].samples if s.labels["status"] == "error")
    assert errors > 0
