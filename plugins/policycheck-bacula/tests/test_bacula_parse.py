"""Parsers on answers recorded from a real Bacula 9.6.7 director, and on broken ones."""
from __future__ import annotations

from pathlib import Path

import pytest
from policycheck_bacula import parse

DATA = Path(__file__).parent / "data"


def data(name: str) -> str:
    return (DATA / name).read_text()


def test_version_time_product():
    assert parse.parse_version(data("version.txt")) == "9.6.7"
    assert parse.parse_product(data("version.txt")) == "bacula"
    assert parse.parse_product("bareos-dir Version: 22.1.0") == "bareos"
    t = parse.parse_time(data("time.txt"))
    assert (t.year, t.month, t.day, t.hour, t.minute, t.second) == (2026, 11, 25, 1, 7, 49)
    with pytest.raises(parse.ParseError):
        parse.parse_version("pc-dir Version: unknown")
    with pytest.raises(parse.ParseError):
        parse.parse_time("Wed yesterday")


def test_storages():
    st = {s["name"]: s for s in parse.parse_storages(data("show_storage.txt"))}
    assert set(st) == {"Local1", "Remote2"}
    assert st["Local1"]["address"] == "localhost" and st["Local1"]["device"] == "FileDev1"
    assert st["Local1"]["media_type"] == "File1" and st["Local1"]["storage_id"] == "1"
    assert st["Remote2"]["address"] == "127.0.0.2" and isinstance(st["Remote2"]["port"], int)


def test_pools_have_their_storage_and_next_pool():
    pools = parse.parse_pools(data("show_pools.txt"))
    assert pools["CatalogPool"]["next_pool"] == "Offsite" and pools["CatalogPool"]["storage"] == ["Local1"]
    assert pools["Offsite"]["storage"] == ["Remote2"] and pools["Default"]["next_pool"] is None


def test_clients():
    cl = {c["name"]: c for c in parse.parse_clients(data("show_clients.txt"))}
    assert cl["client2-fd"]["address"] == "127.0.0.3" and cl["client1-fd"]["enabled"] is True


def test_jobs():
    jobs = {j["name"]: j for j in parse.parse_jobs(data("show_jobs.txt"))}
    cat = jobs["BackupCatalog"]
    assert cat["type"] == "B" and cat["level"] == "Full" and cat["fileset"] == "Catalog"
    assert cat["schedule"] == "AfterNightly" and cat["schedule_enabled"] is False
    assert cat["write_bootstrap"] == "/srv/bacula-test/bsr/%n.bsr"
    assert cat["pool"] == "CatalogPool" and cat["next_pool"] == "Offsite"
    assert cat["job_storage"] == ["Local1"] and cat["pool_storage"] == ["Local1"]
    assert len(cat["runscripts"]) == 1 and cat["runscripts"][0]["when"] == "before"
    assert "sqlite3" in cat["runscripts"][0]["command"]
    assert jobs["CopyCatalog"]["type"] == "c"
    assert jobs["BackupClient2"]["client"] == "client2-fd"


def test_llist_jobs_and_volumes():
    jobs = parse.parse_llist(data("llist_jobs.txt"), "JobId")
    by_id = {j["JobId"]: j for j in jobs}
    assert by_id["2"]["Name"] == "BackupCatalog" and by_id["2"]["Type"] == "B" and by_id["2"]["JobStatus"] == "T"
    copies = [j for j in jobs if j["Type"] == "C"]
    assert copies and copies[0]["PriorJobId"] == "2" and copies[0]["PoolName"] == "Offsite"
    vols = {v["VolumeName"]: v for v in parse.parse_llist(data("llist_volumes.txt"), "MediaId")}
    assert vols["Cat-0002"]["StorageId"] == "1" and vols["Off-0003"]["StorageId"] == "2"
    clients = parse.parse_llist(data("llist_clients.txt"), "ClientId")
    assert clients[0]["Uname"].startswith("9.6.7") and clients[1]["Uname"] == ""


def test_tables_two_in_one_answer():
    tables = parse.parse_tables(data("list_jobmedia_jobid_4.txt"))
    assert tables[0][0]["VolumeName"].startswith("Off-") and tables[0][0]["JobId"] == "4"
    assert len(tables) == 2 and "JobStatus" in tables[1][0]


@pytest.mark.parametrize("fn,text", [
    (lambda t: parse.parse_storages(t), "<html>502 Bad Gateway</html>"),
    (lambda t: parse.parse_storages(t), "Storage: address=localhost"),
    (lambda t: parse.parse_jobs(t), "Job: name=X JobType=abc"),
    (lambda t: parse.parse_llist(t, "JobId"), "           JobId: 1\n this line has no colon"),
    (lambda t: parse.parse_llist(t, "JobId"), "            Name: orphan"),
    (lambda t: parse.parse_llist(t, "JobId"), "           JobId: one"),
    (lambda t: parse.parse_tables(t), "+---+\n| a |\n+---+\n| 1 |"),
    (lambda t: parse.parse_tables(t), "+---+---+\n| a | b |\n+---+---+\n| 1 |\n+---+---+"),
    (lambda t: parse.parse_tables(t), "garbage"),
])
def test_broken_answers_raise(fn, text):
    with pytest.raises((parse.ParseError, ValueError)):
        fn(text)


def test_truncated_recorded_answer_raises():
    text = data("list_jobmedia_jobid_2.txt").splitlines()
    with pytest.raises(parse.ParseError):
        parse.parse_tables("\n".join(text[:4]))


def test_noise_lines_and_empty_results():
    assert parse.parse_llist("Automatically selected Catalog: MyCatalog\nUsing Catalog \"MyCatalog\"\n"
                             "No results to list.\nYou have messages.\n", "JobId") == []
    assert parse.parse_tables("No results to list.") == []
