"""Issue 16 item 4: the deadline is the deadline. A collector that leaves a stuck non-daemon thread and a
subprocess behind does not keep the process alive: the report is written, the process exits, the
subprocess is gone."""
from __future__ import annotations

import json
import os
import time

import pytest
from relhelpers import run_cli, write_config


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.realtime
def test_stuck_collector_thread_and_subprocess_do_not_outlive_the_run(tmp_path):
    pidfile = tmp_path / "child.pid"
    cfg = write_config(tmp_path, "http://127.0.0.1:9", timeout=1, hang=True, pidfile=str(pidfile))
    out = tmp_path / "r.json"
    # the subprocess timeout is a safety net for a hang (the bug), not a measurement
    rc, _, err = run_cli("check", "-c", cfg, "--json", out, timeout=60)
    assert rc == 3, err
    assert json.loads(out.read_text())["sources"][0]["status"] == "error"
    assert "timed out" in json.loads(out.read_text())["sources"][0]["error"]
    pid = int(pidfile.read_text())
    for _ in range(100):  # SIGKILL delivery is asynchronous
        if _gone(pid):
            break
        time.sleep(0.02)
    assert _gone(pid), "the collector's subprocess outlived the run"
    if not _gone(pid):  # pragma: no cover - never leave it behind
        os.kill(pid, 9)


def test_retry_after_3600_ends_the_source_at_its_timeout(tmp_path, upstream):
    """Retry-After: 3600 on every answer: the source fails with the 429 (no hour of sleeping)."""
    from policycheck.testing import FaultProxy, faults

    with FaultProxy(upstream.url) as proxy:
        proxy.inject("/api/*", faults.retry_after(3600))
        cfg = write_config(tmp_path, proxy.url, timeout=10)
        rc, _, err = run_cli("check", "-c", cfg, timeout=60)
    assert rc == 3 and "HTTP 429" in err + _ and "retry after 3600s" in err + _
