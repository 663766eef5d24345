"""The collect() entry point: read the server's lists concurrently, map them into one fragment."""
from __future__ import annotations

import gc
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import urlsplit

from policycheck.api import CollectorError
from policycheck_networker.api import CALLS, NetworkerApi, Refused, base_url
from policycheck_networker.backups import BackupFacts, client_facts
from policycheck_networker.infra import Devices, Jukeboxes, Problems, Server, Volumes, storage_node_facts
from policycheck_networker.jobs import JobFailures
from policycheck_networker.policies import BOOT, TO_SERVER, evidence, retention_locks
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
        frag = build_fragment(raw, url_host, ctx, window=window, refused=refused,
                              where=lambda path: urlsplit(api.where(path)).path)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        # an answer that parsed as JSON but is not shaped like NetWorker's (a proxy page, another API)
        raise CollectorError(redact(f"NetWorker {url_host}: unexpected answer shape from {base}: "
                                    f"{type(exc).__name__}: {str(exc)[:160]}")) from None
    problems = frag.pop("_problems")
    if problems.counts:
        _warn(ctx, redact(f"NetWorker {url_host}: {problems.summary()}; the facts that depend on them are "
                          "unknown"))
    return frag


def refusal_warning(url_host: str, url: str, r: Refused) -> str:
    """What an optional endpoint's refusal costs, and what to do about it."""
    call = r.call
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


def build_fragment(raw: dict, url_host: str, ctx=None, window: str | None = None, refused: dict | None = None,
                   where=lambda path: f"/nwrestapi/v3/global/{path}") -> dict:
    """Map the decoded answers (resource name → list/object) into a fragment; drops raw lists as it goes.

    ``refused`` names the optional calls the server refused (their answers are None): only the facts they
    feed become unknown. Malformed elements are kept as unknown facts or `incomplete` entries and counted
    in the fragment's ``_problems`` (popped by collect()).
    """
    refused = refused or {}

    def refusal(name: str) -> str | None:
        r = refused.get(name)
        if r is None or r.status == 404:
            return None
        return f"GET {where(r.call.path)} refused with HTTP {r.status}: {r.reason[:400]}"

    server = Server(raw.pop("serverconfig"), url_host)
    problems = Problems(server.id, where)
    storage_nodes = raw.pop("storagenodes")
    devices = Devices(server, raw.pop("devices"), storage_nodes, problems)
    jukeboxes = Jukeboxes(server, raw.pop("jukeboxes", None), devices, unknown=refusal("jukeboxes"))
    volumes = Volumes(raw.pop("volumes"), devices, jukeboxes)
    bf = BackupFacts(server, devices, volumes, raw.pop("protectedvms", None), problems)
    backups = raw.pop("backups")
    bf.add_all(backups)
    del backups
    failures = JobFailures(server, raw.pop("jobs", None), retention_hours=server.config.get("jobsdbRetentionInHours"),
                           refused=refusal("jobs") or ("GET " + where("jobs") + " is not available on this server"
                                                       if "jobs" in refused else None),
                           problems=problems, where=where("jobs"))
    clients = client_facts(server, raw.pop("clients"), bf, image_unknown=refusal("protectedvms"),
                           failures=failures, window=window)
    ents = server.entities()
    bs = ents["backup_server"][0]
    unknown: dict = {}
    pools = raw.pop("pools")
    policies = raw.pop("protectionpolicies", None)
    retention_locks(devices, policies, pools, refusal("protectionpolicies") or (
        f"GET {where('protectionpolicies')} is not available on this server" if "protectionpolicies" in refused
        else None), where("protectionpolicies"), where("devices"))
    if refusal("protectionpolicies"):
        unknown.update({BOOT: refusal("protectionpolicies"), TO_SERVER: refusal("protectionpolicies")})
    else:
        found, bad = evidence(server, policies, pools, where("protectionpolicies"))
        bs.update(found)
        unknown.update(bad)
    if devices.client_data_unknown:
        # a client save set's volumes are unknown: a device not yet seen holding client data might
        for f in devices.facts.values():
            if not f["client_data"]:
                del f["client_data"]
                f.setdefault("_unknown", {})["client_data"] = devices.client_data_unknown
        problems.incomplete("device", devices.client_data_unknown)
    on_server = sorted(fid for fid, f in devices.facts.items()
                       if f.get("client_data") and devices.driven_by_server(fid))
    if devices.client_data_unknown and any(devices.driven_by_server(fid) and "client_data" not in f
                                           for fid, f in devices.facts.items()):
        unknown["networker_director_mode"] = devices.client_data_unknown
        unknown["networker_client_devices_on_server"] = devices.client_data_unknown
    else:
        bs["networker_client_devices_on_server"] = on_server
        bs["networker_director_mode"] = not on_server
    bs["networker_clients_to_server"] = sorted(
        c["id"] for c in clients if c.get("networker_storage_nodes")
        and server.owns(c["networker_storage_nodes"][0]))
    if window:
        bs["networker_backup_window"] = window  # client times and bootstraps: within this window only
    if bf.unjoined_images:
        bs["networker_unjoined_image_backups"] = bf.unjoined_images
    if unknown:
        bs["_unknown"] = unknown
    ents["storage_node"] = storage_node_facts(server, storage_nodes)
    ents["device"] = sorted(devices.facts.values(), key=lambda d: d["id"])
    ents["bootstrap"] = sorted(bf.bootstraps, key=lambda b: b["id"])
    ents["client"] = clients
    if ctx is not None:
        ctx.progress(sum(len(v) for v in ents.values()))
    frag = {"entities": ents, "_problems": problems}
    if problems.entries():
        frag["incomplete"] = problems.entries()
    return frag
