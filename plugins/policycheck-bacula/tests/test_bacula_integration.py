"""End to end against a real Bacula 9.6 stack: scenarios judged by `policycheck check/audit/collect`."""
from __future__ import annotations

import json
import sqlite3

import pytest
from bacula_helpers import bs, run_cli, verdicts, write_config

from policycheck.testing import assert_no_secret, assert_valid_facts

pytestmark = pytest.mark.integration

ENV = {"BACULA_PW": bs.AUDIT_PW}


def source(stack, **over):
    s = {"timeout": 20, "address": "127.0.0.1", "port": stack.dir_port, "console_name": "audit",
         "director_host": "backup01.test", "password": "${BACULA_PW}"}
    s.update(over)
    return s


def snapshot_state(stack, cfg, tmp):
    check = run_cli(["audit", "-c", str(cfg), "--format", "json"], ENV)
    facts_path = tmp / "facts.json"
    collect = run_cli(["collect", "-c", str(cfg), "-o", str(facts_path)], ENV)
    assert collect["rc"] == 0, collect["stderr"]
    facts = json.loads(facts_path.read_text())
    for out in (check["stdout"], check["stderr"], collect["stdout"], collect["stderr"], facts):
        assert_no_secret(bs.AUDIT_PW, out)
    assert check["json"] is not None, check["stderr"]
    return {"check": check, "facts": facts, "v": verdicts(check["json"])}


@pytest.fixture(scope="session")
def states(bacula_stack, bacula_inventory, tmp_path_factory):
    stack, inventory = bacula_stack, bacula_inventory
    """Run a client backup and a catalog backup once, then judge three states of the same director."""
    tmp = tmp_path_factory.mktemp("states")
    cfg = write_config(tmp / "policycheck.yaml", source(stack), inventory)
    out = stack.run_job("BackupClient1")
    assert "Backup OK" in out, out[-2000:]
    out = stack.run_job("BackupCatalog")
    assert "Backup OK" in out, out[-2000:]
    out = stack.run_job("BackupClient3")  # its RunBeforeJob fails: client3-fd's only run ends in error
    assert "Backup Error" in out, out[-2000:]
    result = {"cfg": cfg}
    (tmp / "a").mkdir()
    result["local_only"] = snapshot_state(stack, cfg, tmp / "a")
    out = stack.run_job("CopyCatalog")
    assert "Copying OK" in out or "Termination:            Copying OK" in out, out[-2000:]
    out = stack.run_job("CopyData")  # client1-fd's data backup copied to the second storage daemon
    assert "Copying OK" in out, out[-2000:]
    (tmp / "b").mkdir()
    result["with_copy"] = snapshot_state(stack, cfg, tmp / "b")
    shift = "'-3 days'"  # as a run three days ago wrote it: every time, JobTDate included
    stack.sql(f"UPDATE Job SET SchedTime=datetime(SchedTime,{shift}), StartTime=datetime(StartTime,{shift}), "
              f"EndTime=datetime(EndTime,{shift}), RealEndTime=datetime(RealEndTime,{shift}), "
              "JobTDate=JobTDate-3*86400 WHERE Name='BackupCatalog'")
    (tmp / "c").mkdir()
    result["stale"] = snapshot_state(stack, cfg, tmp / "c")
    return result


def entities(facts, kind):
    return {e["id"]: e for e in facts["entities"].get(kind, [])}


def latest_bootstrap(facts):
    server = entities(facts, "backup_server")["pc-dir"]
    return entities(facts, "bootstrap")[server["latest_bootstrap"]]


def test_facts_describe_the_director(states):
    facts = states["local_only"]["facts"]
    assert_valid_facts(facts)
    server = entities(facts, "backup_server")["pc-dir"]
    assert server["product"] == "bacula" and server["version"].startswith("9.")
    assert server["aliases"] == ["127.0.0.1", "backup01.test"] and server["host"] == "backup01.test"
    assert server["bacula_utc_offset"].startswith("+00:00 (catalog")  # the stack's director runs in UTC
    devices = entities(facts, "device")
    local, remote = devices["pc-dir/Local1"], devices["pc-dir/Remote2"]
    # Debian's Storage Address 'localhost' is the director's own host; 127.0.0.2 stands for another host
    assert local["host"] == "backup01.test" and local["storage_node"] is None and local["local_to_server"] is True
    assert remote["host"] == "127.0.0.2" and remote["storage_node"] == "127.0.0.2"
    assert remote["local_to_server"] is False
    assert local["client_data"] is True and remote["client_data"] is False
    assert local["media_type"] == "file"
    assert entities(facts, "storage_node")["127.0.0.2"]["backup_server"] == "pc-dir"
    # director mode: decided by where the client job really wrote
    mode = server["bacula_director_mode"]
    assert mode["decided_by"] == "job_media" and mode["client_storages"] == ["Local1"]
    jobs = {j["name"]: j for j in server["bacula_jobs"]}
    assert jobs["BackupCatalog"]["catalog_backup"] is True and jobs["BackupClient1"]["catalog_backup"] is False
    assert jobs["BackupCatalog"]["schedule_enabled"] is False
    assert jobs["BackupCatalog"]["write_bootstrap"].endswith("/bsr/%n.bsr")


def test_catalog_backup_only_on_the_directors_own_storage_daemon(states):
    st = states["local_only"]
    b = latest_bootstrap(st["facts"])
    assert b["level"] == "full" and b["bacula_job"] == "BackupCatalog"
    assert [c["device"] for c in b["copies"]] == ["pc-dir/Local1"]
    assert all(c["local_to_server"] is True for c in b["copies"])
    assert b["bacula_bsr_targets"][0]["kind"] == "path" and b["bacula_bsr_targets"][0]["off_host"] is False
    v = st["v"]
    assert v[("BOOT-001", "pc-dir")]["status"] == "pass"
    assert v[("BOOT-002", "pc-dir")]["status"] == "fail"
    # director mode: client backups go to the storage daemon on the director's own host
    assert v[("VIRT-001", "pc-dir")]["status"] == "fail"
    assert st["check"]["rc"] == 1


def test_copy_on_a_second_storage_daemon_elsewhere(states):
    st = states["with_copy"]
    b = latest_bootstrap(st["facts"])
    by_dev = {c["device"]: c for c in b["copies"]}
    assert set(by_dev) == {"pc-dir/Local1", "pc-dir/Remote2"}
    assert by_dev["pc-dir/Remote2"]["clone"] is True and by_dev["pc-dir/Remote2"]["volume"].startswith("Off-")
    assert by_dev["pc-dir/Remote2"]["local_to_server"] is False
    assert st["v"][("BOOT-002", "pc-dir")]["status"] == "pass"
    assert st["v"][("BOOT-001", "pc-dir")]["status"] == "pass"


def test_stale_catalog_backup(states, tmp_path):
    st = states["stale"]
    b = latest_bootstrap(st["facts"])
    fresh = latest_bootstrap(states["with_copy"]["facts"])
    assert b["time"] < fresh["time"]
    r = st["v"][("BOOT-001", "pc-dir")]
    assert r["status"] == "fail"
    assert st["v"][("BOOT-002", "pc-dir")]["status"] == "pass"
    # the same snapshot passes with a longer allowed age: the verdict is the age, nothing else
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(st["facts"]))
    again = run_cli(["check", "--facts", str(facts), "--format", "json", "--param", "BOOT-001.max_age=96h"])
    assert verdicts(again["json"])[("BOOT-001", "pc-dir")]["status"] == "pass"


def test_client_never_backed_up(states):
    st = states["local_only"]
    clients = {c["bacula_client"]: c for c in entities(st["facts"], "client").values()}
    assert clients["client2-fd"]["id"] == "pc-dir/127.0.0.3" and clients["client1-fd"]["id"] == "pc-dir/backup01.test"
    assert clients["client2-fd"]["last_filesystem_backup"] is None
    assert clients["client2-fd"]["last_image_backup"] is None and clients["client2-fd"]["last_bmr_backup"] is None
    assert clients["client1-fd"]["last_filesystem_backup"] is not None
    assert clients["client1-fd"]["os"] == "linux"
    assert st["v"][("BMR-001", "pc-dir/127.0.0.3")]["status"] == "fail"
    assert st["v"][("BMR-001", "pc-dir/backup01.test")]["status"] == "pass"  # its host has ReaR in the inventory


def test_check_gate_and_audit_text_against_the_real_director(states):
    r = run_cli(["audit", "-c", str(states["cfg"]), "--no-color"], ENV)
    assert r["rc"] == 1, r["stderr"]
    assert "BOOT-001" in r["stdout"] and "pc-dir" in r["stdout"]
    assert_no_secret(bs.AUDIT_PW, r["stdout"], r["stderr"])
    r = run_cli(["check", "-c", str(states["cfg"]), "--format", "json"], ENV)
    assert r["rc"] == 1 and verdicts(r["json"])[("BOOT-001", "pc-dir")]["status"] == "fail"  # still stale
    assert_no_secret(bs.AUDIT_PW, r["stdout"], r["stderr"])


def test_collecting_is_read_only(bacula_stack, states, tmp_path):
    stack = bacula_stack
    """Collecting twice adds no job to the catalog; the audit console cannot run one."""
    def count():
        con = sqlite3.connect(stack.db)
        try:
            return con.execute("SELECT COUNT(*), MAX(JobId) FROM Job").fetchone()
        finally:
            con.close()

    before = count()
    run_cli(["collect", "-c", str(states["cfg"]), "-o", str(tmp_path / "f.json")], ENV)
    assert count() == before
    conf = tmp_path / "audit.conf"
    conf.write_text(f'Director {{\n Name = x\n DIRport = {stack.dir_port}\n Address = 127.0.0.1\n Password = "u"\n}}\n'
                    f'Console {{\n Name = audit\n Password = "{bs.AUDIT_PW}"\n}}\n')
    conf.chmod(0o600)
    import subprocess
    out = subprocess.run([bs.which("bconsole"), "-n", "-c", str(conf)], input="run job=BackupClient1 yes\n",
                         capture_output=True, text=True, timeout=30).stdout
    assert "run: is an invalid command" in out
    assert count() == before


def test_the_real_director_applies_the_bounded_filters(bacula_stack, states):
    """The commands the collector relies on filter on the real 9.6 director as the fake director assumes."""
    from policycheck_bacula import parse
    from policycheck_bacula.client import Session

    stack = bacula_stack
    s = Session({"address": "127.0.0.1", "port": stack.dir_port, "console_name": "audit",
                 "password": bs.AUDIT_PW}, "test")
    cmds = ["llist jobs jobtype=B order=desc limit=1", "llist jobs jobtype=C order=desc limit=5",
            "llist job=BackupCatalog jobtype=B jobstatus=T order=desc limit=1",
            "llist jobs client=client1-fd jobtype=B jobstatus=T order=desc limit=50",
            "llist jobs client=client2-fd jobtype=B jobstatus=T order=desc limit=50"]
    out = {c: parse.parse_llist(t, "JobId") for c, t in s.run(cmds, 20).items()}
    con = sqlite3.connect(stack.db)
    try:
        q = lambda sql: [str(r[0]) for r in con.execute(sql).fetchall()]  # noqa: E731
        # order=desc is by start time (the states fixture aged the catalog backup: JobId 2 started before 1)
        assert [r["JobId"] for r in out[cmds[0]]] == q(
            "SELECT JobId FROM Job WHERE Type='B' ORDER BY StartTime DESC LIMIT 1")
        assert {r["JobId"] for r in out[cmds[1]]} == set(q("SELECT JobId FROM Job WHERE Type='C'"))
        assert [r["JobId"] for r in out[cmds[2]]] == q(
            "SELECT JobId FROM Job WHERE Type='B' AND JobStatus='T' AND Name='BackupCatalog' "
            "ORDER BY StartTime DESC LIMIT 1")
        assert {r["JobId"] for r in out[cmds[3]]} == set(q(
            "SELECT JobId FROM Job JOIN Client USING (ClientId) WHERE Type='B' AND JobStatus='T' "
            "AND Client.Name='client1-fd'"))
        assert out[cmds[4]] == []
    finally:
        con.close()
    # several `jobid=` keywords in one `list jobmedia`: each job's volumes, as the catalog's JobMedia rows say
    from policycheck_bacula.catalog import jobmedia_command, volumes_by_job
    con = sqlite3.connect(stack.db)
    try:
        ids = [str(r[0]) for r in con.execute("SELECT JobId FROM Job WHERE Type IN ('B','C') ORDER BY JobId")]
        got = volumes_by_job([ids], s.run([jobmedia_command(ids)], 20), "test")
        assert any(got[j] for j in ids) and all(got[j] is not None for j in ids)
        for jid in ids:
            want = [str(r[0]) for r in con.execute(
                "SELECT DISTINCT VolumeName FROM JobMedia JOIN Media USING (MediaId) WHERE JobId=? "
                "ORDER BY JobMediaId", (jid,))]
            assert got[jid] == want, (jid, got)
    finally:
        con.close()
    # an unknown keyword is ignored by 9.6 (the filter silently does not apply): the session refuses it
    with pytest.raises(Exception, match="not understood"):
        s.run(["llist jobs hours=1"], 20)



def by_client(facts):
    return {c["bacula_client"]: c for c in entities(facts, "client").values()}


def test_recency_of_never_run_failed_and_healthy_clients(states):
    """RPO-001 from the real catalog: client2-fd never ran, client3-fd's only run failed, client1-fd is backed up."""
    st = states["local_only"]
    c = by_client(st["facts"])
    v = st["v"]
    # the director creates a catalog Client record for every configured client at start: client2-fd has one,
    # and its own history (`llist jobs client=client2-fd ...`) came back empty, shorter than its limit, so the
    # catalog's whole record of it is "no job": null, not unknown
    never = c["client2-fd"]
    assert never["last_successful_backup"] is None and never["last_failed_backup"] is None
    assert never["latest_backup_copies"] == []
    r = v[("RPO-001", "pc-dir/127.0.0.3")]
    assert r["status"] == "fail" and "never ran" in r["message"]
    # client3-fd: its RunBeforeJob failed, JobStatus E; the failed run is the evidence
    failed = c["client3-fd"]
    assert failed["last_successful_backup"] is None and failed["latest_backup_copies"] == []
    assert failed["bacula_last_failed_backup_job"]["status"] == "E"
    assert failed["last_failed_backup"].endswith("+00:00")
    r = v[("RPO-001", "pc-dir/127.0.0.4")]
    assert r["status"] == "fail"
    ctx = next(e for e in r["evidence"] if e["fact"] == "last_failed_backup")
    assert ctx["observed"] == failed["last_failed_backup"] and ctx["ok"] is None
    # client1-fd: its newest good Backup job is the catalog backup (the server's own client), after its data job
    healthy = c["client1-fd"]
    assert healthy["bacula_last_successful_backup_job"]["name"] == "BackupCatalog"
    assert healthy["last_successful_backup"] >= healthy["last_filesystem_backup"]
    assert healthy["last_failed_backup"] is None  # the window held the whole catalog: no failed run
    assert v[("RPO-001", "pc-dir/backup01.test")]["status"] == "pass"
    # the catalog backup aged three days: client1-fd's own data backup still decides recency
    stale = by_client(states["stale"]["facts"])["client1-fd"]
    assert stale["bacula_last_successful_backup_job"]["name"] == "BackupClient1"
    assert states["stale"]["v"][("RPO-001", "pc-dir/backup01.test")]["status"] == "pass"


def test_copies_immutability_and_restore_tests_from_the_real_catalog(states):
    """CPY-001, IMM-001 and RST-001 give what the real catalog supports."""
    local, copied = states["local_only"], states["with_copy"]
    c1 = by_client(local["facts"])["client1-fd"]
    # the copies are those of client1-fd's own data (BackupClient1), not of the catalog backup: one volume on
    # the storage daemon of the director's own host, so no copy off the server yet
    assert c1["bacula_latest_backup_jobid"] == 1
    assert [(x["device"], x["clone"], x["local_to_server"]) for x in c1["latest_backup_copies"]] == [
        ("pc-dir/Local1", False, True)]
    assert local["v"][("CPY-001", "pc-dir/backup01.test")]["status"] == "fail"
    # a client without a successful backup has no copy: fail, not error
    for target in ("pc-dir/127.0.0.3", "pc-dir/127.0.0.4"):
        assert local["v"][("CPY-001", target)]["status"] == "fail"
    # CopyData copied BackupClient1 to the storage daemon on 127.0.0.2 (a Type C record, PriorJobId 1)
    c1 = by_client(copied["facts"])["client1-fd"]
    devs = {(x["device"], x["clone"]): x for x in c1["latest_backup_copies"]}
    assert set(devs) == {("pc-dir/Local1", False), ("pc-dir/Remote2", True)}
    assert devs[("pc-dir/Remote2", True)]["local_to_server"] is False
    assert devs[("pc-dir/Remote2", True)]["volume"].startswith("Off-")
    assert copied["v"][("CPY-001", "pc-dir/backup01.test")]["status"] == "pass"
    # IMM-001: every copy is a file volume: not offline (a disk file cannot be ejected), and Bacula 9.6 has
    # no retention lock or WORM flag to report, so immutability is unknown: error naming why, never pass/fail
    for st in (local, copied):
        r = st["v"][("IMM-001", "pc-dir")]
        assert r["status"] == "error" and "no retention lock or WORM" in r["message"]
    x = devs[("pc-dir/Remote2", True)]
    assert x["offline"] is False and "immutable" not in x and x["bacula_volume"]["status"] in ("Append", "Used")
    # RST-001: Bacula's catalog holds restore jobs, not restore tests (who checked what was restored); with no
    # dr_test source the verdict is error, for every client
    for target in ("pc-dir/backup01.test", "pc-dir/127.0.0.3", "pc-dir/127.0.0.4"):
        assert copied["v"][("RST-001", target)]["status"] == "error"
