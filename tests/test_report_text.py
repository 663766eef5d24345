"""The text audit report at scale (grouped by policy, a roll-up table, passes counted) and the one-line
"why" of a failure: every failed branch of an `any`, and what made a derived list so (VIRT-002)."""
import copy
import json
import re
import sys

import pytest
from pchelpers import EXAMPLE, ROOT, run_cli

sys.path.insert(0, str(ROOT / "benchmarks"))
import gen_datazone  # noqa: E402

CONFIG = EXAMPLE / "policycheck.yaml"
SELECT = ("--select", "BMR-*", "--select", "BOOT-*", "--select", "BSRV-*", "--select", "VIRT-*")
LINE = re.compile(r"^    (FAIL |ERROR) (\S+) (\S+?):(\S+)  ")


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A generated datazone of 1,500 clients, judged by the BMR, BOOT, BSRV and VIRT policies (~1,600
    results), as text and as JSON."""
    d = tmp_path_factory.mktemp("big")
    facts = d / "dz.json"
    facts.write_text(json.dumps(gen_datazone.generate(clients=1500, seed=1, raw=True)))
    code, text, err = run_cli("audit", "--facts", facts, *SELECT)
    assert code == 1, err
    code, js, err = run_cli("check", "--facts", facts, *SELECT, "--format", "json")
    return text, json.loads(js), facts


def test_audit_of_a_big_datazone_is_short_and_names_each_problem_once(big):
    text, data, _ = big
    results = data["results"]
    assert len(results) > 1500
    problems = [r for r in results if r["status"] in ("fail", "error")]
    assert len(problems) > 200
    lines = text.splitlines()
    assert len(lines) < 450, len(lines)
    assert len(lines) < len(problems) + 150  # one line per problem, a bounded overhead
    seen = [m.groups() for m in map(LINE.match, lines) if m]
    want = sorted((r["status"].upper().ljust(5), r["policy_id"], r["target_kind"], r["target_id"]) for r in problems)
    assert sorted(seen) == want  # every failing/erring target exactly once
    # each failing policy's remediation (its first words) is printed once, not once per target
    for pid in {r["policy_id"] for r in problems}:
        rem = next(r["remediation"] for r in results if r["policy_id"] == pid and r.get("remediation"))
        assert text.count(" ".join(rem.split()[:6])) == 1, pid
    assert not any(x.startswith("  PASS  ") for x in lines) and "\nPASSED " in text  # counted, not listed
    # the header and the trailer as before
    assert lines[0].startswith("policycheck ") and lines[1].startswith("Judged as of ")
    s = data["summary"]
    assert lines[-1] == (f"Summary: {s['pass']} passed, {s['fail']} failed, {s['error']} errors, "
                         f"{s['skip']} skipped, {s['waived']} waived ({s['total']} results)")


def test_rollup_table_heads_the_report_with_counts_per_policy(big):
    text, data, _ = big
    lines = text.splitlines()
    head = lines.index(next(x for x in lines if x.startswith("POLICIES")))
    first_problem = next(i for i, x in enumerate(lines) if LINE.match(x))
    assert head < first_problem
    counts: dict = {}
    for r in data["results"]:
        counts.setdefault(r["policy_id"], {s: 0 for s in ("pass", "fail", "error", "skip", "waived")})
        counts[r["policy_id"]][r["status"]] += 1
    rows = {}
    for x in lines[head + 2:]:
        if not x.strip():
            break
        f = x.split()
        rows[f[0]] = dict(zip(("pass", "fail", "error", "skip", "waived"), map(int, f[2:7]), strict=True))
    assert rows == counts


def test_verbose_lists_the_passes(big):
    _, data, facts = big
    code, text, _ = run_cli("audit", "--facts", facts, "--select", "VIRT-*", "-v")
    passes = [r for r in data["results"] if r["status"] == "pass" and r["policy_id"].startswith("VIRT-")]
    assert passes and sum(1 for x in text.splitlines() if x.startswith("  PASS  ")) == len(passes)


def test_check_stays_terse(big):
    _, data, facts = big
    code, text, _ = run_cli("check", "--facts", facts, *SELECT)
    problems = [r for r in data["results"] if r["status"] in ("fail", "error")]
    assert len(text.splitlines()) == len(problems) + 2  # one line each, then the clock and the summary


def test_why_lists_every_failed_branch_of_an_any():
    code, out, _ = run_cli("check", "-c", CONFIG, "--select", "BMR-001", "--format", "json")
    r = next(r for r in json.loads(out)["results"] if r["target_id"] == "nsr-dir.corp.example")
    assert r["status"] == "fail"
    assert r["message"] == ("none of: last_image_backup is null (within 31d); last_bmr_backup is null (within 31d); "
                            "host->host.bmr_methods is [] (empty false); host->host.vm->vm.template is null "
                            "(exists true); host->host.vm->vm.snapshots: at least one item passes is not met (0 items)")



def _vm_zone(tmp_path, mutate):
    code, _, err = run_cli("collect", "-c", CONFIG, "-o", tmp_path / "f.json")
    doc = json.loads((tmp_path / "f.json").read_text())
    for vm in doc["entities"]["vm"]:  # derive again from the raw facts
        for k in ("eligible_hosts", "_why"):
            vm.pop(k, None)
        vm.get("_attr_sources", {}).pop("eligible_hosts", None)
    mutate(doc["entities"])
    (tmp_path / "f.json").write_text(json.dumps(doc))
    code, out, err = run_cli("check", "--facts", tmp_path / "f.json", "--select", "VIRT-002", "--format", "json")
    return next(r for r in json.loads(out)["results"] if r["target_id"] == "nsr-dir.corp.example")


def test_why_of_eligible_hosts_names_what_excluded_each_host(tmp_path):
    r = _vm_zone(tmp_path, lambda e: None)
    assert r["status"] == "fail"
    assert r["message"].endswith("(excluded: esx02 does not mount datastore ds-local-esx01 of disk 'Hard disk 2'; "
                                 "esx03 in maintenance)"), r["message"]

    def change(e):
        hosts = {h["id"]: h for h in e["hypervisor_host"]}
        hosts["esx03"]["maintenance"] = False
        hosts["esx03"]["connection_state"] = "disconnected"
        vm = e["vm"][0]
        vm["disks"][1]["datastore"] = "ds-shared01"
        vm["disks"][1].pop("shared")  # derived again from its new datastore
        vm["host_rules"] = [{"name": "pin-\x1b[31mesx01", "mandatory": True, "hosts": ["esx01"], "enabled": True}]
    r = _vm_zone(tmp_path, change)
    # the must-run rule is judged in one place, VIRT-002's own condition on host_rules (issue 17), and the
    # message names the rule that matched
    assert r["status"] == "fail"
    assert r["message"] == ("vm->vm.host_rules: no item passes is not met (1 items); the item with name "
                            "pin-\x1b[31mesx01 matches: mandatory is true"), r["message"]
    # the terminal gets the control character made visible
    code, out, _ = run_cli("audit", "--facts", tmp_path / "f.json", "--select", "VIRT-002")
    assert "\x1b" not in out and "pin-" in out


def test_derived_eligible_hosts_unchanged_by_the_why():
    """_why is recorded beside the derived list; the list itself is what it was."""
    from policycheck import pipeline

    raw = gen_datazone.generate(clients=300, seed=7, raw=True)
    derived = gen_datazone.generate(clients=300, seed=7)
    facts = pipeline.build_facts(copy.deepcopy(raw))
    want = {v["id"]: v.get("eligible_hosts") for v in derived["entities"]["vm"]}
    got = {v["id"]: v.get("eligible_hosts") for v in facts.entities("vm")}
    assert got == want
    assert any(v.get("_why") for v in facts.entities("vm"))
