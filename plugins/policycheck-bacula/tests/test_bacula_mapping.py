"""From recorded director answers to facts: devices, bootstrap copies (volumes, clones, .bsr targets), clients."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
from fake_director import FakeDirector
from policycheck_bacula.collect import gather, snapshot
from policycheck_bacula.mapping import media_kind, os_of

from policycheck.api import CollectorError
from policycheck.testing import assert_valid_fragment

SETTINGS = {"address": "127.0.0.1", "port": 9101, "password": "x", "director_host": "backup01.test"}
# the recorded director ran in UTC and said `time` 01:07:49 on 2026-11-25: the collector's clock is pinned to
# that moment, so no test depends on today's date
UTC_NOW = datetime(2026, 11, 25, 1, 7, 49, tzinfo=timezone.utc)


def build(settings=None, mutate=None, mounts=None, director=None, utc_now=UTC_NOW, warnings=None, valid=True,
          snap=None):
    settings = dict(SETTINGS, **(settings or {}))
    d = director or FakeDirector()
    if mutate:
        mutate(d)
    config = d([c for c in d.config])
    warn = warnings.append if warnings is not None else (lambda m: None)
    frag = gather(config, d, settings, "pc-dir", utc_now, "test", warn=warn, mounts_text=mounts, adjust=snap)
    if valid:
        assert_valid_fragment(frag)
    return frag


def ents(frag, kind):
    return {e["id"]: e for e in frag["entities"][kind]}


def job(d, name):
    return next(j for j in d.jobs if j["Name"] == name)


def set_show(d, cmd, old, new):
    assert old in d.config[cmd]
    d.config[cmd] = d.config[cmd].replace(old, new)


def test_recorded_director_maps_to_facts():
    f = build()
    server = ents(f, "backup_server")["pc-dir"]
    assert server["aliases"] == ["127.0.0.1", "backup01.test"] and server["host"] == "backup01.test"
    assert server["version"] == "9.6.7" and server["product"] == "bacula"
    assert ents(f, "host")["backup01.test"]["aliases"] == ["127.0.0.1"]
    b = ents(f, "bootstrap")["pc-dir:job:2"]
    assert b["time"] == "2026-11-25T01:04:44+00:00"  # the recorded director ran in UTC: JobTDate says so
    copies = {(c["device"], c["volume"], c["clone"]) for c in b["copies"]}
    assert copies == {("pc-dir/Local1", "Cat-0002", False), ("pc-dir/Remote2", "Off-0003", True)}
    devs = ents(f, "device")
    assert devs["pc-dir/Local1"]["host"] == "backup01.test" and devs["pc-dir/Remote2"]["host"] == "127.0.0.2"
    clients = ents(f, "client")
    assert set(clients) == {"pc-dir/backup01.test", "pc-dir/127.0.0.3"}  # unique per (backup server, host)
    c1, c2 = clients["pc-dir/backup01.test"], clients["pc-dir/127.0.0.3"]
    assert c1["bacula_client"] == "client1-fd" and c1["hostname"] == "127.0.0.1" and "aliases" not in c1
    assert c2["last_filesystem_backup"] is None
    assert c1["last_filesystem_backup"].endswith("+00:00")
    assert c1["host"] == "backup01.test" and "host" not in c2


def test_no_whole_catalog_read():
    d = FakeDirector()
    build(director=d)
    sent = [c for batch in d.sent for c in batch]
    assert "llist jobs" not in sent and "llist volumes" not in sent
    assert all("limit=" in c for c in sent if c.startswith("llist job"))


def shift_tdate(d, seconds):
    for r in d.jobs:
        r["JobTDate"] = str(int(r["JobTDate"]) + seconds)


def test_offset_from_the_catalog_not_from_the_clock():
    """A director at UTC+05:30 whose clock is 3 hours slow: the offset comes from StartTime against JobTDate,
    the 3 hours are a clock-skew warning, never an offset."""
    warnings = []
    f = build(mutate=lambda d: shift_tdate(d, -5 * 3600 - 1800), warnings=warnings,
              utc_now=UTC_NOW - timedelta(hours=5, minutes=30) + timedelta(hours=3))
    b = ents(f, "bootstrap")["pc-dir:job:2"]
    assert b["time"] == "2026-11-25T01:04:44+05:30"
    server = ents(f, "backup_server")["pc-dir"]
    assert server["bacula_utc_offset"].startswith("+05:30") and server["bacula_clock_skew_seconds"] == -3 * 3600
    assert len(warnings) == 1 and "3 h" in warnings[0] and "behind" in warnings[0]


@pytest.mark.parametrize("days", [1.5, 3, 400, -400])
def test_clock_skew_of_days_never_crashes(days):
    warnings = []
    f = build(warnings=warnings, utc_now=UTC_NOW + timedelta(days=days))
    assert ents(f, "bootstrap")["pc-dir:job:2"]["time"] == "2026-11-25T01:04:44+00:00"
    assert len(warnings) == 1 and f"{int(abs(days))} d" in warnings[0]


def test_configured_offset_wins():
    b = ents(build({"utc_offset": "-05:00"}), "bootstrap")["pc-dir:job:2"]
    assert b["time"] == "2026-11-25T01:04:44-05:00"


def test_offset_unknown_makes_times_unknown():
    def no_tdate(d):
        for r in d.jobs:
            r["JobTDate"] = "0"
    f = build(mutate=no_tdate)
    b = ents(f, "bootstrap")["pc-dir:job:2"]
    assert "time" not in b and "UTC offset is unknown" in b["_unknown"]["time"]
    assert "last_filesystem_backup" in ents(f, "client")["pc-dir/backup01.test"]["_unknown"]


def test_unparseable_catalog_time_is_unknown_not_dropped():
    def bad_end(d):
        job(d, "BackupCatalog")["EndTime"] = "25/11/2026 01:04"
    b = ents(build(mutate=bad_end), "bootstrap")["pc-dir:job:2"]
    assert "time" not in b and "25/11/2026 01:04" in b["_unknown"]["time"] and "JobId 2" in b["_unknown"]["time"]

    def bad_client_end(d):
        job(d, "BackupClient1")["EndTime"] = "0000-00-00 00:00:00"
    c = ents(build(mutate=bad_client_end), "client")["pc-dir/backup01.test"]
    assert "last_filesystem_backup" not in c and "EndTime" in c["_unknown"]["last_filesystem_backup"]


def test_run_without_a_name_is_not_dropped():
    def nameless(d):
        del job(d, "BackupCatalog")["Name"]
    f = build(mutate=nameless, valid=False)
    assert f["incomplete"][0]["kind"] == "bootstrap" and "without a Name" in f["incomplete"][0]["reason"]
    c = ents(f, "client")["pc-dir/backup01.test"]
    assert "last_filesystem_backup" not in c and "no Name" in c["_unknown"]["last_filesystem_backup"]


def test_client_without_a_good_job_in_the_window_is_read_from_its_history():
    d = FakeDirector()
    d.old = {"1"}  # its only backup is older than the window
    f = build(director=d)
    assert ents(f, "client")["pc-dir/backup01.test"]["last_filesystem_backup"] == "2026-11-25T01:04:40+00:00"
    sent = [c for batch in d.sent for c in batch]
    assert "llist jobs client=client1-fd jobtype=B order=desc limit=50" in sent
    assert "llist jobs client=client2-fd jobtype=B order=desc limit=50" in sent

    d = FakeDirector()
    d.config["llist clients"] = d.config["llist clients"].split("\n\n")[0]  # client2-fd has no catalog record
    f = build(director=d)
    assert ents(f, "client")["pc-dir/127.0.0.3"]["last_filesystem_backup"] is None
    sent = [c for batch in d.sent for c in batch]
    assert not any("client=client2-fd" in c for c in sent)  # a `client=` filter on it would make bconsole prompt

    f = build({"history_limit": 1}, director=FakeDirector(), mutate=lambda d: setattr(d, "old", {"1", "2"}))
    # the newest job of client1-fd is a catalog backup and the history limit is 1: older ones are unread
    c = ents(f, "client")["pc-dir/backup01.test"]
    assert "history_limit" in c["_unknown"]["last_filesystem_backup"]


def test_unresolvable_storage_daemon_is_an_unknown_host():
    def split_dns(d):
        set_show(d, "show storage", "address=localhost", "address=bkp01-sd.backup.invalid")
    dev = ents(build(mutate=split_dns), "device")["pc-dir/Local1"]
    assert "host" not in dev and "storage_node" not in dev
    assert "bkp01-sd.backup.invalid" in dev["_unknown"]["host"] and "host_map" in dev["_unknown"]["host"]
    f = build({"host_map": {"bkp01-sd.backup.invalid": "backup01.test"}}, mutate=split_dns)
    dev = ents(f, "device")["pc-dir/Local1"]
    assert dev["host"] == "backup01.test" and dev["storage_node"] is None and dev["bacula_host_from"] == "host_map"
    f = build({"host_map": {"BKP01-SD.backup.invalid": "vault01.corp"}}, mutate=split_dns)
    dev = ents(f, "device")["pc-dir/Local1"]
    assert dev["host"] == "vault01.corp" and dev["storage_node"] == "vault01.corp"


def test_director_mode_from_job_media_then_configuration():
    f = build(mutate=lambda d: d.media.pop("1"))
    mode = ents(f, "backup_server")["pc-dir"]["bacula_director_mode"]
    # the client job's media are gone (pruned): the configuration decides, and says so
    assert mode["decided_by"] == "configuration" and mode["client_storages"] == ["Local1"]
    f = build()
    assert ents(f, "backup_server")["pc-dir"]["bacula_director_mode"]["decided_by"] == "job_media"

    def media_on_remote(d):
        d.media["1"] = ("+-------+------------+------------+-----------+\n| JobId | VolumeName | FirstIndex | "
                        "LastIndex |\n+-------+------------+------------+-----------+\n| 1     | Off-0003   | 1 "
                        "         | 4         |\n+-------+------------+------------+-----------+")
    f = build(mutate=media_on_remote)
    mode = ents(f, "backup_server")["pc-dir"]["bacula_director_mode"]
    assert mode["decided_by"] == "job_media" and mode["client_storages"] == ["Remote2"]
    assert mode["jobs"] == [{"jobid": 1, "storages": ["Remote2"]}]
    devs = ents(f, "device")
    # a `run ... storage=` override: the jobs really wrote to Remote2, whatever the configuration says
    assert devs["pc-dir/Remote2"]["client_data"] is True and devs["pc-dir/Local1"]["client_data"] is False
    assert devs["pc-dir/Local1"]["bacula_client_data_from"] == "job_media"


def test_disabled_jobs_do_not_count_in_the_configuration():
    def disable(d):
        for name in ("BackupClient1", "BackupClient2"):
            set_show(d, "show jobs", f"Job: name={name} JobType=66 level=Incremental Priority=10 Enabled=1",
                     f"Job: name={name} JobType=66 level=Incremental Priority=10 Enabled=0")
    def disable_no_media(d):  # (no job media of the client job: the configuration decides)
        disable(d)
        d.media.pop("1")
    f = build(mutate=disable_no_media)
    mode = ents(f, "backup_server")["pc-dir"]["bacula_director_mode"]
    assert mode["decided_by"] == "configuration" and mode["client_storages"] == []
    assert ents(f, "device")["pc-dir/Local1"]["client_data"] is False


def cfg_job(snap, name):
    return next(j for j in snap["jobs"] if j["name"] == name)


def test_client_backups_on_the_remote_sd_make_only_it_client_data():
    def to_remote(snap):
        for name in ("BackupClient1", "BackupClient2"):
            cfg_job(snap, name)["pool_storage"] = ["Remote2"]
    devs = ents(build(snap=to_remote, mutate=lambda d: d.media.pop("1")), "device")
    assert devs["pc-dir/Remote2"]["client_data"] is True and devs["pc-dir/Local1"]["client_data"] is False


@pytest.mark.parametrize("wb,off_host,host", [
    ("| /usr/bin/scp /dev/stdin bacula@vault.example.com:/bsr/%n.bsr", True, "vault.example.com"),
    ("|/usr/sbin/bsmtp -h localhost -f bacula@localhost -s bsr root@localhost", False, None),
    ("|/usr/sbin/bsmtp -h 127.0.0.1 -s bsr ops@127.0.0.5", True, "127.0.0.5"),
    ("/var/lib/bacula/%n.bsr", False, None),
])
def test_write_bootstrap_targets(wb, off_host, host):
    def set_wb(snap):
        cfg_job(snap, "BackupCatalog")["write_bootstrap"] = wb
    b = ents(build(snap=set_wb), "bootstrap")["pc-dir:job:2"]
    assert b["bacula_bsr_targets"][0]["off_host"] is off_host
    located = [c for c in b["copies"] if c["device"] is None]
    if off_host:
        assert len(located) == 1 and located[0]["location_host"] == host and wb in located[0]["location"]
    else:
        assert located == []


def test_bsr_on_a_remote_mount():
    mounts = "overlay / overlay rw 0 0\nnas01:/export/bsr /srv/bacula-test/bsr nfs4 rw 0 0\n"
    b = ents(build(mounts=mounts), "bootstrap")["pc-dir:job:2"]
    located = [c for c in b["copies"] if c["device"] is None]
    assert len(located) == 1 and "nfs4 nas01:/export/bsr" in located[0]["location"]
    b = ents(build({"offhost_paths": ["/srv/bacula-test/bsr"]}), "bootstrap")["pc-dir:job:2"]
    assert any(c["device"] is None and "configured" in c["location"] for c in b["copies"])
    b = ents(build(mounts="overlay / overlay rw 0 0\n"), "bootstrap")["pc-dir:job:2"]
    assert all(c["device"] is not None for c in b["copies"])


def test_runscript_that_ships_the_bsr():
    def add_script(snap):
        cfg_job(snap, "BackupCatalog")["runscripts"].append(
            {"command": "rsync -a /srv/bacula-test/bsr/BackupCatalog.bsr dr@vault:/bsr/", "when": "after",
             "on_success": True, "on_failure": False, "target": None, "console": None})
        cfg_job(snap, "BackupCatalog")["runscripts"].append(
            {"command": "rsync -a /etc/motd dr@vault:/x/", "when": "after",  # not the .bsr
             "on_success": True, "on_failure": False, "target": None, "console": None})
    b = ents(build(snap=add_script), "bootstrap")["pc-dir:job:2"]
    located = [c for c in b["copies"] if c["device"] is None]
    assert len(located) == 1 and located[0]["bacula_via"] == "runscript" and located[0]["location_host"] == "vault"


def test_stale_and_failed_catalog_runs():
    def fail_catalog(d):
        for r in d.jobs:
            if r["Name"] == "BackupCatalog" and r["Type"] == "B":
                r["JobStatus"] = "f"
    f = build(mutate=fail_catalog)
    assert f["entities"]["bootstrap"] == []  # no successful catalog backup: the core derives latest_bootstrap null


def test_catalog_jobs_setting_overrides_detection():
    f = build({"catalog_jobs": ["BackupClient1"]})
    assert [b["bacula_job"] for b in f["entities"]["bootstrap"]] == ["BackupClient1"]
    # BackupCatalog is then an ordinary backup of client1-fd: it counts as its latest file-system backup
    catalog_run = next(r for r in build()["entities"]["bootstrap"] if r["bacula_jobid"] == 2)
    assert ents(f, "client")["pc-dir/backup01.test"]["last_filesystem_backup"] == catalog_run["time"]


def test_volume_on_an_unknown_storage_is_unknown_not_local_or_remote():
    def orphan(d):
        for v in d.volumes:
            if v["VolumeName"] == "Off-0003":
                v["StorageId"] = "99"
    b = ents(build(mutate=orphan), "bootstrap")["pc-dir:job:2"]
    assert "Off-0003" in b["_unknown"]["copies"]


def test_director_name_and_empty_storage_errors():
    a = dict(FakeDirector().config)
    a["show storage"] = ""
    with pytest.raises(CollectorError, match="no Storage resource"):
        snapshot(a, SETTINGS, "pc-dir", "test")
    d = FakeDirector()
    text = d.answer("llist jobs jobtype=B order=desc limit=2000").replace("JobStatus: T", "JobStatus T", 1)
    d.answer = lambda c, orig=d.answer: text if c == "llist jobs jobtype=B order=desc limit=2000" else orig(c)
    with pytest.raises(CollectorError, match="'llist jobs jobtype=B order=desc limit=2000'"):
        build(director=d)


@pytest.mark.parametrize("cmd", ["llist jobs jobtype=B order=desc limit=2000", "llist volume=Cat-0002", "list jobmedia",
                                 "llist job=BackupCatalog jobtype=B order=desc limit=20"])
@pytest.mark.parametrize("garbage", ["\x00\x01<html>502</html>", "JobId: x\nName: y", "+--+\n| a |"])
def test_garbage_catalog_answers_are_collector_errors(cmd, garbage):
    d = FakeDirector()
    d.answer = lambda c, orig=d.answer: garbage if c == cmd or (cmd == "list jobmedia" and c.startswith(cmd)) else orig(c)
    with pytest.raises(CollectorError, match="cannot parse"):
        build(director=d)


def test_media_kind_and_os():
    assert media_kind("File1") == "file" and media_kind("LTO-8") == "tape" and media_kind("ULT3580") is None
    assert media_kind("Cloud-S3") == "cloud" and media_kind("DiskAligned") == "dedup"
    assert os_of("9.6.7 (10Dec20) x86_64-pc-linux-gnu,debian,bookworm/sid") == "linux"
    assert os_of("9.6.7 (10Dec20) Win64,MVS,NT 6.2.9200") == "windows" and os_of("") is None


def test_unknown_media_type_is_reported_unknown():
    def tape(snap):
        snap["storages"][1]["media_type"] = "Ultrium"
    d = ents(build(snap=tape), "device")["pc-dir/Remote2"]
    assert "media_type" not in d and "Ultrium" in d["_unknown"]["media_type"]


def test_fragment_is_not_shared_state():
    a, b = build(), build()
    assert a == copy.deepcopy(b)


GARBAGE_VALUES = ["", "x", "0", "-1", "99999999999999999999999", "0000-00-00 00:00:00", "9999-99-99 99:99:99",
                  "2026-11-25T01:04:44Z", "\x1b[31m::error::x", "nan", "1e999", "None"]


@pytest.mark.parametrize("field", ["Name", "Type", "Level", "ClientName", "JobStatus", "StartTime", "EndTime",
                                   "JobTDate", "PriorJobId", "FileSet"])
def test_no_field_value_crashes_the_collector(field):
    """Every record field of every job, set to garbage: a fragment or a CollectorError, never another exception."""
    for value in GARBAGE_VALUES:
        def corrupt(d, value=value):
            for r in d.jobs:
                r[field] = value
            for v in d.volumes:
                v["StorageId"] = value
        try:
            f = build(mutate=corrupt, valid=False)
        except CollectorError:
            continue
        for b in f["entities"]["bootstrap"]:
            assert b.get("time") or b["_unknown"].get("time")


# -- issue 18: latest successful / failed backup and the copies of the latest one, per client -------------------

def add_job(d, jobid, status, name="BackupClient1", client="client1-fd", jtype="B", prior="0", end=None):
    """A job record as the real director lists it (copied from JobId 1, with its own id, status and times)."""
    r = dict(job(d, "BackupClient1"))
    end = end or f"2026-11-25 01:0{jobid % 10}:00"
    r.update({"JobId": str(jobid), "Job": f"{name}.x_{jobid}", "Name": name, "ClientName": client, "Type": jtype,
              "JobStatus": status, "PriorJobId": prior, "StartTime": end, "EndTime": end, "RealEndTime": end,
              "JobTDate": str(int(datetime.strptime(end, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
                                  .timestamp()))})
    d.jobs.append(r)
    return r


def client(f, name):
    return next(c for c in f["entities"]["client"] if c["bacula_client"] == name)


@pytest.mark.parametrize("status,ok", [("T", True), ("W", True), ("E", False), ("e", False), ("f", False),
                                       ("A", False), ("I", False), ("R", None), ("C", None)])
def test_job_status_decides_success_failure_or_neither(status, ok):
    d = FakeDirector()
    add_job(d, 9, status, name="BackupClient2", client="client2-fd", end="2026-11-25 01:06:00")
    c = client(build(director=d), "client2-fd")
    if ok:  # W: terminated with warnings, the data is written: a successful backup
        assert c["last_successful_backup"] == "2026-11-25T01:06:00+00:00" and c["last_failed_backup"] is None
    elif ok is False:  # error, fatal error, canceled, incomplete
        assert c["last_successful_backup"] is None and c["last_failed_backup"] == "2026-11-25T01:06:00+00:00"
        assert c["bacula_last_failed_backup_job"]["status"] == status
    else:  # running / created: the run has not ended
        assert c["last_successful_backup"] is None and c["last_failed_backup"] is None


def test_latest_by_end_time_and_the_catalog_backup_counts():
    d = FakeDirector()
    add_job(d, 8, "E", end="2026-11-25 01:06:00")
    c = client(build(director=d), "client1-fd")
    # the catalog backup (JobId 2, 01:04:44) is client1-fd's newest good job: the server's own client
    assert c["last_successful_backup"] == "2026-11-25T01:04:44+00:00"
    assert c["bacula_last_successful_backup_job"]["name"] == "BackupCatalog"
    assert c["last_failed_backup"] == "2026-11-25T01:06:00+00:00"
    # its copies are those of its own data backup (JobId 1), not of the catalog backup
    assert c["bacula_latest_backup_jobid"] == 1
    assert [(x["device"], x["volume"], x["clone"]) for x in c["latest_backup_copies"]] == [
        ("pc-dir/Local1", "Data-0001", False)]


def test_never_is_said_only_when_the_history_read_is_complete():
    # the window came back full (window_jobs 2: JobIds 2 and 1): client1-fd has a good data backup in it, so its
    # own history is not read; no failed run is in the window and older jobs were not read
    d = FakeDirector()
    f = build({"window_jobs": 2}, director=d)
    c = client(f, "client1-fd")
    assert c["last_successful_backup"] == "2026-11-25T01:04:44+00:00"
    assert "last_failed_backup" not in c and "window_jobs" in c["_unknown"]["last_failed_backup"]
    # client2-fd's own history (empty, shorter than its limit) is complete: never ran
    c2 = client(f, "client2-fd")
    assert c2["last_successful_backup"] is None and c2["last_failed_backup"] is None
    # a client without a good data backup in the window has its own history read: complete, so null
    d = FakeDirector()
    d.old = {"1"}
    c = client(build({"window_jobs": 1}, director=d), "client1-fd")
    assert c["last_failed_backup"] is None and c["bacula_latest_backup_jobid"] == 1

    # a history that came back with its whole limit and only failed runs: the newest failure is known, a
    # success older than what was read is not ruled out
    d = FakeDirector()
    for i in (5, 6):
        add_job(d, i, "f", name="BackupClient2", client="client2-fd")
    c2 = client(build({"history_limit": 2}, director=d), "client2-fd")
    assert c2["last_failed_backup"] == "2026-11-25T01:06:00+00:00"
    assert "last_successful_backup" not in c2 and "history_limit" in c2["_unknown"]["last_successful_backup"]
    assert "latest_backup_copies" not in c2 and "history_limit" in c2["_unknown"]["latest_backup_copies"]
    # with room for more, the same two failures are the client's whole history: null
    c2 = client(build({"history_limit": 3}, director=d), "client2-fd")
    assert c2["last_successful_backup"] is None and c2["latest_backup_copies"] == []


def test_copy_jobs_and_unreadable_media():
    d = FakeDirector()
    add_job(d, 7, "T", jtype="C", prior="1", end="2026-11-25 01:07:00")
    d.media["7"] = d.media["4"].replace("| 4 ", "| 7 ")
    c = client(build(director=d), "client1-fd")
    assert {(x["device"], x["clone"], x["bacula_jobid"]) for x in c["latest_backup_copies"]} == {
        ("pc-dir/Local1", False, 1), ("pc-dir/Remote2", True, 7)}
    # the Copy window came back full: copies older than it are not ruled out
    c = client(build({"window_jobs": 1}, director=d), "client1-fd")
    assert "window_jobs" in c["_partial"]["latest_backup_copies"]
    # the job's media were pruned: its copies are unknown, never an empty list
    d = FakeDirector()
    del d.media["1"]
    c = client(build(director=d), "client1-fd")
    assert "latest_backup_copies" not in c and "lists no volume" in c["_unknown"]["latest_backup_copies"]


def test_offline_only_where_an_autochanger_says_so():
    def library(d):  # Local1 becomes a tape library; its volume Data-0001 is outside the library (InChanger 0)
        set_show(d, "show storage", "MediaType=File1 StorageId=1 Autochanger=0",
                 "MediaType=LTO-8 StorageId=1 Autochanger=1")
    c = client(build(mutate=library), "client1-fd")
    assert c["latest_backup_copies"][0]["offline"] is True
    assert c["latest_backup_copies"][0]["bacula_volume"]["in_changer"] == "0"

    def inside(d):
        library(d)
        next(v for v in d.volumes if v["VolumeName"] == "Data-0001")["InChanger"] = "1"
    assert client(build(mutate=inside), "client1-fd")["latest_backup_copies"][0]["offline"] is False

    def standalone(d):  # a tape drive that is not an autochanger: the catalog does not know where the tape is
        set_show(d, "show storage", "MediaType=File1 StorageId=1", "MediaType=LTO-8 StorageId=1")
        next(v for v in d.volumes if v["VolumeName"] == "Data-0001")["VolStatus"] = "Archive"
    x = client(build(mutate=standalone), "client1-fd")["latest_backup_copies"][0]
    assert "offline" not in x and "not an autochanger" in x["_unknown"]["offline"]
    assert x["bacula_volume"]["status"] == "Archive"  # kept and not recycled: not a location, not a lock
    # a file volume: the core derives offline false from the device; immutability is unknown on every device
    x = client(build(), "client1-fd")["latest_backup_copies"][0]
    assert "offline" not in x and "immutable" not in x
    dev = ents(build(), "device")["pc-dir/Local1"]
    assert "no retention lock or WORM" in dev["_unknown"]["immutable"]


def test_one_jobmedia_command_for_many_jobs_and_a_job_it_does_not_list():
    from policycheck_bacula.catalog import jobmedia_command, volumes_by_job

    d = FakeDirector()
    build(director=d)
    sent = [c for batch in d.sent for c in batch if c.startswith("list jobmedia")]
    assert sent == ["list jobmedia jobid=2 jobid=4 jobid=1"]  # catalog run, its copy, client1-fd's data backup
    # an answer that does not list JobId 1 at all (pruned meanwhile): its volumes are unknown, not none
    out = {jobmedia_command(["1", "2"]): d.answer("list jobmedia jobid=2")}
    assert volumes_by_job([["1", "2"]], out, "test") == {"1": None, "2": ["Cat-0002"]}
