"""The console script's end (cli.entry): the run's objects are not freed one by one, yet every byte of
output arrives, the exit handlers run and the exit code is the run's."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "datazone" / "policycheck.yaml"

RUN = """
import atexit, gc, sys
from pathlib import Path
atexit.register(lambda: Path(sys.argv[1]).write_text(f"exit handlers ran; frozen {gc.get_freeze_count()}"))
from policycheck.cli import entry
entry(sys.argv[2:])
"""


def _run(tmp_path: Path, *args: str, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess:
    marker = tmp_path / "marker"
    p = subprocess.run([sys.executable, "-c", RUN, str(marker), *args], stdout=stdout, stderr=subprocess.PIPE,
                       text=True, timeout=120)
    assert marker.read_text().startswith("exit handlers ran; frozen ")
    return p


def test_a_checks_output_arrives_whole_with_its_exit_code(tmp_path):
    out = tmp_path / "r.json"
    p = _run(tmp_path, "check", "-c", str(EXAMPLE), "--as-of", "2026-06-02T00:00:00Z", "--json", str(out),
             "--no-color")
    assert p.returncode == 1, p.stderr  # the example datazone has failures
    doc = json.loads(out.read_text())
    assert doc["summary"]["fail"] > 0 and len(doc["results"]) == doc["summary"]["total"]
    # the run's objects were frozen out of the GC's sight when it resumed (they live until the exit)
    assert int((tmp_path / "marker").read_text().rpartition(" ")[2]) > 1000
    # stdout is flushed before the hard exit: the brief report's last line, the summary, is there
    assert p.stdout.rstrip().splitlines()[-1] == (
        f"{doc['summary']['pass']} passed, {doc['summary']['fail']} failed, {doc['summary']['error']} errors, "
        f"{doc['summary']['skip']} skipped, {doc['summary']['waived']} waived ({doc['summary']['total']} results)")


def test_usage_errors_and_version_keep_their_exit_codes(tmp_path):
    assert _run(tmp_path, "--version").returncode == 0
    p = _run(tmp_path, "check", "--no-such-option")
    assert p.returncode == 2 and "unrecognized arguments" in p.stderr and "Traceback" not in p.stderr


def test_a_reader_that_goes_away_is_no_error(tmp_path):
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", RUN, str(marker), "audit", "-c", str(EXAMPLE), "--as-of",
                             "2026-06-02T00:00:00Z", "--no-color", "-v"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # like `| head -c 10`
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err
    assert marker.read_text().startswith("exit handlers ran")


def test_under_a_profiler_the_interpreter_exits_normally_so_the_profile_is_written(tmp_path):
    prof = tmp_path / "p.prof"
    p = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "policycheck", "--version"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert prof.stat().st_size > 0


def test_gc_paused_freezes_what_it_made_only_when_the_process_ends_after(monkeypatch):
    import gc

    from policycheck import facts

    assert gc.isenabled()
    before = gc.get_freeze_count()
    with facts.gc_paused():
        kept = [{"n": i} for i in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == before  # a library caller's objects stay collectable
    monkeypatch.setattr(facts, "FREEZE_AFTER_PAUSE", True)
    try:
        with facts.gc_paused():
            kept += [{"n": i} for i in range(1000)]
        assert gc.isenabled() and gc.get_freeze_count() >= before + 1000
    finally:
        gc.unfreeze()
    assert len(kept) == 2000


def test_standard_output_that_cannot_be_written_is_an_error_not_a_silent_loss(tmp_path):
    import os

    import pytest

    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    for args in (["--version"], ["audit", "-c", str(EXAMPLE), "--as-of", "2026-06-02T00:00:00Z"]):
        with open("/dev/full", "w") as full:
            p = _run(tmp_path, *args, stdout=full.fileno())
        assert p.returncode == 2, args  # as for -o FILE that cannot be written, never the gate's verdict
        assert "policycheck: error: cannot write to standard output: No space left on device" in p.stderr
        assert "Traceback" not in p.stderr
