"""policycheck.kit.proc: commands run in their own process group, killed with it at the deadline."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from policycheck.api import CollectorError
from policycheck.kit.proc import CommandNotFound, Completed, ProcTimeout, run


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat.rsplit(b")", 1)[-1].split()[0] != b"Z"


def _ends(pid: int) -> bool:
    """Whether ``pid`` is gone within about 5 s (a killed process is reaped asynchronously)."""
    for _ in range(500):
        if not _alive(pid):
            return True
        time.sleep(0.01)
    return not _alive(pid)


def test_output_exit_code_and_input_are_returned():
    r = run([sys.executable, "-c", "import sys; d = sys.stdin.read(); print(d.upper()); "
             "print('warn', file=sys.stderr); sys.exit(3)"], input="héllo", timeout=60)
    assert r == Completed(3, "HÉLLO\n", "warn\n")


def test_bytes_input_env_and_cwd(tmp_path):
    r = run([sys.executable, "-c", "import os, sys; print(os.environ['KIT_X'], os.getcwd(), sys.stdin.read())"],
            input=b"raw", env={**os.environ, "KIT_X": "set"}, cwd=tmp_path, timeout=60)
    assert r.returncode == 0 and r.stdout.split() == ["set", str(tmp_path), "raw"]


def test_a_missing_executable_is_named():
    with pytest.raises(CommandNotFound) as exc:
        run(["/nonexistent/bconsole", "-n"], what="bconsole", timeout=5)
    assert str(exc.value) == "bconsole: command not found: /nonexistent/bconsole"
    assert isinstance(exc.value, CollectorError)


def test_a_deadline_already_past_starts_nothing(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ProcTimeout, match="did not answer within 0s"):
        run([sys.executable, "-c", f"open({str(marker)!r}, 'w')"], deadline=time.monotonic() - 1)
    assert not marker.exists()


STUBBORN = r"""
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)   # inherited by the child
child = os.fork()
if child == 0:
    while True:
        time.sleep(0.1)
with open(sys.argv[1] + ".tmp", "w") as fh:
    fh.write(f"{os.getpid()} {child}")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(0.1)
"""


@pytest.mark.realtime
def test_a_process_ignoring_sigterm_is_killed_with_its_child_at_the_deadline(tmp_path):
    pids = tmp_path / "pids"
    with pytest.raises(ProcTimeout) as exc:
        run([sys.executable, "-c", STUBBORN, str(pids)], timeout=3, what="stubborn", grace=0.2)
    assert str(exc.value) == "stubborn did not answer within 3s (timeout)"
    assert exc.value.what == "stubborn" and exc.value.seconds == 3
    leader, child = map(int, pids.read_text().split())
    # SIGKILL went to the whole group: wait (bounded) for the kernel to finish the child
    for _ in range(500):
        if not _alive(child):
            break
        time.sleep(0.01)
    assert not _alive(leader)
    assert not _alive(child)


@pytest.mark.realtime
def test_a_child_holding_the_output_pipe_does_not_outlive_the_deadline(tmp_path):
    """The leader exits at once, its background child keeps stdout open: the run ends at the
    deadline (not when the child ends) and the child is killed."""
    pidfile = tmp_path / "child"
    script = (f"import os, time\nif os.fork() == 0:\n    open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
              "    time.sleep(600)\n")
    with pytest.raises(ProcTimeout):
        run([sys.executable, "-c", script], deadline=time.monotonic() + 3, grace=0.2)
    assert _ends(int(pidfile.read_text()))


@pytest.mark.realtime
def test_what_a_command_printed_before_its_deadline_comes_with_the_timeout():
    script = "import sys, time\nprint('1000 OK: dir Version: 13', flush=True)\nprint('connecting', file=sys.stderr, flush=True)\ntime.sleep(600)\n"
    with pytest.raises(ProcTimeout) as exc:
        run([sys.executable, "-c", script], input="status dir\n", timeout=3, what="bconsole", grace=0.2)
    assert exc.value.stdout == "1000 OK: dir Version: 13\n" and exc.value.stderr == "connecting\n"
    assert "did not answer within 3s (timeout)" in str(exc.value)


def test_merge_stderr_interleaves_both_streams():
    r = run([sys.executable, "-c", "import sys; print('a', flush=True); print('b', file=sys.stderr, flush=True); "
             "print('c', flush=True)"], merge_stderr=True, timeout=60)
    assert r.stdout == "a\nb\nc\n" and r.stderr == ""


def test_stop_ends_the_group_at_the_line_it_waits_for(tmp_path):
    """bconsole retries a refused connection until its deadline: the line that says so ends it now."""
    pidfile = tmp_path / "child"
    script = ("import os, sys, time\n"
              "if os.fork() == 0:\n"
              f"    open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
              "    time.sleep(600)\n"
              "while not os.path.exists(" + repr(str(pidfile)) + "):\n    time.sleep(0.01)\n"
              "print('Connecting to Director 127.0.0.1:9101', flush=True)\n"
              "print('bconsole: bsock.c:223 Unable to connect to Director daemon on 127.0.0.1:9101. "
              "ERR=Connection refused', file=sys.stderr, flush=True)\n"
              "time.sleep(600)\n")
    seen = []

    def refused(line):
        seen.append(line)
        return "Unable to connect to Director" in line

    r = run([sys.executable, "-c", script], input="status dir\nquit\n", timeout=600, merge_stderr=True,
            stop=refused, grace=0.2)
    assert r.stopped and r.returncode < 0
    assert r.stdout.splitlines() == seen == [
        "Connecting to Director 127.0.0.1:9101",
        "bconsole: bsock.c:223 Unable to connect to Director daemon on 127.0.0.1:9101. ERR=Connection refused"]
    assert _ends(int(pidfile.read_text()))


def test_stop_that_never_fires_returns_the_whole_output():
    r = run([sys.executable, "-c", "import sys; print(sys.stdin.read().upper(), end='')"], input="a\nb\n",
            stop=lambda line: False, timeout=60)
    assert r == Completed(0, "A\nB\n", "", stopped=False)


def test_an_exception_in_stop_ends_the_group_and_is_raised():
    def boom(line):
        raise ValueError(f"cannot parse {line!r}")

    with pytest.raises(ValueError, match="cannot parse 'x'"):
        run([sys.executable, "-c", "import time; print('x', flush=True); time.sleep(600)"], stop=boom,
            timeout=600, grace=0.2)


@pytest.mark.realtime
def test_a_watched_command_past_its_deadline_times_out_with_its_output():
    with pytest.raises(ProcTimeout) as exc:
        run([sys.executable, "-c", "import time; print('banner', flush=True); time.sleep(600)"],
            stop=lambda line: False, timeout=2, what="bconsole", grace=0.2)
    assert str(exc.value) == "bconsole did not answer within 2s (timeout)" and exc.value.stdout == "banner\n"
