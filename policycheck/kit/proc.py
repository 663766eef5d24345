"""Subprocesses for collectors: run a command under a deadline in its own process group, killing
the whole group (children included) when the time is up."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from policycheck.api import CollectorError

__all__ = ["run", "Completed", "ProcTimeout", "CommandNotFound", "kill_group"]

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
    """A finished command: its exit code (negative: killed by that signal) and decoded output;
    ``stopped``: ended early because ``run(stop=...)`` saw the line it was waiting for."""

    returncode: int
    stdout: str
    stderr: str
    stopped: bool = False


def _secs(n: float) -> str:
    return f"{n:.0f}" if n >= 1 else f"{n:.1f}"


def run(cmd: Sequence[str], *, input: str | bytes | None = None, deadline: float | None = None,
        timeout: float | None = None, env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
        what: str | None = None, grace: float = GRACE, merge_stderr: bool = False,
        stop: Callable[[str], bool] | None = None) -> Completed:
    """Run ``cmd`` (no shell) in its own session and process group and return its outcome.

    ``deadline`` is a ``time.monotonic()`` value, ``timeout`` seconds from now; the earlier wins.
    When it passes, the whole group gets SIGTERM, then SIGKILL after ``grace`` seconds, and
    :class:`ProcTimeout` (a ``CollectorError``) is raised. A missing executable raises
    :class:`CommandNotFound`. A non-zero exit is *not* an error: check ``returncode``.
    Output is decoded as UTF-8 (undecodable bytes replaced).

    ``merge_stderr`` sends stderr into stdout (one interleaved stream, ``stderr`` is ""). ``stop``
    is called with each stdout line (without its line end) as it arrives; when it returns true the
    group is ended at once and the result has ``stopped=True`` (e.g. bconsole's "Unable to connect"
    line, after which it would retry until the deadline)."""
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
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                                env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True)
    except FileNotFoundError:
        raise CommandNotFound(f"{label}: command not found: {argv[0]}", label, argv[0]) from None
    except PermissionError:
        raise CommandNotFound(f"{label}: command not executable: {argv[0]}", label, argv[0]) from None
    except OSError as exc:
        raise CollectorError(f"{label}: cannot start {argv[0]}: {exc.strerror}") from None
    if stop is not None:
        return _run_watched(proc, data, budget, stop, label, grace)
    try:
        out, err = proc.communicate(input=data, timeout=budget)
    except subprocess.TimeoutExpired:
        out, err = kill_group(proc, grace)
        raise ProcTimeout(f"{label} did not answer within {_secs(budget or 0.0)}s (timeout)", label,
                          budget or 0.0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")) from None
    except BaseException:  # KeyboardInterrupt, a thread's exit: never leave the group running
        kill_group(proc, 0.0)
        raise
    return Completed(proc.returncode, out.decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace"))


def _run_watched(proc: subprocess.Popen[bytes], data: bytes | None, budget: float | None,
                 stop: Callable[[str], bool], label: str, grace: float) -> Completed:
    """``run`` with ``stop``: reader threads hand each stdout line to ``stop`` as it arrives.

    The caller sleeps on one event that every change sets (a line matched, a pipe closed, the
    process ended), with a timed wait only for the deadline itself: progress never depends on a
    polling interval (libfaketime, which CI runs the unit tests under, does not honour those)."""
    out: list[bytes] = []
    err: list[bytes] = []
    hit = threading.Event()
    wake = threading.Event()
    failed: list[BaseException] = []

    def read(pipe: IO[bytes], sink: list[bytes], watch: bool) -> None:
        try:
            for raw in iter(pipe.readline, b""):
                sink.append(raw)
                if watch and not hit.is_set():
                    try:
                        if stop(raw.decode("utf-8", "replace").rstrip("\r\n")):
                            hit.set()
                    except BaseException as exc:  # re-raised by run() once the group is ended
                        failed.append(exc)
                        hit.set()
                    if hit.is_set():
                        wake.set()
        except (OSError, ValueError):  # the pipe was closed under us while ending the group
            pass
        finally:
            wake.set()

    def write() -> None:
        assert proc.stdin is not None
        with contextlib.suppress(OSError):  # it exited already: its output says why
            if data:
                proc.stdin.write(data)
            proc.stdin.close()

    def reap() -> None:
        with contextlib.suppress(OSError):
            proc.wait()
        wake.set()

    assert proc.stdout is not None
    readers = [threading.Thread(target=read, args=(proc.stdout, out, True), daemon=True)]
    if proc.stderr is not None:
        readers.append(threading.Thread(target=read, args=(proc.stderr, err, False), daemon=True))
    helpers = [threading.Thread(target=reap, daemon=True)]
    if proc.stdin is not None:
        helpers.append(threading.Thread(target=write, daemon=True))
    for t in readers + helpers:
        t.start()
    end = None if budget is None else time.monotonic() + budget
    timed_out = False
    try:
        while not hit.is_set():
            if not any(t.is_alive() for t in readers) and proc.returncode is not None:
                break
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                timed_out = True
                break
            wake.wait(left)
            wake.clear()
    except BaseException:
        _end_group(proc, 0.0)
        raise
    if timed_out or hit.is_set():
        _end_group(proc, grace)
    for t in readers + helpers:
        t.join(5)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    text, etext = b"".join(out).decode("utf-8", "replace"), b"".join(err).decode("utf-8", "replace")
    if failed:
        raise failed[0]
    if timed_out:
        raise ProcTimeout(f"{label} did not answer within {_secs(budget or 0.0)}s (timeout)", label,
                          budget or 0.0, text, etext)
    return Completed(proc.returncode, text, etext, stopped=hit.is_set())


def kill_group(proc: subprocess.Popen[bytes], grace: float = GRACE) -> tuple[bytes, bytes]:
    """End ``proc``'s whole process group: SIGTERM, then SIGKILL once ``grace`` seconds have passed
    with any member left; then reap ``proc``, close its pipes and return what it printed (stdout,
    stderr; everything since the start when ``communicate`` was used before)."""
    _end_group(proc, grace)
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


def _end_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the group, SIGKILL once ``grace`` seconds have passed with any member left."""
    pgid = proc.pid  # start_new_session: the leader's pid is the group's id
    _signal_group(pgid, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        proc.poll()  # reap the leader so it no longer counts as a member
        if not _group_alive(pgid):
            break
        time.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)


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
