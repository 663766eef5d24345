"""The collector runtime: validate each source's settings against its plugin's schema, resolve
secrets, run sources concurrently (bounded) under their own timeouts, record each source's status,
merge the fragments and derive facts."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from policycheck.api import CollectContext, CollectorError
from policycheck.errors import ConfigError
from policycheck.facts import FactsError, check_fragment, merge
from policycheck.secrets import URL_CREDENTIALS_HINT, SecretError, find_url_credentials, redact, resolve
from policycheck.timeutil import iso, now_utc

if TYPE_CHECKING:
    from policycheck.api import Collector
    from policycheck.config import Config
    from policycheck.plugins import Plugins

#: ``on_event(source, state, detail)``: detail is a count of objects (running/ok) or the error text
EventFn = Callable[[str, str, Any], None]
#: a source's outcome: (status, fragment or None, error or None, duration in seconds)
Outcome = tuple[str, Any, str | None, float]

RESERVED = ("name", "plugin", "timeout", "enabled")


@dataclass
class SourcePlan:
    name: str
    plugin: str
    timeout: float
    settings: dict[str, Any] | None
    collector: Collector | None
    secrets: list[str]
    error: str | None = None


class SourceConfigError(ConfigError):
    """A source's settings do not validate against its plugin's schema (an invocation error: exit 2)."""


def plan_sources(config: Config, plugins: Plugins) -> list[SourcePlan]:
    """Check every source before anything is contacted. Unknown/broken plugins become failing sources
    (their results are errors); invalid settings raise SourceConfigError."""
    import jsonschema

    plans: list[SourcePlan] = []
    for i, src in enumerate(config.sources):
        if src.get("enabled") is False:
            continue
        name, plugin = src["name"], src["plugin"]
        timeout = float(src.get("timeout") or config.default_timeout)
        col = plugins.collectors.get(plugin)
        if col is None:
            why, mistake = plugins.why_missing_collector(plugin)
            if mistake:
                raise SourceConfigError(f"{config.where(('sources', i, 'plugin'))}: source '{name}': {why}")
            plans.append(SourcePlan(name, plugin, timeout, None, None, [], why))
            continue
        raw = {k: v for k, v in src.items() if k not in RESERVED}
        secret_keys = tuple(getattr(col, "secret_keys", ()) or ())
        try:
            settings, secrets = resolve(raw, config.base_dir, secret_keys=secret_keys)
        except SecretError as exc:
            raise SourceConfigError(f"{config.where(('sources', i))}: source '{name}': {exc}") from None
        for cred in find_url_credentials(settings):  # requests would send them as Basic auth
            raise SourceConfigError(f"{config.where(('sources', i) + cred)}: source '{name}' ({plugin}): "
                                    f"{'.'.join(map(str, cred))}: {URL_CREDENTIALS_HINT}")
        validator = jsonschema.Draft202012Validator(col.config_schema)
        errs = sorted(validator.iter_errors(settings), key=lambda e: list(map(str, e.path)))
        if errs:
            e = errs[0]
            jp = ("sources", i) + tuple(e.absolute_path)
            msg = redact(e.message, secrets)
            if e.validator == "additionalProperties":
                props = list((col.config_schema.get("properties") or {}).keys())
                extra = [k for k in e.instance if k not in props] if isinstance(e.instance, dict) else []
                from policycheck.textutil import suggest

                if extra:
                    jp = ("sources", i, extra[0], "<key>")
                    msg = f"unknown setting '{extra[0]}'" + suggest(extra[0], props) + \
                        f" (plugin {plugin} takes: {', '.join(props)})"
            raise SourceConfigError(f"{config.where(jp)}: source '{name}' ({plugin}): {msg}")
        check = getattr(col, "check", None)
        problems = check(settings, str(config.base_dir)) if check else ()
        if problems:
            lines: list[str] = []
            for key, problem in problems:
                here = config.where(("sources", i) + tuple(key))
                problem = redact(problem, secrets)
                if re.match(r"^\S+:\d+:\d+: ", problem):  # located in its own file: that location first
                    lines.append(f"{problem} (source '{name}' at {here})")
                else:
                    lines.append(f"{here}: source '{name}' ({plugin}): {problem}")
            raise SourceConfigError("\n".join(lines))
        plans.append(SourcePlan(name, plugin, timeout, settings, col, secrets))
    return plans


def collect(plans: list[SourcePlan], base_dir: str | os.PathLike[str] = ".", concurrency: int = 4,
            on_event: EventFn | None = None) -> dict[str, Any]:
    """Run every planned source and return the merged facts document (with derived facts not yet
    added). ``on_event(source, state, detail)`` reports progress: running/ok/error."""
    emit: EventFn = on_event or (lambda *a: None)
    started = now_utc()
    sem = threading.Semaphore(max(1, concurrency))
    outcomes: dict[str, Outcome] = {}
    threads: list[tuple[SourcePlan, threading.Thread]] = []
    lock = threading.Lock()

    def run(plan: SourcePlan) -> None:
        with sem:
            t0 = time.monotonic()
            plan_deadline[plan.name] = t0 + plan.timeout
            emit(plan.name, "running", 0)
            ctx = CollectContext(source=plan.name, timeout=plan.timeout, base_dir=str(base_dir),
                                 secrets=plan.secrets, deadline=t0 + plan.timeout,
                                 progress=partial(emit, plan.name, "running"))
            contexts[plan.name] = ctx
            out: tuple[str, Any, str | None]
            try:
                # a plan without an error has its collector and settings (plan_sources)
                assert plan.collector is not None and plan.settings is not None
                frag = plan.collector.collect(dict(plan.settings), ctx)
                check_fragment(frag, plan.name)
                out = ("ok", frag, None)
            except CollectorError as exc:
                out = ("error", None, redact(str(exc) or type(exc).__name__, plan.secrets))
            except FactsError as exc:
                out = ("error", None, redact(f"malformed facts from the collector: {exc}", plan.secrets))
            except Exception as exc:  # a collector bug must not pass silently either
                tb = traceback.extract_tb(exc.__traceback__)[-1]
                out = ("error", None, redact(f"collector crashed: {type(exc).__name__}: {exc} "
                                             f"(at {tb.filename}:{tb.lineno})", plan.secrets))
            with lock:
                if plan.name not in outcomes:
                    outcomes[plan.name] = (*out, time.monotonic() - t0)

    plan_deadline: dict[str, float] = {}
    contexts: dict[str, CollectContext] = {}
    for plan in plans:
        if plan.error:
            outcomes[plan.name] = ("error", None, plan.error, 0.0)
            emit(plan.name, "error", plan.error)
            continue
        t = threading.Thread(target=run, args=(plan,), name=f"collect-{plan.name}", daemon=True)
        t.start()
        threads.append((plan, t))
    for plan, t in threads:
        while t.is_alive():
            dl = plan_deadline.get(plan.name)
            if dl is not None and time.monotonic() > dl:
                break
            t.join(0.05)
        with lock:
            if plan.name not in outcomes:
                outcomes[plan.name] = ("error", None, f"timed out after {plan.timeout:g}s (raise the source's "
                                       "timeout: if the source is just slow)", plan.timeout)
        st, frag, err, dur = outcomes[plan.name]
        emit(plan.name, st, err if st == "error" else _count(frag))
    fragments: list[tuple[str, str, dict[str, Any]]] = []
    sources: list[dict[str, Any]] = []
    for plan in plans:
        st, frag, err, dur = outcomes[plan.name]
        kinds = list(plan.collector.kinds) if plan.collector else []
        if st == "ok":
            kinds = sorted(set(kinds) | {k for k, v in frag["entities"].items()})
            fragments.append((plan.name, frag.get("observed_at") or iso(now_utc()), frag))
        entry: dict[str, Any] = {"name": plan.name, "plugin": plan.plugin, "status": st, "error": err,
                 "kinds": kinds, "objects": _count(frag) if frag else 0, "duration_s": round(dur, 3)}
        ctx = contexts.get(plan.name)
        warnings = list(ctx.warnings) if ctx is not None else []
        if st == "ok" and frag.get("incomplete"):
            inc = frag["incomplete"]
            bad_kinds = sorted({x["kind"] for x in inc})
            entry["malformed"] = len(inc)
            warnings.append(f"{len(inc)} element(s) could not be read ({', '.join(bad_kinds)}); the facts that depend "
                            f"on them are unknown, e.g. {inc[0]['reason']}")
        if warnings:
            entry["warnings"] = [redact(w, plan.secrets) for w in warnings]
        sources.append(entry)
    for _plan, t in threads:
        if t.is_alive():
            with _ABANDONED_LOCK:
                _ABANDONED.append(t)
    return merge(fragments, iso(started), sources)


_ABANDONED: list[threading.Thread] = []
_ABANDONED_LOCK = threading.Lock()


def abandoned() -> list[threading.Thread]:
    """Collector threads still running after their source's deadline (their answer is discarded)."""
    with _ABANDONED_LOCK:
        return [t for t in _ABANDONED if t.is_alive()]


def child_pids(root: int | None = None) -> list[int]:
    """The running descendants of this process (Linux /proc; elsewhere none), deepest first."""
    root = root or os.getpid()
    parents: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for e in entries:
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            continue
        rest = stat.rsplit(")", 1)[-1].split()
        if len(rest) >= 2 and rest[0] != "Z":
            parents.setdefault(int(rest[1]), []).append(int(e))
    out: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        for c in parents.get(pid, ()):
            out.append(c)
            todo.append(c)
    return list(reversed(out))


def end_children(grace: float = 1.0) -> list[int]:
    """Terminate every subprocess a collector left running (SIGTERM, then SIGKILL after ``grace``
    seconds); returns their pids. Called by the CLI as the run ends, so no collector subprocess
    outlives it."""
    pids = child_pids()
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + grace
    alive = list(pids)
    while alive and time.monotonic() < end:
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.02)
    for pid in alive:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return pids


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return False


def _count(frag: dict[str, Any] | None) -> int:
    return sum(len(v) for v in frag["entities"].values()) if frag else 0
