"""Transport: one bconsole session (a private 0600 config, commands on stdin, a hard deadline, errors named)."""
from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from typing import NoReturn

from policycheck.api import CollectorError
from policycheck.kit import proc

#: bconsole's debug lines (we run it with -d 50 to see connection errors at once).
DEBUG_LINE = re.compile(r"^bconsole: [\w.-]+\.c:\d+-\d+ ")
REFUSED = re.compile(r"Unable to connect to Director daemon on (\S+)\. ERR=(.*)$")
BANNER = re.compile(r"^1000 OK: \S+ (\S+) Version: (\S+)")


#: private config directories of running sessions, removed at exit even if the runtime abandons a collector
#: thread that overran its timeout (the bconsole process itself is killed by policycheck.kit.proc at the
#: session's deadline, which ends before the runtime's).
_LIVE: set[str] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _cleanup_live() -> None:
    with _LIVE_LOCK:
        items = list(_LIVE)
        _LIVE.clear()
    for tmp in items:
        shutil.rmtree(tmp, ignore_errors=True)


def _quote(value: str) -> str:
    """A Bacula config string literal."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def find_bconsole(path: str | None) -> str:
    """The bconsole executable: the configured path, else PATH, else /usr/sbin or /usr/bin."""
    candidates = [path] if path else ["bconsole", "/usr/sbin/bconsole", "/usr/bin/bconsole"]
    for c in candidates:
        found = shutil.which(c) if os.sep not in c else (c if os.access(c, os.X_OK) else None)
        if found:
            return found
    raise CollectorError(
        f"bconsole not found ({path or 'PATH, /usr/sbin, /usr/bin'}): install the bacula-console package "
        "on the machine running policycheck or set 'bconsole' to its absolute path")


def render_conf(settings: dict) -> str:
    """bconsole.conf text for this source (holds the password: written 0600 only)."""
    director_name = settings.get("director_name") or "policycheck-dir"
    lines = ["Director {", f"  Name = {_quote(director_name)}", f"  DIRport = {int(settings.get('port', 9101))}",
             f"  Address = {_quote(settings['address'])}"]
    if settings.get("console_name"):
        lines += ['  Password = "unused"', "}", "Console {", f"  Name = {_quote(settings['console_name'])}",
                  f"  Password = {_quote(settings['password'])}", "}"]
    else:
        lines += [f"  Password = {_quote(settings['password'])}", "}"]
    return "\n".join(lines) + "\n"


class Session:
    """Run a list of commands in one bconsole session and return each command's output."""

    def __init__(self, settings: dict, where: str, redact: Callable[[str], str] = lambda s: s,
                 endpoint: str | None = None) -> None:
        self.settings = settings
        self.where = where
        self.endpoint = endpoint or where
        self.timeout_label: str | None = None  # the source's timeout, named in timeout errors
        self.redact = redact
        self.exe = find_bconsole(settings.get("bconsole"))
        self.director: str | None = None  # name from the banner
        self.version: str | None = None

    def _fail(self, what: str) -> NoReturn:
        raise CollectorError(self.redact(f"Bacula director {self.where}: {what}"))

    def run(self, commands: list[str], timeout: float) -> dict[str, str]:
        """Each command's answer, from one bconsole run fed ``commands`` on stdin within ``timeout`` seconds."""
        tmp = tempfile.mkdtemp(prefix="policycheck-bacula-")
        with _LIVE_LOCK:
            _LIVE.add(tmp)
        conf = os.path.join(tmp, "bconsole.conf")
        try:
            fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(render_conf(self.settings))
            lines = self._talk(conf, commands, timeout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            with _LIVE_LOCK:
                _LIVE.discard(tmp)
        return self._split(lines, commands)

    def _talk(self, conf: str, commands: list[str], timeout: float) -> list[str]:
        """One-shot bconsole run (it reads its commands, then `quit`, and exits); its lines without debug output.

        A director that refuses the connection is reported at once: bconsole would retry for 15 s, so the
        session is ended at its first "Unable to connect" line (stderr merged into stdout, watched by
        ``proc.run(stop=...)``), which names the reason."""
        script = "\n".join(commands + ["quit"]) + "\n"
        try:
            done = proc.run([self.exe, "-n", "-d", "50", "-c", conf], input=script, timeout=timeout,
                            what="bconsole", merge_stderr=True, stop=lambda ln: REFUSED.search(ln) is not None)
            output, timed_out, code = done.stdout, False, done.returncode
        except proc.ProcTimeout as e:
            output, timed_out, code = e.stdout + e.stderr, True, None
        except proc.CommandNotFound as e:
            self._fail(f"cannot start {self.exe}: {e}")
        refused = [m.group(2) for m in (REFUSED.search(ln) for ln in output.splitlines()) if m]
        lines = [ln.rstrip("\r") for ln in output.splitlines() if not DEBUG_LINE.match(ln)]
        limit = self.timeout_label or f"{timeout:.1f} s"
        if refused:
            self._fail(f"cannot connect ({refused[0].strip()}): is bacula-dir running and listening on "
                       f"{self.endpoint}? Check 'address' and 'port' and any firewall")
        if any("authorization problem" in ln.lower() for ln in lines):
            self._fail("authorization failed (wrong console password or console name): check 'password' "
                       "and 'console_name' against the director's Console/Director resource")
        banner = next((BANNER.match(ln) for ln in lines if BANNER.match(ln)), None)
        if timed_out:
            if banner is None:
                self._fail(f"no answer within {limit} (timeout): the director did not complete the "
                           "login; check that it is up and not overloaded, or raise the source's 'timeout'")
            last = self._last_echo(lines, commands)
            self._fail(f"stopped answering mid-session: no answer within {limit} (timeout) after "
                       f"command {last!r}; check the director's health or raise the source's 'timeout'")
        if banner is None:
            shown = " / ".join(ln for ln in lines if ln.strip())[-300:]
            self._fail(f"login failed, bconsole exited {code} without the director's banner: "
                       f"{shown or 'no output'}")
        self.director, self.version = banner.group(1), banner.group(2)
        return lines

    @staticmethod
    def _last_echo(lines: list[str], commands: list[str]) -> str | None:
        last = None
        i = 0
        for ln in lines:
            if i < len(commands) and ln.strip() == commands[i]:
                last = commands[i]
                i += 1
        return last or "(login)"

    def _split(self, lines: list[str], commands: list[str]) -> dict[str, str]:
        """Each command's output, found between its echo and the next command's echo."""
        wanted = commands + ["quit"]
        idx = []
        pos = 0
        for cmd in wanted:
            while pos < len(lines) and lines[pos].strip() != cmd:
                pos += 1
            if pos >= len(lines):
                self._fail(f"answer truncated: the session ended before command {cmd!r} was echoed "
                           "(bconsole or the director closed the connection)")
            idx.append(pos)
            pos += 1
        out = {}
        for n, cmd in enumerate(commands):
            body = lines[idx[n] + 1: idx[n + 1]]
            text = "\n".join(body)
            if re.search(r"^\S+: is an invalid command\.?$", text, re.M) or "You are not authorized" in text:
                self._fail(f"command {cmd!r} refused by the director: add it to the Console's CommandACL "
                           "(see the plugin README for the read-only ACL)")
            m = re.search(r"^(Unknown list keyword: .*|Could not find \w+ .*|Select the \w+ .*|"
                          r"Expected a positive integer.*)$", text, re.M)
            if m:
                self._fail(f"command {cmd!r} was not understood as sent ({m.group(1)[:120]!r}): its filters would "
                           "not apply, so its answer is not used")
            out[cmd] = text
        return out
