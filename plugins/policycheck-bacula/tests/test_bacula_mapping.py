"""From recorded director answers to facts: devices, bootstrap copies (volumes, clones, .bsr targets), clients."""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path

import pytest

from policycheck.api import CollectorError
from policycheck.testing import assert_valid_fragment
from policycheck_bacula.collect import CONFIG_COMMANDS, snapshot, volumes_by_job
from policycheck_bacula.mapping import Mapper, media_kind, os_of

DATA = Path(__file__).parent / "data"
SETTINGS = {"address": "127.0.0.1", "port": 9101, "password": "x", "director_host": "backup01.test"}
UTC_NOW = datetime(2026, 11, 25, 0, 7, 50, tzinfo=timezone.utc)  # the recorded director said 01:07:49


def answers() -> dict:
    import re
    return {c: (DATA / (re.sub(r"[^a-z0-9]+", "_", c).strip("_") + ".txt")).read_text() for c in CONFIG_COMMANDS}


MEDIA = {f"list jobmedia jobid={j}": (DATA / f"list_jobmedia_jobid_{j}.txt").read_text() for j in ("2", "4")}


def build(settings=None, mutate=None, mounts=None):
    settings = dict(SETTINGS, **(settings or {}))
    snap = snapshot(answers(), settings, "pc-dir", UTC_NOW, "test")
    if mutate:
        mutate(snap)
    m = Mapper(snap, settings, mounts)
    wanted = [r["JobId"] for r in m.catalog_runs()]
    wanted += [c["JobId"] for c in snap["job_records"] if c.get("Type") == "C" and c.get("PriorJobId") in wanted]
    media = {f"list jobmedia jobid={j}": MEDIA.get(f"list jobmedia jobid={j}", "No results to list.")
             for j in wanted}
    frag = m.fragment(volumes_by_job(wanted, media, "test"))
    assert_valid_fragment(frag)
    return frag


def ents(frag, kind):
    return {e["id"]: e for e in frag["entities"][kind]}


def job(snap, name):
    return next(j for j in snap["jobs"] if j["name"] == name)


def test_recorded_director_maps_to_facts():
    f = build()
    server = ents(f, "backup_server")["backup01.test"]
    assert server["aliases"] == ["pc-dir"] and server["version"] == "9.6.7" and server["product"] == "bacula"
    assert ents(f, "host")["backup01.test"]["aliases"] == ["127.0.0.1"]
    b = ents(f, "bootstrap")["pc-dir:job:2"]
    assert b["time"] == "2026-11-25T01:04:44+01:00"  # the server's own offset, measured from its clock
    copies = {(c["device"], c["volume"], c["clone"]) for c in b["copies"]}
    assert copies == {("pc-dir/Local1", "Cat-0002", False), ("pc-dir/Remote2", "Off-0003", True)}
    devs = ents(f, "device")
    assert devs["pc-dir/Local1"]["host"] == "backup01.test" and devs["pc-dir/Remote2"]["host"] == "127.0.0.2"
    assert devs["pc-dir/Local1"]["client_data"] and not devs["pc-dir/Remote2"]["client_data"]
    clients = ents(f, "client")
    assert clients["client2-fd"]["last_filesystem_backup"] is None
    assert clients["client1-fd"]["last_filesystem_backup"].endswith("+01:00")
    assert clients["client1-fd"]["host"] == "backup01.test" and "host" not in clients["client2-fd"]


def test_configured_offset_wins():
    b = ents(build({"utc_offset": "-05:00"}), "bootstrap")["pc-dir:job:2"]
    assert b["time"] == "2026-11-25T01:04:44-05:00"


def test_client_backups_on_the_remote_sd_make_only_it_client_data():
    def to_remote(snap):
        for name in ("BackupClient1", "BackupClient2"):
            job(snap, name)["pool_storage"] = ["Remote2"]
    devs = ents(build(mutate=to_remote), "device")
    assert devs["pc-dir/Remote2"]["client_data"] is True and devs["pc-dir/Local1"]["client_data"] is False


@pytest.mark.parametrize("wb,off_host,host", [
    ("| /usr/bin/scp /dev/stdin bacula@vault.example.com:/bsr/%n.bsr", True, "vault.example.com"),
    ("|/usr/sbin/bsmtp -h localhost -f bacula@localhost -s bsr root@localhost", False, None),
    ("|/usr/sbin/bsmtp -h 127.0.0.1 -s bsr ops@127.0.0.5", True, "127.0.0.5"),
    ("/var/lib/bacula/%n.bsr", False, None),
])
def test_write_bootstrap_targets(wb, off_host, host):
    def set_wb(snap):
        job(snap, "BackupCatalog")["write_bootstrap"] = wb
    b = ents(build(mutate=set_wb), "bootstrap")["pc-dir:job:2"]
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
        job(snap, "BackupCatalog")["runscripts"].append(
            {"command": "rsync -a /srv/bacula-test/bsr/BackupCatalog.bsr dr@vault:/bsr/", "when": "after",
             "on_success": True, "on_failure": False, "target": None, "console": None})
        job(snap, "BackupCatalog")["runscripts"].append(
            {"command": "rsync -a /etc/motd dr@vault:/x/", "when": "after",  # not the .bsr
             "on_success": True, "on_failure": False, "target": None, "console": None})
    b = ents(build(mutate=add_script), "bootstrap")["pc-dir:job:2"]
    located = [c for c in b["copies"] if c["device"] is None]
    assert len(located) == 1 and located[0]["bacula_via"] == "runscript" and located[0]["location_host"] == "vault"


def test_stale_and_failed_catalog_runs():
    def fail_catalog(snap):
        for r in snap["job_records"]:
            if r["Name"] == "BackupCatalog" and r["Type"] == "B":
                r["JobStatus"] = "f"
    f = build(mutate=fail_catalog)
    assert f["entities"]["bootstrap"] == []  # no successful catalog backup: the core derives latest_bootstrap null


def test_catalog_jobs_setting_overrides_detection():
    f = build({"catalog_jobs": ["BackupClient1"]})
    assert [b["bacula_job"] for b in f["entities"]["bootstrap"]] == ["BackupClient1"]
    # BackupCatalog is then an ordinary backup of client1-fd: it counts as its latest file-system backup
    catalog_run = next(r for r in build()["entities"]["bootstrap"] if r["bacula_jobid"] == 2)
    assert ents(f, "client")["client1-fd"]["last_filesystem_backup"] == catalog_run["time"]


def test_volume_on_an_unknown_storage_is_unknown_not_local_or_remote():
    def orphan(snap):
        for v in snap["volumes"]:
            if v["VolumeName"] == "Off-0003":
                v["StorageId"] = "99"
    b = ents(build(mutate=orphan), "bootstrap")["pc-dir:job:2"]
    assert "Off-0003" in b["_unknown"]["copies"]


def test_director_name_and_empty_storage_errors():
    a = answers()
    a["show storage"] = ""
    with pytest.raises(CollectorError, match="no Storage resource"):
        snapshot(a, SETTINGS, "pc-dir", UTC_NOW, "test")
    a = answers()
    a["llist jobs"] = a["llist jobs"].replace("JobStatus: T", "JobStatus T", 1)
    with pytest.raises(CollectorError, match="'llist jobs'"):
        snapshot(a, SETTINGS, "pc-dir", UTC_NOW, "test")


def test_media_kind_and_os():
    assert media_kind("File1") == "file" and media_kind("LTO-8") == "tape" and media_kind("ULT3580") is None
    assert media_kind("Cloud-S3") == "cloud" and media_kind("DiskAligned") == "dedup"
    assert os_of("9.6.7 (10Dec20) x86_64-pc-linux-gnu,debian,bookworm/sid") == "linux"
    assert os_of("9.6.7 (10Dec20) Win64,MVS,NT 6.2.9200") == "windows" and os_of("") is None


def test_unknown_media_type_is_reported_unknown():
    def tape(snap):
        snap["storages"][1]["media_type"] = "Ultrium"
    d = ents(build(mutate=tape), "device")["pc-dir/Remote2"]
    assert "media_type" not in d and "Ultrium" in d["_unknown"]["media_type"]


def test_fragment_is_not_shared_state():
    a, b = build(), build()
    assert a == copy.deepcopy(b)
