"""Issue 16 (NetWorker parts): malformed elements are unknown, never dropped; list envelopes are checked;
an echoed Authorization header leaks nothing; the worker threads never keep the process alive.
"""
from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
import textwrap
import threading
from urllib.parse import quote

import pytest

from policycheck.api import CollectorError

BACKUPS = "GET /nwrestapi/v3/global/backups"


def by_id(frag, kind):
    return {e["id"]: e for e in frag["entities"][kind]}


def by_host(frag):
    return {c["hostname"]: c for c in frag["entities"]["client"]}


def incomplete(frag, kind):
    return [e for e in frag.get("incomplete", []) if e["kind"] == kind]


def save_set(z, sid):
    return next(b for b in z["backups"]["backups"] if b["id"].startswith(sid))


def check_incomplete_shape(frag):
    """Contract item 3's shape (the core's fragment schema learns `incomplete` with the contract)."""
    for e in frag.get("incomplete", []):
        assert set(e) <= {"kind", "reason", "backup_server"} and isinstance(e["reason"], str) and e["reason"]


# -- 1. a malformed element is unknown, never dropped -------------------------------------------------

def newer_local_bootstrap(z, save_time):
    """cloned: add a bootstrap save set newer than the cloned one, on the server's own disk only."""
    b = copy.deepcopy(save_set(z, "0000a002"))
    b.update(id="0000a0ff-0000-0000-0000-0000000000ff", shortId="4100000255", saveTime=save_time)
    b["instances"] = [{"id": "1", "clone": False, "status": "Browsable", "volumeIds": ["3001"]}]
    z["backups"]["backups"].append(b)
    z["backups"]["count"] += 1
    return b


@pytest.mark.parametrize("save_time", ["12/31/2099 xx", "2026-11-18T04:27:31", None, {"t": 1}])
def test_bootstrap_with_unparseable_save_time_makes_the_bootstrap_list_incomplete(server, run, zone, save_time):
    z = zone("cloned")
    newer_local_bootstrap(z, save_time)
    frag = run(server(z))
    check_incomplete_shape(frag)
    # the older, cloned bootstrap must not silently count as the latest
    (entry,) = incomplete(frag, "bootstrap")
    assert entry["backup_server"] == "nsr03.corp.example"
    assert entry["reason"].startswith(BACKUPS) and "0000a0ff-0000-0000-0000-0000000000ff" in entry["reason"]
    assert "saveTime" in entry["reason"] and "bootstrap" in entry["reason"]
    if isinstance(save_time, str):
        assert json.dumps(save_time) in entry["reason"]
    assert len(frag["entities"]["bootstrap"]) == 2  # the readable ones are all kept
    assert any("1 malformed element" in w and "save set" in w for w in run.warnings)


@pytest.mark.parametrize("instances", [{"id": "1", "status": "Browsable"}, "Browsable", None,
                                       [["1", "Browsable"]], [{"status": "Browsable", "volumeIds": "3001"}]])
def test_bootstrap_with_malformed_instances_makes_the_bootstrap_list_incomplete(server, run, zone, instances):
    z = zone("cloned")
    b = newer_local_bootstrap(z, save_set(z, "0000a002")["saveTime"])
    b["instances"] = instances
    frag = run(server(z))
    (entry,) = incomplete(frag, "bootstrap")
    assert "instances" in entry["reason"] and "0000a0ff" in entry["reason"]


def test_client_save_set_with_unparseable_time_makes_that_clients_time_unknown(server, run, zone):
    z = zone("director")
    app = next(b for b in z["backups"]["backups"] if b["clientHostname"] == "app01.corp.example"
               and b["instances"][0]["status"] == "Browsable")
    app["saveTime"] = "Tue Nov 18 04:27:31 2026"
    frag = run(server(z))
    clients = by_host(frag)
    c = clients["app01.corp.example"]
    assert "last_filesystem_backup" not in c
    reason = c["_unknown"]["last_filesystem_backup"]
    assert reason.startswith(BACKUPS) and app["id"] in reason and "saveTime" in reason and "Tue Nov 18" in reason
    # only that client and that attribute
    assert c["last_bmr_backup"] is None and clients["win01.corp.example"]["last_filesystem_backup"]
    # (the job log is pruned after jobsdbRetentionInHours: its latest failure is unknown on every client)
    assert set(clients["win01.corp.example"]["_unknown"]) == {"last_failed_backup"}
    assert set(c["_unknown"]) - {"last_failed_backup"} == {"last_filesystem_backup", "last_successful_backup",
                                                           "latest_backup_copies"}
    assert any("malformed element" in w for w in run.warnings)


def test_client_save_set_with_malformed_instances_makes_client_data_unknown(server, run, zone):
    z = zone("director")
    app = next(b for b in z["backups"]["backups"] if b["clientHostname"] == "app01.corp.example"
               and b["instances"][0]["status"] == "Browsable")
    app["instances"] = {"id": "1", "status": "Browsable", "volumeIds": ["1000"]}
    frag = run(server(z))
    devs = by_id(frag, "device")
    idx = devs["nsr01.corp.example:/nsr/aftd_idx"]  # the server's own device: might now hold client data
    assert "client_data" not in idx and "instances" in idx["_unknown"]["client_data"]
    assert devs["nsr01.corp.example:rd=sn01.corp.example:DD_Boost_01"]["client_data"] is True  # known
    assert incomplete(frag, "device")
    bs = by_id(frag, "backup_server")["nsr01.corp.example"]
    assert "networker_director_mode" not in bs and "networker_director_mode" in bs["_unknown"]
    assert "last_filesystem_backup" not in by_host(frag)["app01.corp.example"]


@pytest.mark.parametrize("hostname", [None, "", ["app01.corp.example"], 42])
def test_save_set_of_no_readable_client_makes_every_clients_time_unknown(server, run, zone, hostname):
    z = zone("director")
    b = next(b for b in z["backups"]["backups"] if b["clientHostname"] == "app01.corp.example"
             and b["instances"][0]["status"] == "Browsable")
    b["clientHostname"] = hostname
    frag = run(server(z))
    for host, c in by_host(frag).items():
        assert "last_filesystem_backup" not in c, host
        assert "clientHostname" in c["_unknown"]["last_filesystem_backup"]


@pytest.mark.parametrize("name", [None, "", ["/nsr/aftd_idx"]])
def test_device_without_a_name_makes_the_device_list_incomplete(server, run, zone, name):
    z = zone("local_bootstrap")
    dev = next(d for d in z["devices"]["devices"] if d["name"] == "/nsr/aftd1")
    dev["name"] = name
    frag = run(server(z))
    check_incomplete_shape(frag)
    (entry,) = incomplete(frag, "device")
    assert entry["backup_server"] == "nsr02.corp.example" and "devices" in entry["reason"]
    assert ("no name" if not name else "non-text name") in entry["reason"]
    # the bootstrap copy on that device's volume: where it is cannot be told (never "off the server")
    latest = max(frag["entities"]["bootstrap"], key=lambda b: b["time"])
    disk = next(c for c in latest["copies"] if c["volume"] == "nsr02.001")
    assert "local_to_server" not in disk and disk["location"] is None and "device #0" in disk["networker_unknown"]
    assert any("1 device" in w for w in run.warnings)


@pytest.mark.parametrize("hostname", [None, "", ["db01.corp.example", "db01"], {"name": "db01"}])
def test_client_without_a_readable_hostname_makes_the_client_list_incomplete(server, run, zone, hostname):
    z = zone("local_bootstrap")
    c = next(c for c in z["clients"]["clients"] if c["hostname"] == "db01.corp.example")
    c["hostname"] = hostname
    frag = run(server(z))
    (entry,) = incomplete(frag, "client")
    assert entry["backup_server"] == "nsr02.corp.example" and "clients" in entry["reason"]
    assert "hostname" in entry["reason"]
    assert [c["hostname"] for c in frag["entities"]["client"]] == ["nsr02.corp.example"]
    assert any("1 client" in w for w in run.warnings)


def test_many_malformed_elements_are_counted_and_entries_capped(server, run, zone):
    z = zone("cloned")
    for i in range(50):
        b = newer_local_bootstrap(z, f"bad time {i}")
        b["id"] = f"bad-{i}"
    frag = run(server(z))
    entries = incomplete(frag, "bootstrap")
    assert len(entries) == 11 and "and 40 more" in entries[-1]["reason"]
    assert any("50 malformed elements (50 save sets)" in w for w in run.warnings)


# -- 2. an answer of the wrong shape is an error -----------------------------------------------------

@pytest.mark.parametrize("resource", ["devices", "clients", "backups", "storagenodes", "volumes", "pools"])
def test_empty_object_is_not_an_empty_list(server, run, zone, resource):
    with pytest.raises(CollectorError) as info:
        run(server(zone("director"), faults={resource: "empty_object"}))
    msg = str(info.value)
    assert f"/{resource}" in msg and "no 'count'" in msg


def test_list_without_count_is_an_error(server, run, zone):
    with pytest.raises(CollectorError) as info:
        run(server(zone("director"), faults={"devices": "no_count"}))
    assert "/devices" in str(info.value) and "count" in str(info.value)


@pytest.mark.parametrize("doc,words", [
    ({"count": 2}, "no 'devices' list"),
    ({"count": 0, "devices": None}, "null 'devices'"),
    ({"count": "2", "devices": []}, "'count' is \"2\""),
    ({"count": True, "devices": [{}]}, "'count' is true"),
    ({"count": 1, "devices": {"name": "x"}}, "not a list"),
])
def test_envelope_shapes(server, run, zone, doc, words):
    z = zone("director")
    z["devices"] = doc
    srv = server(z)
    srv.faults["devices"] = None
    # serve the envelope exactly as written (bypassing the fake's own count)
    srv._cache[("devices", (("fl", (",".join(__import__("policycheck_networker.client", fromlist=["CALLS"])
                                               .CALLS[3].fields),)),))] = (200, json.dumps(doc).encode())
    with pytest.raises(CollectorError) as info:
        run(srv)
    assert "/devices" in str(info.value) and words in str(info.value), str(info.value)


def test_count_zero_without_the_key_is_an_empty_list(server, run, zone):
    z = zone("director")
    z["jukeboxes"] = {"count": 0}
    frag = run(server(z))
    assert frag["entities"]["device"]


# -- no secret in any output, whatever the server echoes -------------------------------------------

def encodings(user, password):
    b64 = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [password, b64, b64.rstrip("="), quote(b64, safe=""), b64.replace("/", "\\/"),
            base64.b64encode(password.encode()).decode()]


def assert_nothing_leaks(user, password, *texts):
    for text in texts:
        text = text if isinstance(text, str) else json.dumps(text, default=str)
        for form in encodings(user, password):
            assert form not in text, f"{form!r} leaked"


PW = "Nw+/audit=S3cret?42&<x>"  # base64 of user:PW holds + and /, the password itself URL/XML specials


@pytest.mark.parametrize("fault", ["wrong_password", "backups_500", "protectedvms_500", "policies_403"])
def test_echoed_authorization_header_leaks_nothing(server, run, zone, fault):
    faults = {"backups_500": {"backups": 500}, "protectedvms_500": {"vmware/protectedvms": 500},
              "policies_403": {"protectionpolicies": 403}}.get(fault, {})
    srv = server(zone("director"), faults=faults, echo_auth=True, password=PW)
    outputs = []
    if fault == "wrong_password":
        with pytest.raises(CollectorError) as info:
            run(srv, password=PW + "-wrong")
        outputs.append(str(info.value))
        assert_nothing_leaks(srv.username, PW + "-wrong", *outputs, *run.logs)
        assert "HTTP 401" in outputs[0] and "Basic ***" in outputs[0]
    elif fault == "backups_500":
        with pytest.raises(CollectorError) as info:
            run(srv)
        outputs.append(str(info.value))
        assert "HTTP 500" in outputs[0] and "Basic ***" in outputs[0]
    else:
        outputs.append(json.dumps(run(srv)))
        assert any("Basic ***" in w for w in run.warnings)
    assert_nothing_leaks(srv.username, PW, *outputs, *run.logs, *run.warnings)


def test_echoed_authorization_through_the_cli_leaks_nothing(server, zone, tmp_path):
    srv = server(zone("director"), faults={"backups": 500, "vmware/protectedvms": 500}, echo_auth=True,
                 password=PW)
    (tmp_path / "nsr.pw").write_text(PW + "\n")
    cfg = tmp_path / "policycheck.yaml"
    cfg.write_text(f"""version: 1
sources:
  - {{name: nsr, plugin: networker, timeout: 5, url: "{srv.url}", username: audit, password_file: nsr.pw}}
""")
    outs = []
    for args in (["check", "--format", "json"], ["check", "--format", "text"], ["collect", "-o", "facts.json"]):
        p = subprocess.run([sys.executable, "-m", "policycheck", *args, "-c", str(cfg)], capture_output=True,
                           text=True, timeout=90, cwd=tmp_path)
        outs += [p.stdout, p.stderr]
    outs.append((tmp_path / "facts.json").read_text())
    assert any("HTTP 500" in o for o in outs)
    assert_nothing_leaks("audit", PW, *outs)


# -- 4. the worker threads never outlive the run ----------------------------------------------------

def test_worker_threads_are_daemon_threads(server, run, zone):
    srv = server(zone("director"), faults={"backups": "slow"}, slow_seconds=3)
    with pytest.raises(CollectorError):
        run(srv, timeout=1)
    workers = [t for t in threading.enumerate() if t.name.startswith("networker")]
    assert all(t.daemon for t in workers), workers


def test_process_exits_after_the_deadline_whatever_the_server_does(tmp_path):
    """A server answering 503 with Retry-After: 3600 and one that never answers: the report is due at
    the source's timeout and nothing the collector started keeps the interpreter alive afterwards."""
    script = textwrap.dedent("""
        import json, sys
        from policycheck.api import CollectContext, CollectorError
        from fakenetworker import FakeNetworker, load_datazone
        from policycheck_networker.plugin import collect
        zone = load_datazone(sys.argv[1])
        with FakeNetworker(zone, faults={"backups": "busy_forever", "clients": "slow"}, slow_seconds=600) as srv:
            ctx = CollectContext(source="nsr", timeout=2, secrets=[srv.password])
            try:
                collect({"url": srv.url, "username": srv.username, "password": srv.password}, ctx)
            except CollectorError as exc:
                print("ERROR", exc, flush=True)
    """)
    from pathlib import Path

    data = Path(__file__).parent / "data" / "director.json"
    p = subprocess.run([sys.executable, "-c", script, str(data)], capture_output=True, text=True, timeout=60,
                       cwd=Path(__file__).parent)  # the test-only fake server lives here
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("ERROR") and "timeout" in p.stdout
