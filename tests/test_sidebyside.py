"""Report files written side by side in forked children (policycheck/sidebyside.py): the same bytes as one
after the other, and a child's failure is the run's failure."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from policycheck import sidebyside
from policycheck.errors import ExitCode, UsageError
from policycheck.testing import run_cli

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="side by side needs fork (POSIX)")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "datazone" / "policycheck.yaml"


def _reports(tmp: Path, snap: Path, monkeypatch: pytest.MonkeyPatch,
             min_results: int) -> tuple[int, dict[str, bytes], str]:
    monkeypatch.setattr(sidebyside, "MIN_RESULTS", min_results)
    out = {name: tmp / name for name in ("r.json", "r.xml", "r.md", "r.sarif")}
    r = run_cli(["check", "--facts", snap, "--as-of", "2026-06-02T00:00:00Z", "--json", out["r.json"],
                 "--junit", out["r.xml"], "--markdown", out["r.md"], "--sarif", out["r.sarif"]])
    texts = {}
    for name, p in out.items():
        data = p.read_bytes()
        # the generation time is the only thing two runs may differ in
        for key in (b'"generated_at": "', b'timestamp="'):
            while key in data:
                i = data.index(key) + len(key)
                j = data.index(b'"', i)
                data = data[:i - 1] + b"=X" + data[j + 1:]
        texts[name] = data
    return r.code, texts, r.stdout


def test_files_written_side_by_side_are_the_same_as_one_after_the_other(tmp_path, monkeypatch):
    forks = []
    real_fork = os.fork

    def counting_fork():
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counting_fork)
    # another test's server thread may still be winding down in this process; the run here has none
    monkeypatch.setattr(sidebyside, "can_fork", lambda: True)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    snap = tmp_path / "facts.json"
    assert run_cli(["collect", "-c", EXAMPLE, "-o", snap]).code == 0
    code_a, seq, out_a = _reports(tmp_path / "a", snap, monkeypatch, min_results=10 ** 9)
    assert forks == []  # a small run writes its files here, one after the other
    code_b, par, out_b = _reports(tmp_path / "b", snap, monkeypatch, min_results=0)
    assert len(forks) == 3  # --junit, --markdown and --sarif each in a child; --json here
    assert (code_a, out_a) == (code_b, out_b)
    assert code_a == ExitCode.FINDINGS
    assert seq.keys() == par.keys()
    for name in seq:
        assert seq[name] == par[name], name
        assert len(seq[name]) > 500


def test_a_failing_child_fails_the_run_with_its_own_error(tmp_path):
    done = tmp_path / "done"

    def ok() -> None:
        done.write_text("written")

    def bad() -> None:
        raise UsageError("cannot write /nowhere/r.xml: Permission denied")

    with pytest.raises(UsageError, match="cannot write /nowhere/r.xml: Permission denied"):
        sidebyside.run([ok, bad], side_by_side=True)
    assert done.read_text() == "written"  # this process's own job ran to its end


def test_this_processs_failure_comes_first_and_every_child_is_waited_for(tmp_path):
    marker = tmp_path / "child"

    def bad_here() -> None:
        raise UsageError("here")

    def child() -> None:
        marker.write_text("child ran")

    with pytest.raises(UsageError, match="^here$"):
        sidebyside.run([bad_here, child], side_by_side=True)
    assert marker.read_text() == "child ran"  # waited for: it finished before run() returned
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left behind, not even a zombie


def test_a_child_killed_by_a_signal_is_an_error_not_a_success():
    def killed() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(RuntimeError, match="signal 9"):
        sidebyside.run([lambda: None, killed], side_by_side=True)


def test_an_unpicklable_error_comes_back_by_name():
    class Odd(Exception):
        def __reduce__(self):
            raise TypeError("no")

    def odd() -> None:
        raise Odd("strange failure")

    with pytest.raises(RuntimeError, match="Odd: strange failure"):
        sidebyside.run([lambda: None, odd], side_by_side=True)


def test_without_side_by_side_every_job_runs_here_in_order():
    seen = []
    sidebyside.run([lambda: seen.append(1), lambda: seen.append(2)], side_by_side=False)
    assert seen == [1, 2]


def test_no_fork_while_another_thread_is_alive(tmp_path):
    import threading

    release = threading.Event()
    t = threading.Thread(target=release.wait)
    t.start()
    try:
        assert not sidebyside.can_fork()
        pids = []
        sidebyside.run([lambda: pids.append(os.getpid()), lambda: pids.append(os.getpid())], side_by_side=True)
        assert pids == [os.getpid()] * 2  # both here, one after the other
    finally:
        release.set()
        t.join()
