"""Subprocesses for collectors: run a command under a deadline in its own process group, killing
the whole group (children included) when the time is up."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from policycheck.api import CollectorError

#: seconds between SIGTERM to the process group and SIGKILL
GRACE = 1.0


class ProcTimeout(CollectorError):
    """The command did not finish within its deadline/timeout; its process group was killed.
    ``stdout``/``stderr`` hold what it printed until then (not redacted: redact before showing)."""

    def __init__(self, message: str, what: str, seconds: float, stdout: str = "", stderr: str = "") -> None:
        super().__init__(message)
        self.what = what
        self.seconds = seconds
        self.stdout = stdout
        self.stderr = stderr


class CommandNotFound(CollectorError):
    """The executable does not exist (or cannot be executed)."""

    def __init__(self, message: str, what: str, command: str) -> None:
        super().__init__(message)
        self.what = what
        self.command = command


@dataclass(frozen=True)
class Completed:
    """A finished command: its exit code (negative: killed by that signal) and decoded output."""

    returncode: int
    stdout: str
    stderr: str


def _secs(n: float) -> str:
    return f"{n:.0f}" if n >= 1 else f"{n:.1f}"


def run(cmd: Sequence[str], *, input: str | bytes | None = None, deadline: float | None = None,
        timeout: float | None = None, env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
        what: str | None = None, grace: float = GRACE) -> Completed:
    """Run ``cmd`` (no shell) in its own session and process group and return its outcome.

    ``deadline`` is a ``time.monotonic()`` value, ``timeout`` seconds from now; the earlier wins.
    When it passes, the whole group gets SIGTERM, then SIGKILL after ``grace`` seconds, and
    :class:`ProcTimeout` (a ``CollectorError``) is raised. A missing executable raises
    :class:`CommandNotFound`. A non-zero exit is *not* an error: check ``returncode``.
    Output is decoded as UTF-8 (undecodable bytes replaced)."""
    argv = [str(c) for c in cmd]
    if not argv:
        raise ValueError("run() needs a command")
    label = what or argv[0]
    budget = timeout
    if deadline is not None:
        left = deadline - time.monotonic()
        budget = left if budget is None else min(budget, left)
    if budget is not None and budget <= 0:
        raise ProcTimeout(f"{label} did not answer within 0s (timeout): no time left to start it", label, 0.0)
    data = input.encode("utf-8") if isinstance(input, str) else input
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True)
    except FileNotFoundError:
        raise CommandNotFound(f"{label}: command not found: {argv[0]}", label, argv[0]) from None
    except PermissionError:
        raise CommandNotFound(f"{label}: command not executable: {argv[0]}", label, argv[0]) from None
    except OSError as exc:
        raise CollectorError(f"{label}: cannot start {argv[0]}: {exc.strerror}") from None
    try:
        out, err = proc.communicate(input=data, timeout=budget)
    except subprocess.TimeoutExpired:
        out, err = kill_group(proc, grace)
        raise ProcTimeout(f"{label} did not answer within {_secs(budget or 0.0)}s (timeout)", label,
                          budget or 0.0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")) from None
    except BaseException:  # KeyboardInterrupt, a thread's exit: never leave the group running
        kill_group(proc, 0.0)
        raise
    return Completed(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def kill_group(proc: subprocess.Popen[bytes], grace: float = GRACE) -> tuple[bytes, bytes]:
    """End ``proc``'s whole process group: SIGTERM, then SIGKILL once ``grace`` seconds have passed
    with any member left; then reap ``proc``, close its pipes and return what it printed (stdout,
    stderr; everything since the start when ``communicate`` was used before)."""
    pgid = proc.pid  # start_new_session: the leader's pid is the group's id
    _signal_group(pgid, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        proc.poll()  # reap the leader so it no longer counts as a member
        if not _group_alive(pgid):
            break
        time.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)
    out: bytes | None = None
    err: bytes | None = None
    try:
        out, err = proc.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        proc.kill()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored
        proc.wait(timeout=5)
    return out or b"", err or b""


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True
