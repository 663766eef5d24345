"""Client resources into client facts: one per hostname, with its latest backups, their copies, its failed runs."""
from __future__ import annotations

from policycheck_networker.mapping import times
from policycheck_networker.mapping.backups import BMR_PREFIX, KIND_ATTR, BackupFacts
from policycheck_networker.mapping.infra import Server, norm, os_name, short, show
from policycheck_networker.mapping.jobs import JobFailures


def client_facts(server: Server, clients: list, bf: BackupFacts, image_unknown: str | None = None,
                 failures: JobFailures | None = None, window: str | None = None) -> list:
    """One client fact per hostname (several client resources may share one), plus guests seen only in images.

    Ids are unique per (backup server, host): ``<server id>/<hostname>``; the host is named by
    ``hostname`` (the core joins clients to hosts through it), and no bare host name is an alias, so a
    host protected by two servers is one host with two client records. A client resource whose hostname
    is missing or not a text cannot be told apart: the client list is incomplete (contract item 3).
    """
    groups: dict[str, dict] = {}
    problems = bf.problems
    for i, c in enumerate(clients):
        raw = c.get("hostname")
        host = server.canonical(raw) if isinstance(raw, str) else ""
        if not host:
            rid = c.get("resourceId")
            rid = rid.get("id") if isinstance(rid, dict) else rid
            reason = (f"GET {problems.where('clients')}: client resource #{i} (resourceId {show(rid)}) has "
                      f"{'no hostname' if raw is None or raw == '' else 'a hostname that is not a name: ' + show(raw)}")
            problems.count("client", reason)
            problems.incomplete("client", reason)
            continue
        g = groups.setdefault(host, {"aliases": set(), "save_sets": [], "groups": set(), "types": set(),
                                     "sns": [], "ids": []})
        g["aliases"].update(norm(a) for a in _texts(c.get("aliases")) if a)
        if c.get("os") and not g.get("os"):
            g["os"] = os_name(c["os"])
        if "." in host:
            g["aliases"].add(short(host))
        for s in _texts(c.get("saveSets")):
            if s not in g["save_sets"]:
                g["save_sets"].append(s)
        g["groups"].update(_texts(c.get("protectionGroups")))
        if isinstance(c.get("backupType"), str):
            g["types"].add(c["backupType"])
        for sn in _texts(c.get("storageNodes")):
            if sn not in g["sns"]:
                g["sns"].append(sn)
        rid = c.get("resourceId")
        if isinstance(rid, dict) and rid.get("id"):
            g["ids"].append(str(rid["id"]))
    out = []
    for host, g in sorted(groups.items()):
        fact = {"id": client_id(server, host), "hostname": host, "backup_server": server.id,
                "networker_aliases": sorted(g["aliases"] - {host}),
                "networker_save_sets": g["save_sets"], "networker_protection_groups": sorted(g["groups"]),
                "networker_backup_types": sorted(g["types"]), "networker_storage_nodes": g["sns"],
                "networker_resource_ids": g["ids"],
                "networker_bmr_save_set": any(str(s).lower().startswith(BMR_PREFIX) for s in g["save_sets"])}
        _times(fact, bf, host, g["aliases"], image_unknown, failures, window)
        if g.get("os"):
            fact["os"] = g["os"]
        out.append(fact)
    known = set(groups) | {a for g in groups.values() for a in g["aliases"]}
    for host in sorted(bf.latest):
        if host not in known and short(host) not in known and bf.latest[host].get("image"):
            fact = {"id": client_id(server, host), "hostname": host, "backup_server": server.id,
                    "networker_image_only": True}
            _times(fact, bf, host, (), image_unknown, failures, window)
            out.append(fact)
    return out


def client_id(server: Server, host: str) -> str:
    return f"{server.id}/{host}"


def _times(fact: dict, bf: BackupFacts, host: str, aliases, image_unknown: str | None,
           failures: JobFailures | None = None, window: str | None = None) -> None:
    """The client's backup times, its latest successful backup with its copies, its latest failed one.

    Where each comes from, and when "never" is known:
    - successes come from the media database (GET /backups): it keeps every save set until its retention
      ends, so a client none of whose save sets is there has no recoverable backup: ``null`` (RPO-001
      fails), whatever the job log says. With ``backup_window`` only that period was read: a client with
      nothing in it is unknown (an older backup may exist), not ``null``.
    - failures come from the job log (GET /jobs, failed save jobs: a failed save leaves no save set) and
      from aborted save sets. The job database is pruned after ``jobsdbRetentionInHours`` (72 h by
      default), so a client with no failure there may have failed before: unknown, never ``null``; and a
      client with no job record at all is not "never ran" on that ground (the media database decides).
    """
    found, unknown, best, aborted = bf.client_times(host, aliases)
    if image_unknown and bf.image_backups_seen:
        found.pop("last_image_backup", None)
        unknown.setdefault("last_image_backup", image_unknown)
    fact.update(found)
    why = next((unknown[a] for a in KIND_ATTR.values() if a in unknown), None)
    if why:
        unknown["last_successful_backup"] = unknown["latest_backup_copies"] = why
    elif best is not None:
        fact["last_successful_backup"] = best[0]
        fact["latest_backup_copies"] = [dict(c) for c in best[1]] if best[3] else [bf.copy(i) for i in best[1]]
        fact["networker_latest_save_set"] = best[2]
    elif window:
        unknown["last_successful_backup"] = unknown["latest_backup_copies"] = (
            f"no save set of this client in the last {window} (backup_window): an older one is not read")
    else:
        fact["last_successful_backup"] = None
        fact["latest_backup_copies"] = []
    failed, why_failed = (failures.latest(host, aliases) if failures is not None
                          else (None, "the job log (GET /jobs) was not read"))
    # An aborted save set is a failed run too. With a failed save job seen, the later of the two is the
    # latest failure (anything later than a job in the log is in the log as well). Without one, an aborted
    # save set alone does not make the latest failure known: NetWorker aborts the save set of a failed
    # save job, so one without its job is older than the log's retention, and so may be a later failure.
    aborted_at = times.parse(aborted)
    if failed is not None:
        fact["last_failed_backup"] = times.iso(max(failed, aborted_at) if aborted_at is not None else failed)
    else:
        unknown["last_failed_backup"] = why_failed + (
            f"; an aborted save set of {aborted} is in the media database" if aborted_at is not None else "")
    if unknown:
        fact["_unknown"] = unknown


def _texts(value) -> list:
    """The strings of a list attribute (a lone string counts as a list of one); anything else is ignored."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
