"""Independent jobs (a run's report files) side by side: each but the first in a forked child process,
its failure raised in the parent as if it had run there."""
from __future__ import annotations

import contextlib
import os
import pickle
import threading
from collections.abc import Callable, Sequence

#: fewer results than this and every job runs here, one after the other: a fork is not worth it
MIN_RESULTS = 20_000


def can_fork() -> bool:
    """POSIX, and no other thread alive (a child must not inherit a lock another thread holds)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def run(jobs: Sequence[Callable[[], None]], side_by_side: bool) -> None:
    """Run every job. With ``side_by_side`` (and :func:`can_fork`), ``jobs[1:]`` each run in a forked child
    (the facts and results are shared copy-on-write, nothing is pickled but a failure) while ``jobs[0]``
    runs here; then every child is waited for. The first failure is raised: this process's own, else the
    first child's, with its class and message (an exception that cannot be pickled becomes a RuntimeError
    naming it)."""
    if not side_by_side or len(jobs) < 2 or not can_fork():
        for job in jobs:
            job()
        return
    children = [_fork(job) for job in jobs[1:]]
    try:
        jobs[0]()
    finally:
        failures = [_wait(pid, fd) for pid, fd in children]
    for exc in failures:
        if exc is not None:
            raise exc


def _fork(job: Callable[[], None]) -> tuple[int, int]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run the job, hand back its failure, and never return into the caller
        status = 1
        try:
            os.close(r)
            try:
                job()
                status = 0
            except BaseException as exc:  # every failure goes back to the parent
                try:
                    data = pickle.dumps(exc)
                except Exception:
                    data = pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
                with contextlib.suppress(OSError):
                    view = memoryview(data)
                    while view:
                        view = view[os.write(w, view):]
        finally:
            os._exit(status)  # no clean-up of the parent's state: buffers, exit handlers, temporary files
    os.close(w)
    return pid, r


def _wait(pid: int, fd: int) -> BaseException | None:
    """The child's failure (None when it succeeded), once it has ended."""
    chunks = []
    with os.fdopen(fd, "rb") as fh:
        while True:
            b = fh.read(65536)
            if not b:
                break
            chunks.append(b)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if chunks:
        try:
            exc = pickle.loads(b"".join(chunks))
        except Exception as err:
            return RuntimeError(f"a report writer failed and its error could not be read: {err}")
        return exc if isinstance(exc, BaseException) else RuntimeError(repr(exc))
    if code != 0:
        return RuntimeError(f"a report writer process ended with {'signal ' + str(-code) if code < 0 else code}")
    return None
