"""collect() against the fake NetWorker serving the recorded datazones: the facts it maps and the calls it makes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from policycheck_networker.mapping.times import parse

from policycheck.testing import assert_no_secret, assert_valid_fragment

PREFIX = "/nwrestapi/v3/global/"


def by_id(fragment, kind):
    return {e["id"]: e for e in fragment["entities"][kind]}


def by_host(fragment):
    """Client facts by hostname (their ids are "<server>/<hostname>")."""
    return {e["hostname"]: e for e in fragment["entities"]["client"]}


def latest_bootstrap(fragment):
    return max(fragment["entities"]["bootstrap"], key=lambda b: parse(b["time"]))


def age(text):
    return datetime.now(timezone.utc) - parse(text)


def test_director_datazone(server, run, zone):
    srv = server(zone("director"))
    frag = run(srv)
    assert_valid_fragment(frag)
    bs = by_id(frag, "backup_server")["nsr01.corp.example"]
    assert bs["product"] == "networker" and bs["host"] == "nsr01.corp.example"
    assert bs["networker_director_mode"] is True
    assert bs["networker_client_devices_on_server"] == []
    assert bs["networker_bootstrap_actions"][0]["destination_storage_node"] == "sn01.corp.example"
    assert "127.0.0.1" not in bs["aliases"]  # the loopback URL host must not become a join key

    devs = by_id(frag, "device")
    idx = devs["nsr01.corp.example:/nsr/aftd_idx"]
    # only index save sets and an *aborted* client save set are on the server's own device
    assert idx["storage_node"] is None and idx["host"] == "nsr01.corp.example" and idx["client_data"] is False
    dd = devs["nsr01.corp.example:rd=sn01.corp.example:DD_Boost_01"]
    assert dd["storage_node"] == "sn01.corp.example" and dd["host"] == "sn01.corp.example"
    assert dd["media_type"] == "dedup" and dd["networker_data_host"] == "dd01.corp.example" and dd["client_data"]
    assert by_id(frag, "storage_node")["sn01.corp.example"]["backup_server"] == "nsr01.corp.example"

    boot = latest_bootstrap(frag)
    assert timedelta(hours=1) < age(boot["time"]) < timedelta(hours=3)
    assert boot["time"].endswith("-05:00")  # the server's offset is kept
    assert boot["level"] == "full"
    assert [c["device"] for c in boot["copies"]] == ["nsr01.corp.example:rd=sn01.corp.example:/nsr/aftd01"]
    assert boot["copies"][0]["local_to_server"] is False

    clients = by_host(frag)
    assert all(c["id"] == f"nsr01.corp.example/{h}" for h, c in clients.items())
    app = clients["app01.corp.example"]
    # the aborted save set one hour ago does not count; the incremental three hours ago does
    assert timedelta(hours=2) < age(app["last_filesystem_backup"]) < timedelta(hours=4)
    assert app["last_image_backup"] is None and app["last_bmr_backup"] is None
    win = clients["win01.corp.example"]  # two client resources, one hostname
    assert len(win["networker_resource_ids"]) == 2 and win["networker_bmr_save_set"] is True
    assert win["last_bmr_backup"] is not None and win["last_filesystem_backup"] is not None
    web = clients["web01.corp.example"]  # known only from its vProxy image, joined through protectedvms
    assert web["last_image_backup"] is not None and web["last_filesystem_backup"] is None
    assert clients["vcenter01.corp.example"]["last_image_backup"] is None  # the image is the VM's, not vCenter's
    # protectedvms knows no guest hostname for dns02: the VM name from vmInformation names the client
    assert timedelta(hours=29) < age(clients["dns02"]["last_image_backup"]) < timedelta(hours=31)
    assert clients["nsr01.corp.example"]["last_filesystem_backup"] is not None


def test_one_call_per_resource_with_fields_and_no_paging(server, run, zone):
    srv = server(zone("director"))
    run(srv)
    paths = [p for p, _ in srv.requests]
    assert sorted(paths) == sorted(PREFIX + r for r in (
        "serverconfig", "storagenodes", "devices", "pools", "volumes", "clients", "protectionpolicies",
        "backups", "vmware/protectedvms", "jukeboxes", "jobs"))
    for path, query in srv.requests:
        assert not {"offset", "limit", "pagesize"} & set(query), path
        if not path.endswith(("serverconfig", "protectionpolicies")):
            assert query.get("fl"), f"{path} asked without fl="


def test_local_bootstrap_only(server, run, zone):
    frag = run(server(zone("local_bootstrap")))
    assert_valid_fragment(frag)
    bs = by_id(frag, "backup_server")["nsr02.corp.example"]
    assert bs["networker_director_mode"] is False
    assert bs["networker_client_devices_on_server"] == ["nsr02.corp.example:/nsr/aftd1"]
    assert bs["networker_client_actions_to_server"] == ["Gold/Filesystem/backup"]
    assert "nsr02.corp.example/db01.corp.example" in bs["networker_clients_to_server"]
    dev = by_id(frag, "device")["nsr02.corp.example:/nsr/aftd1"]
    assert dev["storage_node"] is None and dev["client_data"] is True and dev["host"] == "nsr02.corp.example"
    boot = latest_bootstrap(frag)
    assert boot["time"].endswith("+01:00") and age(boot["time"]) < timedelta(hours=6)
    disk, tape = boot["copies"]
    assert disk["device"] == "nsr02.corp.example:/nsr/aftd1" and disk["local_to_server"] is True
    # the clone sits on a tape in the server's own library: not mounted, but still local
    assert tape["clone"] is True and tape["device"] is None and tape["networker_jukebox"] == "TL01"
    assert tape["location_host"] == "nsr02.corp.example" and tape["local_to_server"] is True
    assert frag["entities"]["storage_node"] == []
    assert by_host(frag)["db01.corp.example"]["os"] == "linux"
    assert by_id(frag, "device")["nsr02.corp.example:/dev/nst0"]["networker_jukebox"] == "TL01"


def test_cloned_bootstrap(server, run, zone):
    frag = run(server(zone("cloned")))
    assert_valid_fragment(frag)
    boots = frag["entities"]["bootstrap"]
    assert len(boots) == 2  # the in-progress one (10 minutes ago) has no usable copy
    boot = latest_bootstrap(frag)
    assert timedelta(hours=2) < age(boot["time"]) < timedelta(hours=4) and boot["time"].endswith("+05:30")
    copies = {c["volume"]: c for c in boot["copies"]}
    assert copies["nsr03.boot.001"]["clone"] is False and copies["nsr03.boot.001"]["local_to_server"] is True
    tape = copies["CLN001"]
    assert tape["clone"] is True and tape["device"] is None
    assert tape["location"] == "Iron Mountain vault" and tape["offsite"] is True
    dd = copies["DD03.001"]
    assert dd["clone"] is True and dd["device"] == "nsr03.corp.example:DD_Boost_03"
    assert dd["local_to_server"] is False and dd["location"] == "dd03.corp.example"
    devs = by_id(frag, "device")
    assert devs["nsr03.corp.example:/dev/nst0"]["enabled"] is False
    assert devs["nsr03.corp.example:/dev/nst0"]["media_type"] == "tape"
    bs = by_id(frag, "backup_server")["nsr03.corp.example"]
    assert bs["networker_director_mode"] is False  # client data goes through the server's own DD device


def test_latest_is_by_time_not_list_order(server, run, zone):
    z = zone("cloned")
    z["backups"]["backups"].reverse()
    frag = run(server(z))
    assert len(latest_bootstrap(frag)["copies"]) == 3


def test_empty_lists(server, run, zone):
    frag = run(server(zone("empty")))
    assert_valid_fragment(frag)
    ents = frag["entities"]
    assert ents["bootstrap"] == [] and ents["device"] == [] and ents["client"] == []
    assert by_id(frag, "backup_server")["nsr04.corp.example"]["version"].startswith("19.13")


def test_large_datazone_single_answers(server, run):
    from fakenetworker import generate_datazone

    srv = server(generate_datazone(20000, 3000))
    frag = run(srv, timeout=60)
    assert len(srv.requests) == 11
    assert len(frag["entities"]["client"]) == 3000
    assert len(frag["entities"]["bootstrap"]) == 400
    assert by_id(frag, "backup_server")["nsr01.corp.example"]["networker_director_mode"] is True
    assert all(c["last_filesystem_backup"] for c in frag["entities"]["client"])


def test_server_rejecting_offset_limit(server, run, zone):
    import requests

    srv = server(zone("director"), reject_paging=True)
    r = requests.get(srv.url + PREFIX + "backups", params={"offset": 0, "limit": 100},
                     auth=("audit", srv.password), timeout=5)
    assert r.status_code == 400 and r.json()["status"]["code"] == 400
    frag = run(srv)  # the collector never sends offset/limit, so it still reads everything
    assert len(frag["entities"]["bootstrap"]) == 2


def test_unknown_fl_field_falls_back_to_whole_objects(server, run, zone, monkeypatch):
    import fakenetworker as fakeserver

    monkeypatch.setitem(fakeserver.KNOWN_FIELDS, "clients", "hostname aliases saveSets resourceId")
    srv = server(zone("director"))
    frag = run(srv)
    client_calls = [q for p, q in srv.requests if p.endswith("/clients")]
    assert len(client_calls) == 2 and "fl" in client_calls[0] and "fl" not in client_calls[1]
    assert "win01.corp.example" in by_host(frag)
    assert any("fl= refused" in m for m in run.logs)


def test_no_secret_in_facts_or_logs(server, run, zone):
    srv = server(zone("director"))
    frag = run(srv)
    assert_no_secret(srv.password, frag, "\n".join(run.logs))


def test_list_calls_run_concurrently(server, run, zone):
    srv = server(zone("director"), delay=0.3)  # each answer takes 0.3 s: overlapping calls show up in flight
    run(srv)
    assert len(srv.requests) == 11
    assert srv.max_in_flight >= 2, "the list calls were issued one after the other"


def test_decode_keeps_no_extra_copies(server, run):
    """Peak traced memory while collecting a 10,000 save set answer stays near one copy of the body plus
    the decoded objects (resp.json() keeps the bytes and the text alive with the objects: two body sizes)."""
    import tracemalloc

    from fakenetworker import generate_datazone

    srv = server(generate_datazone(10000, 1000))
    run(srv, timeout=60)  # warm the fake's cache so its own copies are not traced
    code, body = srv.body_for("backups", {"fl": ["id,name,clientHostname,level,saveTime,instances,vmInformation"]})
    import json

    tracemalloc.start()
    objs = json.loads(body)
    _, objects_peak = tracemalloc.get_traced_memory()
    del objs
    tracemalloc.stop()
    tracemalloc.start()
    run(srv, timeout=60)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < objects_peak + 1.5 * len(body), (peak, objects_peak, len(body))


def test_backup_window_filters_on_the_server(server, run, zone):
    srv = server(zone("local_bootstrap"))
    frag = run(srv, backup_window="24 hours")
    (q,) = [q for p, q in srv.requests if p.endswith("/backups")]
    assert q["q"] == ['saveTime:["24 hours"]']
    assert len(frag["entities"]["bootstrap"]) == 1  # the one 29 hours old is outside the window
    assert by_id(frag, "backup_server")["nsr02.corp.example"]["networker_backup_window"] == "24 hours"


def test_backup_window_refused_by_an_older_server_reads_everything(server, run, zone):
    srv = server(zone("local_bootstrap"), reject_ranges=True)
    frag = run(srv, backup_window="24 hours")
    calls = [q for p, q in srv.requests if p.endswith("/backups")]
    assert len(calls) == 2 and "q" in calls[0] and "q" not in calls[1] and "fl" in calls[1]
    assert len(frag["entities"]["bootstrap"]) == 2
    assert "networker_backup_window" not in by_id(frag, "backup_server")["nsr02.corp.example"]
