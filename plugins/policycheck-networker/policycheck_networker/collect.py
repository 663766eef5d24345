"""The collect() entry point: read the server's lists concurrently, map them into one fragment."""
from __future__ import annotations

import gc
import threading
import time
from contextlib import contextmanager
from dataclasses import replace

from policycheck.api import CollectorError

from policycheck_networker.api import CALLS, NetworkerApi, base_url
from policycheck_networker.backups import BackupFacts, client_facts
from policycheck_networker.infra import Devices, Jukeboxes, Server, Volumes, storage_node_facts
from policycheck_networker.policies import evidence


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
    kwargs = {"auth": (settings["username"], settings["password"]),
              "verify_tls": settings.get("verify_tls", True)}
    if settings.get("ca_bundle"):
        kwargs["ca_bundle"] = settings["ca_bundle"]
    workers = int(settings.get("max_workers", 10))
    client = ctx.http(base, warn=ctx.log, **kwargs)
    try:
        _widen_pool(client, workers)
        _pin_verify(client)
        api = NetworkerApi(client, max_bytes=int(settings.get("max_response_mb", 1024)) << 20, log=ctx.log)
        calls = with_window(CALLS, settings.get("backup_window"))
        try:
            raw = api.fetch_all(calls, workers, deadline=start + float(ctx.timeout))
        except CollectorError as exc:
            raise CollectorError(ctx.redact(f"NetWorker {url_host}: {exc}")) from None
    finally:
        client.close()
    ctx.log(f"{api.requests} requests in {time.monotonic() - start:.2f}s")
    window = settings.get("backup_window") if "backups" not in api.unfiltered else None
    try:
        return build_fragment(raw, url_host, ctx, window=window)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        # an answer that parsed as JSON but is not shaped like NetWorker's (a proxy page, another API)
        raise CollectorError(ctx.redact(f"NetWorker {url_host}: unexpected answer shape from {base}: "
                                        f"{type(exc).__name__}: {str(exc)[:160]}")) from None


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


def build_fragment(raw: dict, url_host: str, ctx=None, window: str | None = None) -> dict:
    """Map the decoded answers (resource name → list/object) into a fragment; drops raw lists as it goes."""
    server = Server(raw.pop("serverconfig"), url_host)
    storage_nodes = raw.pop("storagenodes")
    devices = Devices(server, raw.pop("devices"), storage_nodes)
    jukeboxes = Jukeboxes(server, raw.pop("jukeboxes", None), devices)
    volumes = Volumes(raw.pop("volumes"), devices, jukeboxes)
    bf = BackupFacts(server, devices, volumes, raw.pop("protectedvms", None))
    backups = raw.pop("backups")
    bf.add_all(backups)
    del backups
    clients = client_facts(server, raw.pop("clients"), bf)
    ents = server.entities()
    bs = ents["backup_server"][0]
    bs.update(evidence(server, raw.pop("protectionpolicies"), raw.pop("pools")))
    on_server = sorted(fid for fid, f in devices.facts.items()
                       if f["client_data"] and devices.driven_by_server(fid))
    bs["networker_client_devices_on_server"] = on_server
    bs["networker_director_mode"] = not on_server
    bs["networker_clients_to_server"] = sorted(
        c["id"] for c in clients if c.get("networker_storage_nodes")
        and server.owns(c["networker_storage_nodes"][0]))
    if window:
        bs["networker_backup_window"] = window  # client times and bootstraps: within this window only
    if bf.unjoined_images:
        bs["networker_unjoined_image_backups"] = bf.unjoined_images
    ents["storage_node"] = storage_node_facts(server, storage_nodes)
    ents["device"] = sorted(devices.facts.values(), key=lambda d: d["id"])
    ents["bootstrap"] = sorted(bf.bootstraps, key=lambda b: b["id"])
    ents["client"] = clients
    if ctx is not None:
        ctx.progress(sum(len(v) for v in ents.values()))
    return {"entities": ents}
