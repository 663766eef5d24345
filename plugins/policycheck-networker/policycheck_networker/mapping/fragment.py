"""The decoded answers of one server (resource name -> list or object) into one fragment: pure, no I/O."""
from __future__ import annotations

from collections.abc import Callable

from policycheck_networker.mapping.backups import BackupFacts
from policycheck_networker.mapping.clients import client_facts
from policycheck_networker.mapping.infra import (
    Devices,
    Jukeboxes,
    Problems,
    Server,
    Volumes,
    storage_node_facts,
)
from policycheck_networker.mapping.jobs import JobFailures
from policycheck_networker.mapping.policies import BOOT, TO_SERVER, evidence, retention_locks


def build_fragment(raw: dict, url_host: str, window: str | None = None, refused: dict | None = None,
                   where: Callable[[str], str] = lambda path: f"/nwrestapi/v3/global/{path}") -> dict:
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
        if r.status == 0:  # capped by max_response_mb: seen only in part, so unknown
            return f"GET {where(r.call.path)}: {r.reason[:400]}"
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
    frag = {"entities": ents, "_problems": problems}
    if problems.entries():
        frag["incomplete"] = problems.entries()
    return frag
