"""policycheck guard: the worst recovery (a Linux client's / onto the Solaris backup server that is also
the file and Sun Ray server) is refused with each reason named; a same-host data restore runs its
command; an unknown host is refused; the wrapped command's exit code passes through."""
from __future__ import annotations

import json
import sys

import pytest
from pchelpers import ROOT, facts_doc, run_cli

from policycheck.pipeline import build_facts
from policycheck.recovery import guard

HOSTS = [
    {"id": "nsr01.corp.example", "aliases": ["nsr01", "10.0.0.5"], "os": "solaris", "platform": "physical",
     "roles": ["backup_server", "file_server", "sunray_server"], "services": ["backup", "nfs", "sunray"],
     "depends_on": [], "bmr_methods": ["jumpstart"]},
    {"id": "web01.corp.example", "aliases": ["web01", "10.0.0.21"], "os": "linux", "platform": "physical",
     "roles": ["web_server"], "services": ["http"], "depends_on": ["nsr01.corp.example"], "bmr_methods": ["rear"]},
    {"id": "web02.corp.example", "aliases": ["web02"], "os": "linux", "platform": "physical",
     "roles": ["web_server"], "services": ["http"], "depends_on": [], "bmr_methods": ["rear"]},
]
ENTITIES = {
    "host": HOSTS,
    "backup_server": [{"id": "nsr01.corp.example", "host": "nsr01.corp.example", "product": "networker"}],
    "client": [{"id": "nsr01.corp.example/web01.corp.example", "hostname": "web01.corp.example",
                "backup_server": "nsr01.corp.example", "os": "linux",
                "last_filesystem_backup": "2026-11-24T22:00:00+00:00", "last_image_backup": None,
                "last_bmr_backup": None}],
}


@pytest.fixture
def snap(tmp_path):
    p = tmp_path / "facts.json"
    p.write_text(json.dumps(facts_doc(ENTITIES)))
    return p


def env(name, os_name, addresses=""):
    return {"POLICYCHECK_GUARD_HOSTNAME": name, "POLICYCHECK_GUARD_OS": os_name,
            "POLICYCHECK_GUARD_ADDRESSES": addresses}


def marker_cmd(tmp_path, code=0):
    m = tmp_path / "ran"
    return m, ["--", sys.executable, "-c", f"open({str(m)!r}, 'w').write('x'); raise SystemExit({code})"]


def test_the_worst_recovery_is_refused_with_each_reason(snap, tmp_path):
    marker, cmd = marker_cmd(tmp_path)
    rc, out, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/", *cmd,
                           env=env("nsr01", "solaris"))
    assert rc == 4, err
    assert not marker.exists(), "the command ran although the guard refused"
    assert "you are on nsr01.corp.example: solaris, physical; roles backup_server, file_server, sunray_server" in err
    for code in ("protected-destination", "os-mismatch", "not-the-source"):
        assert f"REFUSED ({code})" in err
    assert "web01.corp.example runs linux but nsr01.corp.example runs solaris" in err
    # --relocate drops only the "not the source" reason
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/usr", "--relocate", *cmd,
                         env=env("nsr01.corp.example", "solaris"))
    assert rc == 4 and "not-the-source" not in err and "protected-destination" in err and not marker.exists()


def test_found_by_address_alone(snap, tmp_path):
    marker, cmd = marker_cmd(tmp_path)
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/etc", *cmd,
                         env=env("rescue-live-cd", "solaris", "10.0.0.5"))
    assert rc == 4 and "you are on nsr01.corp.example" in err and not marker.exists()


def test_same_host_data_restore_runs_the_command(snap, tmp_path):
    marker, cmd = marker_cmd(tmp_path)
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/srv/www", *cmd,
                         env=env("web01", "linux"))
    assert rc == 0, err
    assert marker.exists()
    assert "you are on web01.corp.example: linux, physical; roles web_server" in err


def test_the_commands_exit_code_passes_through(snap, tmp_path):
    marker, cmd = marker_cmd(tmp_path, code=7)
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/srv/www", *cmd,
                         env=env("web01.corp.example", "linux"))
    assert rc == 7 and marker.exists(), err


def test_unknown_host_is_refused_unless_allowed(snap, tmp_path):
    marker, cmd = marker_cmd(tmp_path)
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/srv/www", *cmd,
                         env=env("laptop17", "linux"))
    assert rc == 4 and "REFUSED (unknown-host)" in err and "THE FACTS CANNOT TELL WHAT THIS HOST IS" in err
    assert not marker.exists()
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/srv/www", "--allow-unknown", *cmd,
                         env=env("laptop17", "linux"))
    assert rc == 0 and marker.exists() and "WARNING: --allow-unknown" in err
    # --allow-unknown does not open a system location on an unknown machine
    marker.unlink()
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/", "--allow-unknown", *cmd,
                         env=env("laptop17", "linux"))
    assert rc == 4 and not marker.exists()


def test_an_os_that_contradicts_the_facts_is_an_unknown_host(snap, tmp_path):
    marker, cmd = marker_cmd(tmp_path)
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/srv/www", *cmd,
                         env=env("nsr01", "linux"))
    assert rc == 4 and "unknown-host" in err and "runs solaris, but this system runs linux" in err


def test_wrong_host_and_other_client(snap, tmp_path):
    marker, cmd = marker_cmd(tmp_path)
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/srv/www", "--to", "web02", *cmd,
                         env=env("web01", "linux"))
    assert rc == 4 and "REFUSED (wrong-host)" in err
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/etc", *cmd, env=env("web02", "linux"))
    assert rc == 4 and "REFUSED (not-the-source)" in err and "os-mismatch" not in err
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "web01", "--path", "/etc", "--relocate", *cmd,
                         env=env("web02", "linux"))
    assert rc == 0 and marker.exists(), err


def test_invalid_input_is_exit_2(snap):
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "nosuchhost", "--path", "/", env=env("web01", "linux"))
    assert rc == 2 and "--from nosuchhost" in err


@pytest.mark.parametrize("path,system", [
    ("/", True), ("/usr", True), ("/etc/ssh/", True), ("/dev", True), ("/boot", True), ("/var", True),
    ("/srv/../etc", True), ("//", True), ("/srv/data", False), ("/export/home/u1", False), ("/usrlocal", False),
    ("C:\\Windows", True), ("c:\\windows\\system32", True), ("C:\\", True), ("DISASTER_RECOVERY:\\", True),
    ("D:\\data\\share", False), ("C:/Program Files/x", True),
])
def test_system_locations(path, system):
    assert guard.is_system_path(path) is system


def test_partial_roles_fail_closed():
    ents = json.loads(json.dumps(ENTITIES))
    ents["host"][2]["_partial"] = {"roles": "the source knows only its own role"}
    ents["host"][2]["roles"] = ["web_server"]
    facts = build_facts(facts_doc(ents))
    me = guard.Local(hostname="web02", fqdn="web02", os="linux")
    v = guard.check(facts, me, "web01", "/etc", relocate=True)
    assert [c for c, _ in v.reasons] == ["unknown-fact"]
    assert not guard.check(facts, me, "web01", "/srv/x").refused


def test_the_example_datazone(tmp_path):
    snap = tmp_path / "dz.json"
    rc, _, err = run_cli("collect", "-c", ROOT / "examples" / "datazone" / "policycheck.yaml", "-o", snap)
    assert rc == 0, err
    rc, _, err = run_cli("guard", "--facts", snap, "--from", "fs01", "--path", "C:\\Windows",
                         env=env("nsr01", "linux"))
    assert rc == 4 and "protected-destination" in err and "os-mismatch" in err and "not-the-source" in err
