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
    assert len(st) == 15
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


def test_rego_covers_the_issues_three_policies():
    import run
    import workers

    # bootstrap off the server, client BMR path, virtual server mobility (and VIRT-001, director mode)
    assert {"BOOT-002", "BMR-001", "VIRT-002"} <= set(workers.REGO_PACKAGES)
    assert tuple(workers.REGO_PACKAGES) == run.REGO_POLICIES
    for pkg in workers.REGO_PACKAGES.values():
        assert (workers.REGO_DIR / f"{pkg}.rego").read_text().count(f"package policycheck.{pkg}\n") == 1


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
    virt2 = {s for (p, _), s in theirs.items() if p == "VIRT-002"}
    assert virt2 == {"pass", "fail", "error", "skip"}, virt2


def _rule(mandatory, **kw):
    return {"name": "rule", "mandatory": mandatory, "hosts": [], **kw}


def _unknown(e, attr):
    del e[attr]
    e.setdefault("_unknown", {})[attr] = "test: not readable"


#: one change to a passing virtual server (its VM, the VM's own cluster, the server, its host) -> VIRT-002's status
VIRT_002_CASES = [
    ("a disk on an unshared datastore", lambda vm, cl, s, h: vm["disks"][-1].update(shared=False), "fail"),
    ("a passthrough device", lambda vm, cl, s, h: vm.update(passthrough_devices=[{"type": "usb", "name": "key"}]),
     "fail"),
    ("a must-run rule", lambda vm, cl, s, h: vm.update(host_rules=[_rule(True, enabled=True)]), "fail"),
    ("a must-run rule, enabled by default", lambda vm, cl, s, h: vm.update(host_rules=[_rule(True)]), "fail"),
    ("a disabled must-run rule", lambda vm, cl, s, h: vm.update(host_rules=[_rule(True, enabled=False)]), "pass"),
    ("should-run rules", lambda vm, cl, s, h: vm.update(host_rules=[_rule(False), _rule(None)]), "pass"),
    ("a rule of unknown kind", lambda vm, cl, s, h: vm.update(host_rules=[{"name": "r", "hosts": []}]), "error"),
    ("HA disabled for the VM", lambda vm, cl, s, h: vm.update(ha_disabled=True), "fail"),
    ("HA for the VM not reported (default: not disabled)", lambda vm, cl, s, h: vm.pop("ha_disabled"), "pass"),
    ("HA off on the cluster", lambda vm, cl, s, h: cl.update(ha_enabled=False), "fail"),
    ("one eligible host", lambda vm, cl, s, h: vm.update(eligible_hosts=vm["eligible_hosts"][:1]), "fail"),
    ("eligible hosts unknown (a host of its cluster not described)",
     lambda vm, cl, s, h: (cl.update(hosts=cl["hosts"] + ["esx-undescribed"]), vm.pop("eligible_hosts")), "error"),
    ("a disk on a datastore no source describes (sharing unknown)",
     lambda vm, cl, s, h: (vm["disks"][0].pop("shared"), vm["disks"][0].update(datastore="ds-undescribed"),
                           vm.pop("eligible_hosts")),
     "error"),
    ("a cluster no source describes", lambda vm, cl, s, h: vm.update(cluster="domain-c999"), "error"),
    ("no VM (null)", lambda vm, cl, s, h: s.update(vm=None), "fail"),
    ("whether it is virtual unknown", lambda vm, cl, s, h: (_unknown(s, "virtual"), _unknown(h, "platform")),
     "error"),
]


def test_rego_virt_002_agrees_on_each_way_a_vm_is_pinned(tmp_path):
    """Beyond the generator's one fail and one error per policy: each case changes one passing virtual server;
    policycheck gives the expected status, the other servers keep theirs, and regopy agrees on every server."""
    _regopy_or_skip()
    import workers

    doc = gen_datazone.generate(clients=40, servers=len(VIRT_002_CASES) * 2, seed=3)
    before = statuses(doc)["VIRT-002"]
    ents = doc["entities"]
    vms = {v["id"]: v for v in ents["vm"]}
    hosts = {h["id"]: h for h in ents["host"]}
    movable = [s for s in ents["backup_server"] if before[s["id"]] == "pass"]
    assert len(movable) >= len(VIRT_002_CASES)
    expected = dict(before)
    for (_what, change, status), s in zip(VIRT_002_CASES, movable[:len(VIRT_002_CASES)], strict=True):
        vm = vms[s["vm"]]
        cluster = next(c for c in ents["cluster"] if c["id"] == vm["cluster"])  # shared: change a copy
        cl = dict(cluster, id=f"{cluster['id']}-{s['id']}")
        ents["cluster"].append(cl)
        vm["cluster"] = cl["id"]
        change(vm, cl, s, hosts[s["host"]])
        expected[s["id"]] = status
    facts = pipeline.build_facts(json.loads(json.dumps(doc)))
    snap = tmp_path / "dz.json"
    snap.write_text(json.dumps(facts.doc))  # what policycheck judged, derived facts included
    virt2 = [p for p in pipeline.load_all_policies() if p.id == "VIRT-002"]
    mine = {r.target_id: r.status for r in evaluate(virt2, facts)}
    assert mine == expected
    workers.rego(snap, tmp_path / "rego.json")
    theirs = {t: st for p, t, st in json.loads((tmp_path / "rego.json").read_text()) if p == "VIRT-002"}
    assert theirs == mine


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
