"""Issue 18 facts from recorded answers, without HTTP: latest successful / failed backup, the latest backup's
copies with immutable/offline, the Data Domain retention lock and the job log's pruning."""
from __future__ import annotations

import copy

import pytest
from fakenetworker import LIST_KEYS
from policycheck_networker.mapping import build_fragment

HOST = "nsr05.corp.example"


@pytest.fixture
def answers(zone):
    """The coverage datazone as the collector's decoded answers (resource name -> list or object)."""
    z = zone("coverage")

    def make(edit=None) -> dict:
        d = copy.deepcopy(z)
        if edit:
            edit(d)
        raw = {"serverconfig": d["serverconfig"]}
        for res in ("storagenodes", "devices", "pools", "volumes", "clients", "protectionpolicies", "backups",
                    "jobs", "vmware/protectedvms", "jukeboxes"):
            name = "protectedvms" if res == "vmware/protectedvms" else res
            raw[name] = d[res][LIST_KEYS[res]] if res in d else None
        return raw
    return make


def facts(raw: dict, **kw) -> tuple[dict, dict]:
    frag = build_fragment(raw, HOST, **kw)
    clients = {c["hostname"].split(".")[0]: c for c in frag["entities"]["client"]}
    devices = {d["name"]: d for d in frag["entities"]["device"]}
    return clients, devices


def test_latest_successful_and_failed_per_client(answers):
    c, _ = facts(answers())
    assert c["good01"]["last_successful_backup"] and c["good01"]["networker_latest_save_set"].startswith("00050005")
    # the in-progress save set of /home (1h ago) is not a backup yet; the 5h one is the latest
    assert c["good01"]["last_successful_backup"] == c["good01"]["last_filesystem_backup"]
    # a client that never ran: the media database has nothing -> null (RPO-001 fails), copies []
    assert c["never01"]["last_successful_backup"] is None and c["never01"]["latest_backup_copies"] == []
    # only failed: its failed save job (10h ago) is later than its aborted save set (34h ago)
    assert c["failed01"]["last_successful_backup"] is None
    assert c["failed01"]["last_failed_backup"] > "" and "last_failed_backup" not in c["failed01"].get("_unknown", {})
    # no failure in the job log: unknown (the job database is pruned after 72h), never null
    assert "last_failed_backup" not in c["good01"]
    assert "72 hours" in c["good01"]["_unknown"]["last_failed_backup"]
    # the server's own client: its bootstrap is its latest successful backup, with the bootstrap's copies
    assert c["nsr05"]["last_successful_backup"] and len(c["nsr05"]["latest_backup_copies"]) == 2


def test_aborted_save_set_counts_with_the_job_log_not_instead_of_it(answers):
    c, _ = facts(answers())
    job_failure = c["failed01"]["last_failed_backup"]

    def later_abort(z):  # its aborted save set is now later than its failed save job
        ss = next(b for b in z["backups"]["backups"] if b["clientHostname"].startswith("failed01"))
        job = next(j for j in z["jobs"]["jobs"] if j.get("clientHostname", "").startswith("failed01"))
        ss["saveTime"] = job["endTime"][:11] + "23:59:59" + job["endTime"][19:]

    c, _ = facts(answers(later_abort))
    assert c["failed01"]["last_failed_backup"] > job_failure
    # no failed job in the log: the aborted save set is older than the log's retention, so a later failure
    # may have been pruned: unknown, with the aborted save set named as evidence
    raw = answers()
    raw["jobs"] = []
    c, _ = facts(raw)
    assert "last_failed_backup" not in c["failed01"]
    assert "aborted save set" in c["failed01"]["_unknown"]["last_failed_backup"]
    assert c["failed01"]["last_successful_backup"] is None


def test_copies_immutable_offline_where_the_volume_or_device_says(answers):
    c, d = facts(answers())
    vault = {cp["volume"]: cp for cp in c["vault01"]["latest_backup_copies"]}["VLT001"]
    assert vault["offline"] is True and vault["offsite"] is True and vault["immutable"] is False
    worm = {cp["volume"]: cp for cp in c["worm01"]["latest_backup_copies"]}["WRM001"]
    assert worm["immutable"] is True and worm["offline"] is False and worm["local_to_server"] is False
    local = c["local01"]["latest_backup_copies"]
    assert len(local) == 1 and local[0]["local_to_server"] is True and "immutable" not in local[0]
    # Data Domain: Compliance mode and every action writing to it locks -> immutable; mode None -> not
    assert d["DD_Lock"]["immutable"] is True
    assert d["DD_Lock"]["networker_retention_lock_actions"] == ["Gold/Filesystem/clone",
                                                                "Server Protection/Server backup/Clone"]
    assert d["DD_Plain"]["immutable"] is False
    # NetWorker cannot say whether a plain disk or a tape drive is immutable: absent, never false
    assert "immutable" not in d["/nsr/aftd1"] and "immutable" not in d["rd=sn05.corp.example:/dev/nst0"]
    assert "does not record" in d["/nsr/aftd1"]["_unknown"]["immutable"]
    assert "per tape volume" in d["rd=sn05.corp.example:/dev/nst0"]["_unknown"]["immutable"]


def test_retention_lock_unknown_when_actions_disagree_or_mode_missing(answers):
    def mixed(z):
        for p in z["protectionpolicies"]["protectionPolicies"]:
            if p["name"] == "Gold":
                p["workflows"][0]["actions"][1]["actionSpecificData"]["clone"]["enableDDRetentionLock"] = False

    _, d = facts(answers(mixed))
    assert "immutable" not in d["DD_Lock"]
    assert "Gold/Filesystem/clone" in d["DD_Lock"]["_unknown"]["immutable"]

    def no_mode(z):
        for dev in z["devices"]["devices"]:
            dev.pop("dataDomainRetentionLockMode", None)

    _, d = facts(answers(no_mode))
    assert "dataDomainRetentionLockMode" in d["DD_Lock"]["_unknown"]["immutable"]
    assert "dataDomainRetentionLockMode" in d["DD_Plain"]["_unknown"]["immutable"]


def test_volume_without_states_says_nothing_of_worm(answers):
    def no_states(z):
        for v in z["volumes"]["volumes"]:
            v.pop("states")

    c, _ = facts(answers(no_states))
    worm = {cp["volume"]: cp for cp in c["worm01"]["latest_backup_copies"]}["WRM001"]
    assert "immutable" not in worm


def test_backup_window_makes_never_unknown(answers):
    c, _ = facts(answers(), window="30 days")
    assert "last_successful_backup" not in c["never01"]
    assert "30 days" in c["never01"]["_unknown"]["last_successful_backup"]
    assert c["good01"]["last_successful_backup"]


def test_malformed_failed_job_makes_only_that_clients_failure_unknown(answers):
    def bad(z):
        z["jobs"]["jobs"].append({"id": 999, "type": "save job", "completionStatus": "Failed",
                                  "clientHostname": "plain01.corp.example", "endTime": "yesterday"})

    c, _ = facts(answers(bad))
    assert "yesterday" in c["plain01"]["_unknown"]["last_failed_backup"]
    assert c["failed01"]["last_failed_backup"]


def test_job_log_over_the_cap_leaves_failures_unknown_not_the_source(server, run, zone):
    """A job log bigger than max_response_mb is seen only in part: the failed runs it would give are
    unknown with the reason (never 'none failed'), the rest of the collection stands."""
    z = zone("coverage")
    jobs = z["jobs"]["jobs"]
    filler = [dict(jobs[1], id=100000 + k, name="/" + "x" * 200) for k in range(6000)]  # > 1 MiB of save jobs
    z["jobs"] = {"count": len(jobs) + len(filler), "jobs": jobs + filler}
    frag = run(server(z), max_response_mb=1)
    clients = {c["hostname"].split(".")[0]: c for c in frag["entities"]["client"]}
    assert "last_failed_backup" not in clients["failed01"]
    assert "MiB" in clients["failed01"]["_unknown"]["last_failed_backup"]
    assert clients["never01"]["last_successful_backup"] is None  # the media database still decides
    assert any("/jobs" in w and "MiB" in w and "last_failed_backup" in w for w in run.warnings)
