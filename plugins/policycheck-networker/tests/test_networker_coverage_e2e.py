"""Issue 18 end to end: `policycheck check` over the fake server's `coverage` datazone (clones, a Data Domain
device with retention lock, a vaulted tape, a WORM tape in a library, failed save jobs, a never-run client)
joined with an inventory of hosts and restore tests; the five backup-basics policies' verdicts per target."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from policycheck.testing import run_cli

pytest.importorskip("policycheck.cli", reason="the core CLI has not landed")

POLICIES = ["COV-001", "RPO-001", "CPY-001", "IMM-001", "RST-001"]
SERVER = "nsr05.corp.example"
CLIENTS = ("nsr05", "good01", "plain01", "vault01", "worm01", "local01", "stale01", "failed01", "never01")


def inventory() -> dict:
    """Hosts (the clients, a host no server protects, an exempt one) and restore tests, dated from the same
    clock the fake server renders its 'NOW-..' times with (so the suite runs under faketime too)."""
    now = datetime.now(timezone.utc).replace(microsecond=0)

    def ago(**kw) -> str:
        return (now - timedelta(**kw)).isoformat()

    hosts = [{"id": f"{h}.corp.example", "platform": "physical"} for h in CLIENTS]
    hosts += [{"id": "orphan01.corp.example", "platform": "physical"},
              {"id": "scratch01.corp.example", "platform": "physical",
               "backup": {"exempt": True, "reason": "stateless build agent, rebuilt from its image", "owner": "ci"}}]
    tests = [{"id": "rt-good01", "host": "good01.corp.example", "time": ago(days=30), "result": "success",
              "kind": "file_restore"},
             {"id": "rt-local01", "host": "local01.corp.example", "time": ago(days=10), "result": "failure",
              "kind": "file_restore"},
             {"id": "rt-stale01-old", "host": "stale01.corp.example", "time": ago(days=400), "result": "success",
              "kind": "file_restore"}]
    return {"host": hosts, "dr_test": tests}


def check(server, zone, tmp_path, edit=None, **opts) -> dict:
    z = zone("coverage")
    if edit:
        edit(z)
    srv = server(z, **opts)
    (tmp_path / "nsr.pw").write_text(srv.password + "\n")
    (tmp_path / "inventory.yaml").write_text(json.dumps({"entities": inventory()}))
    cfg = tmp_path / "policycheck.yaml"
    cfg.write_text(f"""version: 1
sources:
  - {{name: nsr, plugin: networker, timeout: 10, url: "{srv.url}", username: audit, password_file: nsr.pw}}
  - {{name: inv, plugin: file, path: inventory.yaml}}
""")
    p = run_cli(["check", "-c", cfg, "--format", "json", *[a for pid in POLICIES for a in ("--select", pid)]],
                cwd=tmp_path)
    assert p.stdout, p.stderr
    doc = json.loads(p.stdout)
    assert srv.password not in p.stdout + p.stderr
    out: dict = {}
    for r in doc["results"]:
        if r["policy_id"] in POLICIES:
            out[(r["policy_id"], r["target_id"])] = r
    return out


def status(results: dict, pid: str, target: str) -> str:
    return results[(pid, target)]["status"]


def client(h: str) -> str:
    return f"{SERVER}/{h}.corp.example"


def test_five_policies_verdicts_per_target(server, zone, tmp_path):
    res = check(server, zone, tmp_path)
    # RPO-001: a recent save set passes (the bootstrap counts for the server's own client); a never-run
    # client and a client whose runs failed fail (not error), as does one whose last success is 50h old
    for h in ("nsr05", "good01", "plain01", "vault01", "worm01", "local01"):
        assert status(res, "RPO-001", client(h)) == "pass", (h, res[("RPO-001", client(h))])
    for h in ("stale01", "failed01", "never01"):
        assert status(res, "RPO-001", client(h)) == "fail", (h, res[("RPO-001", client(h))])
    # CPY-001: a clone on Data Domain (data on dd05), in a vault, or on a storage node's library is off the
    # server; a save set only on the server's own disk is not; no backup at all has no copy
    for h in ("nsr05", "good01", "plain01", "vault01", "worm01", "stale01"):
        assert status(res, "CPY-001", client(h)) == "pass", (h, res[("CPY-001", client(h))])
    for h in ("local01", "failed01", "never01"):
        assert status(res, "CPY-001", client(h)) == "fail", (h, res[("CPY-001", client(h))])
    # IMM-001: the bootstrap's clone on the retention-locked DD device, clients' WORM and vaulted tapes
    assert status(res, "IMM-001", SERVER) == "pass", res[("IMM-001", SERVER)]
    # RST-001: restore tests come from the inventory
    assert status(res, "RST-001", client("good01")) == "pass"
    for h in ("local01", "stale01", "never01"):
        assert status(res, "RST-001", client(h)) == "fail", (h, res[("RST-001", client(h))])
    # COV-001: the clients' hosts are covered, a host no server knows is not, an exempt one is not judged
    for h in CLIENTS:
        assert status(res, "COV-001", f"{h}.corp.example") == "pass", h
    assert status(res, "COV-001", "orphan01.corp.example") == "fail"
    assert ("COV-001", "scratch01.corp.example") not in res or \
        status(res, "COV-001", "scratch01.corp.example") == "skip"


def test_rpo_failure_evidence_names_the_last_failed_run(server, zone, tmp_path):
    """The only-failed client's verdict carries its failed save job's time; the never-run one none."""
    res = check(server, zone, tmp_path)
    ev = {e["fact"]: e for e in res[("RPO-001", client("failed01"))]["evidence"]}
    assert ev["last_successful_backup"]["observed"] is None
    assert isinstance(ev["last_failed_backup"]["observed"], str) and "T" in ev["last_failed_backup"]["observed"]
    assert res[("RPO-001", client("never01"))]["status"] == "fail"


def test_bootstrap_only_on_unlocked_media_fails_imm(server, zone, tmp_path):
    """The latest bootstrap only on the Data Domain device whose retention lock is off (mode None): no copy
    of it is immutable or offline, as NetWorker reports it -> IMM-001 fails."""
    def unlocked(z):
        boot = max((b for b in z["backups"]["backups"] if b["name"] == "bootstrap"),
                   key=lambda b: datetime.fromisoformat(b["saveTime"]))
        boot["instances"] = [dict(boot["instances"][0], volumeIds=["5003"])]

    res = check(server, zone, tmp_path, edit=unlocked)
    assert status(res, "IMM-001", SERVER) == "fail", res[("IMM-001", SERVER)]


def test_policies_refused_leaves_retention_lock_unknown_and_imm_error(server, zone, tmp_path):
    """Without the protection policies, which actions lock their save sets on the DD device is not known:
    the bootstrap's copies cannot be shown immutable, so IMM-001 is error (never pass, never fail)."""
    res = check(server, zone, tmp_path, faults={"protectionpolicies": 403})
    assert status(res, "IMM-001", SERVER) == "error", res[("IMM-001", SERVER)]
    assert status(res, "RPO-001", client("good01")) == "pass"


def test_jobs_refused_changes_no_verdict(server, zone, tmp_path):
    """The job log only adds the failed runs' evidence: without it the media database still decides RPO-001."""
    res = check(server, zone, tmp_path, faults={"jobs": 403})
    assert status(res, "RPO-001", client("never01")) == "fail"
    assert status(res, "RPO-001", client("failed01")) == "fail"
    assert status(res, "RPO-001", client("good01")) == "pass"
