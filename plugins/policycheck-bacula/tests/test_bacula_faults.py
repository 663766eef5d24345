"""Faults give `error` results naming the source and the reason, within the source's timeout, without the password."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from bacula_helpers import bs, fake_bconsole, need_bacula, run_cli_process, write_config
from policycheck_bacula import client
from stall_proxy import StallProxy

from policycheck.api import CollectorError
from policycheck.kit import proc
from policycheck.testing import assert_no_secret

SECRET = "Fault-Secret-4d1e"
BOOT_POLICIES = ("BOOT-001", "BOOT-002", "VIRT-001")


def check_errors(tmp_path: Path, source: dict, timeout: float, secret: str = SECRET, timed: bool = True) -> dict:
    """Run `policycheck check` with one bacula source; assert it errors (in time, unless ``timed`` is false);
    return the source's error."""
    cfg = write_config(tmp_path / "policycheck.yaml", dict(source, timeout=timeout, password="${BACULA_PW}"))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    r = run_cli_process(["check", "-c", str(cfg), "--format", "json"], {"BACULA_PW": secret, "TMPDIR": str(tmpdir)},
                timeout=timeout + 60)
    assert r["rc"] == 3, (r["rc"], r["stdout"][-1500:], r["stderr"][-1500:])
    if timed:
        assert r["seconds"] < timeout + 6, f"took {r['seconds']:.1f} s for a {timeout} s budget"
    src = next(s for s in r["json"]["sources"] if s["name"] == "bacula")
    assert src["status"] == "error"
    errors = [x for x in r["json"]["results"] if x["status"] == "error"]
    assert {x["policy_id"] for x in errors} >= set(BOOT_POLICIES)
    for x in errors:
        assert "bacula" in x["message"]
    # a source that failed is reported under its configured name (the director's Name is not known then)
    assert {x["target_id"] for x in errors} == {"bacula"}
    assert_no_secret(secret, r["stdout"], r["stderr"])
    assert list(tmpdir.iterdir()) == [], "the private bconsole.conf was left behind"
    return {"error": src["error"], "run": r}


@pytest.mark.integration
def test_director_down(tmp_path):
    need_bacula()
    port = bs.free_port()
    # bconsole would retry a refused connection for 15 s: the session stops at its first "Unable to connect
    # ... ERR=Connection refused" line, so a source timeout far beyond that still ends in the refusal, never
    # in a timeout (no clock is read: what the error says proves where the session ended)
    e = check_errors(tmp_path, {"address": "127.0.0.1", "port": port}, timeout=60, timed=False)
    assert "cannot connect" in e["error"] and "Connection refused" in e["error"], e["error"]
    assert "timeout" not in e["error"], e["error"]
    assert f"127.0.0.1:{port}" in e["error"]


@pytest.mark.integration
def test_refused_session_stops_at_the_first_refusal(monkeypatch):
    """The real bconsole against a closed port: its session is ended by proc.run's stop= on the first refusal
    line (one connection attempt seen), not by bconsole giving up after its retries or by the deadline."""
    need_bacula()
    seen: list[proc.Completed] = []
    real_run = proc.run

    def spy(*args, **kwargs):
        done = real_run(*args, **kwargs)
        seen.append(done)
        return done

    monkeypatch.setattr(client.proc, "run", spy)
    port = bs.free_port()
    session = client.Session({"address": "127.0.0.1", "port": port, "password": SECRET}, "test",
                             endpoint=f"127.0.0.1:{port}")
    with pytest.raises(CollectorError) as err:
        session.run(["version"], 60)
    assert "cannot connect (Connection refused)" in str(err.value) and "timeout" not in str(err.value)
    assert len(seen) == 1 and seen[0].stopped, seen
    # one connection attempt: bconsole retries every 5 s, each attempt one "Could not connect" line
    assert seen[0].stdout.count("Could not connect to server Director daemon") == 1, seen[0].stdout
    assert SECRET not in str(err.value)


@pytest.mark.integration
def test_wrong_console_password(bacula_stack, tmp_path):
    stack = bacula_stack
    e = check_errors(tmp_path, {"address": "127.0.0.1", "port": stack.dir_port, "console_name": "audit"},
                     timeout=20)
    assert "authorization failed" in e["error"]


@pytest.mark.integration
def test_director_stops_answering_mid_session(bacula_stack, tmp_path):
    stack = bacula_stack
    proxy = StallProxy(stack.dir_port, commands=2)
    try:
        e = check_errors(tmp_path, {"address": "127.0.0.1", "port": proxy.port, "console_name": "audit"},
                         timeout=4, secret=bs.AUDIT_PW)
    finally:
        proxy.close()
    assert proxy.stalled.is_set()
    assert "timeout" in e["error"] and "mid-session" in e["error"], e["error"]


GARBAGE = r'''
import sys, time
print("Connecting to Director 127.0.0.1:9101", flush=True)
print("1000 OK: 103 fake-dir Version: 9.6.7 (10 December 2020)")
print("Enter a period to cancel a command.")
for line in sys.stdin:
    cmd = line.strip()
    print(cmd)
    if cmd == "show storage":
        print("\x00\x01 <html>502 Bad Gateway</html> ####")
    elif cmd == "version":
        print("fake-dir Version: 9.6.7 (10 December 2020)")
    elif cmd == "time":
        print(time.strftime("%a %d-%b-%Y %H:%M:%S"))  # the director's clock is now (also under faketime)
'''

TRUNCATED = r'''
import sys
print("Connecting to Director 127.0.0.1:9101", flush=True)
print("1000 OK: 103 fake-dir Version: 9.6.7 (10 December 2020)")
for line in sys.stdin:
    cmd = line.strip()
    print(cmd)
    if cmd == "show storage":
        print("Storage: name=Local1 address=localhost SDport=9103 MaxJobs=5 NumJobs=0")
        sys.exit(0)
'''

HANG = r'''
import sys, time
print("Connecting to Director 127.0.0.1:9101", flush=True)
time.sleep(600)
'''

ACL = r'''
import sys
print("1000 OK: 103 fake-dir Version: 9.6.7 (10 December 2020)")
for line in sys.stdin:
    cmd = line.strip()
    print(cmd)
    if cmd.startswith("llist"):
        print(cmd.split()[0] + ": is an invalid command.")
    elif cmd == "version":
        print("fake-dir Version: 9.6.7 (10 December 2020)")
'''


@pytest.mark.parametrize("script,timeout,reason", [
    (GARBAGE, 10, "cannot parse the answer to 'show storage'"),
    (TRUNCATED, 10, "answer truncated"),
    # the session's deadline ends a bconsole that never answers: proc.run(stop=...) waits for it with a timed
    # Event.wait, which libfaketime never lets return (so CI's faketime pass leaves this case out)
    pytest.param(HANG, 3, "timeout", marks=pytest.mark.realtime),
    (ACL, 10, "CommandACL"),
])
def test_bad_answers(tmp_path, script, timeout, reason):
    exe = fake_bconsole(tmp_path / "bconsole", script)
    e = check_errors(tmp_path, {"address": "127.0.0.1", "port": 9101, "bconsole": str(exe)}, timeout=timeout)
    assert reason in e["error"]


def test_bconsole_missing(tmp_path):
    e = check_errors(tmp_path, {"address": "127.0.0.1", "bconsole": str(tmp_path / "no-such-bconsole")}, 10)
    assert "bconsole not found" in e["error"]


def test_password_only_in_a_private_file(tmp_path):
    """bconsole gets the password in a 0600 file in a private directory, never on its command line."""
    report = tmp_path / "seen.txt"
    script = f'''
import os, stat, sys
conf = sys.argv[sys.argv.index("-c") + 1]
st = os.stat(conf)
with open({str(report)!r}, "w") as f:
    f.write("%o %o %d %s" % (stat.S_IMODE(st.st_mode), stat.S_IMODE(os.stat(os.path.dirname(conf)).st_mode),
                             {SECRET!r} in " ".join(sys.argv), {SECRET!r} in open(conf).read()))
print("Director authorization problem.")
sys.exit(1)
'''
    exe = fake_bconsole(tmp_path / "bconsole", script)
    e = check_errors(tmp_path, {"address": "127.0.0.1", "bconsole": str(exe)}, timeout=10)
    assert "authorization failed" in e["error"]
    mode, dir_mode, on_argv, in_file = report.read_text().split()
    assert mode == "600" and dir_mode == "700" and on_argv == "0" and in_file == "True"
    assert not os.path.exists(report.read_text().split()[0])
