"""The benchmark generator and runner at a tiny size, so that neither rots: they complete, the generated
facts validate and spread verdicts as documented, and regopy's verdicts agree with policycheck's. No timings."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import gen_datazone  # noqa: E402

from policycheck import pipeline  # noqa: E402
from policycheck.engine import evaluate  # noqa: E402


def statuses(doc) -> dict:
    facts = pipeline.build_facts(json.loads(json.dumps(doc)))
    out: dict = {}
    for r in evaluate(pipeline.load_all_policies(), facts):
        out.setdefault(r.policy.id, {})[r.target_id] = r.status
    return out


@pytest.fixture(scope="module")
def small():
    return gen_datazone.generate(clients=300, seed=7)


def test_generated_facts_validate_against_the_schema(small):
    assert gen_datazone.validate(small) == []
    raw = gen_datazone.generate(clients=300, seed=7, raw=True)
    assert gen_datazone.validate(raw) == []


def test_generator_is_seeded(small):
    again = gen_datazone.generate(clients=300, seed=7)
    other = gen_datazone.generate(clients=300, seed=8)
    assert json.dumps(again, sort_keys=True) == json.dumps(small, sort_keys=True)
    assert json.dumps(other, sort_keys=True) != json.dumps(small, sort_keys=True)


def test_sizes_follow_the_arguments():
    doc = gen_datazone.generate(clients=500, vms=150, servers=12, seed=1)
    ents = doc["entities"]
    assert len(ents["backup_server"]) == 12
    assert 495 <= len(ents["client"]) <= 500 + 12 + 4 * 10  # plus DR-deadlock caches and infrastructure
    assert 140 <= len(ents["vm"]) <= 160
    assert {"host", "storage_node", "device", "bootstrap", "hypervisor_host", "cluster", "datastore",
            "dr_test"} <= {k for k, v in ents.items() if v}


def test_every_policy_sees_failures_errors_and_passes(small):
    st = statuses(small)
    assert len(st) == 10
    for pid, per_target in st.items():
        c = Counter(per_target.values())
        assert c["fail"] >= 1 and c["error"] >= 1 and c["pass"] >= 1, (pid, c)
        if pid in gen_datazone.WHEN_VIRTUAL:
            assert c["skip"] >= 1, (pid, c)
    bmr = Counter(st["BMR-001"].values())
    total = sum(bmr.values())
    assert 0.05 < bmr["fail"] / total < 0.2 and 0.05 < bmr["error"] / total < 0.2, bmr


def test_errors_come_from_missing_facts(small):
    facts = pipeline.build_facts(json.loads(json.dumps(small)))
    errors = [r for r in evaluate(pipeline.load_all_policies(), facts) if r.status == "error"]
    assert errors
    for r in errors:
        assert "missing fact" in r.message or "unknown" in r.message, (r.policy.id, r.target_id, r.message)


def test_raw_and_derived_snapshots_judge_the_same(small):
    raw = gen_datazone.generate(clients=300, seed=7, raw=True)
    assert statuses(raw) == statuses(small)


def _regopy_or_skip():
    try:
        import regopy  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("regopy is required in CI (pip install regopy)")
        pytest.skip("regopy is not installed")


def test_rego_policies_agree_with_policycheck(tmp_path, small):
    _regopy_or_skip()
    import workers

    snap = tmp_path / "dz.json"
    snap.write_text(json.dumps(small))
    workers.rego(snap, tmp_path / "rego.json")
    theirs = {(p, t): s for p, t, s in json.loads((tmp_path / "rego.json").read_text())}
    st = statuses(small)
    mine = {(p, t): s for p in workers.REGO_PACKAGES for t, s in st[p].items()}
    assert theirs == mine
    assert {"pass", "fail", "error", "skip"} <= set(theirs.values())


def test_benchmark_runs_at_a_tiny_size(tmp_path):
    _regopy_or_skip()
    out = tmp_path / "latest.json"
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--sizes", "40,80", "--repeat", "1",
                           "--collect-backups", "300", "--workdir", str(tmp_path / "w"), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert [r["clients"] for r in res["evaluation"]] == [40, 80]
    for r in res["evaluation"]:
        assert r["results"] > r["clients"] and set(r["statuses"]) == set(statuses_ids())
    assert res["end_to_end"]["junit_bytes"] > 0 and res["end_to_end"]["json_bytes"] > 0
    assert set(res["startup_ms"]) == {"python -c pass", "policycheck --version", "policycheck policies list"}
    sizes = res["rego"]["sizes"]
    assert [s["clients"] for s in sizes] == [40, 80]
    assert all(s["finished"] and s["agree"] for s in sizes), sizes
    if not res["collection"].get("skipped"):
        assert res["collection"]["requests"] > 0 and res["collection"]["entities"]["client"] > 0
    assert "### Targets" in proc.stdout and "| target | result |" in proc.stdout


def statuses_ids():
    return [p.id for p in pipeline.load_all_policies()]
