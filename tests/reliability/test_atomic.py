"""Issue 16 item 8: a report is replaced, never destroyed. The writer is killed mid-write (after its
temporary file exists, before the rename) and the previous report is intact and usable as --baseline;
every output path is checked before the first is written; two outputs on one path are refused."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from relhelpers import ROOT, run_main

EXAMPLE = ROOT / "examples" / "datazone" / "policycheck.yaml"

WRITER = r"""
import os, sys
from policycheck import cli
mode, path = sys.argv[1], sys.argv[2]
if mode == "fsync":            # stop between writing the data and the rename
    os.fsync = lambda fd: os.kill(os.getpid(), 19)  # SIGSTOP: the parent then kills it
    cli._write(path, '{"schema_version": 1, "results": []}' * 1000)
else:                          # killed with half of the data written
    real = os.fdopen
    class Half:
        def __init__(self, f): self.f = f
        def __enter__(self): return self
        def __exit__(self, *a): self.f.close()
        def write(self, data):
            self.f.write(data[: len(data) // 2]); self.f.flush(); os.kill(os.getpid(), 19)
        def __getattr__(self, n): return getattr(self.f, n)
    os.fdopen = lambda fd, mode: Half(real(fd, mode))
    cli._write(path, "x" * (8 << 20))
"""


def _previous_report(tmp_path):
    out = tmp_path / "report.json"
    rc, _, err = run_main(["check", "-c", EXAMPLE, "--json", out])
    assert rc == 1, err
    return out, out.read_bytes()


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] == "T"
    except OSError:
        return False


@pytest.mark.parametrize("mode", ["fsync", "data"])
def test_killed_writer_leaves_the_previous_report_intact(tmp_path, mode):
    out, before = _previous_report(tmp_path)
    p = subprocess.Popen([sys.executable, "-c", WRITER, mode, str(out)], cwd=ROOT)
    try:
        for _ in range(3000):  # until the writer stopped itself mid-write (SIGSTOP), or ended
            if _stopped(p.pid) or p.poll() is not None:
                break
            time.sleep(0.01)
        assert p.poll() is None, "the writer must still be mid-write when it is killed"
        tmp = [f for f in tmp_path.iterdir() if f.name.startswith(".report.json.")]
        assert tmp and tmp[0].stat().st_size > 0, "it was writing its temporary file"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert out.read_bytes() == before, "the previous report was damaged"
    rc, _, err = run_main(["check", "-c", EXAMPLE, "--baseline", out])
    assert rc in (0, 1), err


def test_a_completed_write_replaces_the_file_and_keeps_its_mode(tmp_path):
    from policycheck.cli import _write

    p = tmp_path / "r.txt"
    p.write_text("old")
    os.chmod(p, 0o640)
    _write(p, "new")
    assert p.read_text() == "new" and (p.stat().st_mode & 0o777) == 0o640
    assert [f.name for f in tmp_path.iterdir()] == ["r.txt"], "no temporary file left"


def test_every_output_path_is_checked_before_the_first_is_written(tmp_path):
    js = tmp_path / "r.json"
    rc, _, err = run_main(["check", "-c", EXAMPLE, "--json", js, "--junit", tmp_path])
    assert rc == 2 and "--junit" in err and "is a directory" in err
    assert not js.exists(), "exit 2 means nothing was produced"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, err = run_main(["check", "-c", EXAMPLE, "--json", js, "--markdown", blocker / "sub" / "r.md"])
    assert rc == 2 and "not a directory" in err and not js.exists()


@pytest.mark.parametrize("a,b", [("--json", "-o"), ("--junit", "--markdown"), ("--json", "--junit")])
def test_two_outputs_on_one_path_are_refused(tmp_path, a, b):
    x = tmp_path / "x"
    rc, _, err = run_main(["check", "-c", EXAMPLE, a, x, b, tmp_path / "." / "x"])
    assert rc == 2 and "same file" in err and not x.exists()


def test_collect_output_path_checked_before_collecting(tmp_path):
    rc, _, err = run_main(["collect", "-c", EXAMPLE, "-o", tmp_path])
    assert rc == 2 and "is a directory" in err
