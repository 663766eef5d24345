"""Orchestration: collect() reads the server's lists through the client, maps them, reports refusals and problems."""
from __future__ import annotations

import gc
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import urlsplit

from policycheck.api import CollectorError
from policycheck_networker.client import CALLS, NetworkerApi, Refused, base_url
from policycheck_networker.mapping import build_fragment
from policycheck_networker.redaction import make_redactor

_gc_lock = threading.Lock()
_gc_users = [0, False]  # active collections, whether gc was enabled before the first


@contextmanager
def gc_paused():
    """Pause the cyclic GC while decoding and mapping big lists: it has nothing to free there (no cycles)
    but, triggered by every few hundred new dicts, it made decoding 20,000 save sets 5x slower."""
    with _gc_lock:
        if _gc_users[0] == 0:
            _gc_users[1] = gc.isenabled()
            gc.disable()
        _gc_users[0] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users[0] -= 1
            if _gc_users[0] == 0 and _gc_users[1]:
                gc.enable()


def collect(settings: dict, ctx) -> dict:
    with gc_paused():
        return _collect(settings, ctx)


def _collect(settings: dict, ctx) -> dict:
    start = time.monotonic()
    base, url_host = base_url(settings["url"], settings.get("api_version", "v3"))
    # every message of this collector goes through this: the core's redaction plus the forms in which a
    # server may echo the credentials (the Basic token of an echoed Authorization header)
    redact = make_redactor(ctx.redact, settings["username"], settings["password"])
    kwargs = {"auth": (settings["username"], settings["password"]),
              "verify_tls": settings.get("verify_tls", True)}
    if settings.get("ca_bundle"):
        kwargs["ca_bundle"] = settings["ca_bundle"]
    workers = int(settings.get("max_workers", 10))
    log = ctx.log if ctx.log is not None else (lambda m: None)
    client = ctx.http(base, warn=lambda m: log(redact(m)), **kwargs)
    try:
        _widen_pool(client, workers)
        _pin_verify(client)
        api = NetworkerApi(client, max_bytes=int(settings.get("max_response_mb", 1024)) << 20, log=log,
                           redact=redact)
        calls = with_window(CALLS, settings.get("backup_window"))
        deadline = start + float(ctx.timeout)
        if ctx.deadline is not None:
            deadline = min(deadline, ctx.deadline)
        try:
            raw = api.fetch_all(calls, workers, deadline=deadline)
        except CollectorError as exc:
            raise CollectorError(redact(f"NetWorker {url_host}: {exc}")) from None
    finally:
        client.close()
    log(f"{api.requests} requests in {time.monotonic() - start:.2f}s")
    window = settings.get("backup_window") if "backups" not in api.unfiltered else None
    refused = {}
    for name, value in list(raw.items()):
        if isinstance(value, Refused):
            raw[name] = None
            refused[name] = value
            if value.status != 404:
                _warn(ctx, redact(refusal_warning(url_host, api.where(value.call.path), value)))
    try:
        frag = build_fragment(raw, url_host, window=window, refused=refused,
                              where=lambda path: urlsplit(api.where(path)).path)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        # an answer that parsed as JSON but is not shaped like NetWorker's (a proxy page, another API)
        raise CollectorError(redact(f"NetWorker {url_host}: unexpected answer shape from {base}: "
                                    f"{type(exc).__name__}: {str(exc)[:160]}")) from None
    ctx.progress(sum(len(v) for v in frag["entities"].values()))
    problems = frag.pop("_problems")
    if problems.counts:
        _warn(ctx, redact(f"NetWorker {url_host}: {problems.summary()}; the facts that depend on them are "
                          "unknown"))
    return frag


def refusal_warning(url_host: str, url: str, r: Refused) -> str:
    """What an optional endpoint's refusal costs, and what to do about it."""
    call = r.call
    if r.status == 0:
        return (f"NetWorker {url_host}: GET {url}: {r.reason[:400]}; only the facts it feeds are unknown: "
                f"{call.feeds}")
    if r.status == 403:
        why = f"the account lacks the NetWorker privilege '{call.privilege}' (add it to the account's user group)"
    elif call.name == "protectedvms":
        why = "the server could not list protected VMs (a server without vProxy / VMware protection answers so)"
    else:
        why = "the server failed to answer it"
    return (f"NetWorker {url_host}: GET {url} refused with HTTP {r.status}: {why}; only the facts it feeds are "
            f"unknown: {call.feeds} ({r.reason[:400]})")


def _warn(ctx, message: str) -> None:
    warn = getattr(ctx, "warn", None)
    if warn is not None:
        warn(message)
    elif ctx.log is not None:
        ctx.log(message)


def with_window(calls, window: str | None):
    """The calls, with backups limited to the last ``window`` ("30 days", "72 hours") by a q= time range."""
    if not window:
        return calls
    return tuple(replace(c, query=f'saveTime:["{window}"]') if c.name == "backups" else c for c in calls)


def _widen_pool(client, workers: int) -> None:
    """Let one Session hold as many connections as we have workers."""
    from requests.adapters import HTTPAdapter

    for prefix in ("https://", "http://"):
        client.session.mount(prefix, HTTPAdapter(pool_connections=1, pool_maxsize=max(workers, 10)))


def _pin_verify(client) -> None:
    """Keep ca_bundle / verify_tls: false in force even when REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE is set.

    requests lets those variables override a Session's ``verify`` (psf/requests#3829); the core's
    HttpClient does not pass ``verify`` per request, so without this a configured ca_bundle is ignored.
    """
    sess = client.session
    merge = sess.merge_environment_settings

    def merged(url, proxies, stream, verify, cert):
        out = merge(url, proxies, stream, verify, cert)
        if sess.verify is not True:
            out["verify"] = sess.verify
        return out
    sess.merge_environment_settings = merged
