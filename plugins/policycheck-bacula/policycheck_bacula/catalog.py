"""The director's answers as records: the configuration snapshot, job records by JobId and command, job media."""
from __future__ import annotations

from policycheck.api import CollectorError

from . import parse
from .history import OK_STATUS, prefetch_id
from .mapping import BMR_FILESET


class Records:
    """Job records read by several commands, deduplicated by JobId, with what each command returned."""

    def __init__(self, where: str, redact):
        self.where, self.redact = where, redact
        self.by_id: dict[str, dict] = {}
        self.by_command: dict[str, list[str]] = {}
        self.window: set[str] = set()
        self.history: dict[str, int] = {}
        self.history_cmd: dict[str, str] = {}  # client name -> its own history command
        self.b_window: set[str] = set()
        self.window_limit = 0
        self.window_full = {"B": False, "C": False}
        self._by_client: dict[str, list[dict]] | None = None
        self._by_client_n = 0

    def add(self, cmd: str, out: dict) -> None:
        try:
            recs = parse.parse_llist(out[cmd], "JobId")
        except (parse.ParseError, KeyError) as e:
            raise CollectorError(self.redact(f"Bacula director {self.where}: cannot parse the answer to "
                                             f"{cmd!r}: {e}")) from e
        ids = []
        for r in recs:
            r.setdefault("_command", cmd)
            self.by_id.setdefault(r["JobId"], r)
            ids.append(r["JobId"])
        self.by_command[cmd] = ids

    def all(self) -> list[dict]:
        return sorted(self.by_id.values(), key=lambda r: int(r["JobId"]))

    def by_client(self) -> dict[str, list[dict]]:
        """Every record read, grouped by ClientName (built once per set of records; clients x records is too
        many at 100,000 clients)."""
        if self._by_client is None or self._by_client_n != len(self.by_id):
            groups: dict[str, list[dict]] = {}
            for r in self.by_id.values():
                groups.setdefault(r.get("ClientName") or "", []).append(r)
            self._by_client, self._by_client_n = groups, len(self.by_id)
        return self._by_client

    def client_records(self, client: str) -> list[dict]:
        """The client's records that can decide its newest jobs: those in the Backup window and in its own
        history (not the catalog-job queries, which may reach further back than the window for one job)."""
        hist = set(self.by_command.get(self.history_cmd.get(client, ""), []))
        return [r for r in self.by_client().get(client, []) if r["JobId"] in self.b_window or r["JobId"] in hist]

    def latest_good(self, client: str, catalog_names: set) -> tuple:
        """JobIds of the newest good file-system and BMR backups of ``client`` among the records read."""
        fs = bmr = None
        for r in self.by_client().get(client, []):
            if (r.get("Type") != "B" or r.get("JobStatus") not in OK_STATUS
                    or r.get("Level") not in ("F", "I", "D") or r.get("Name") in catalog_names):
                continue
            if BMR_FILESET.search(r.get("FileSet") or ""):
                bmr = max(bmr or 0, int(r["JobId"]))
            else:
                fs = max(fs or 0, int(r["JobId"]))
        return fs, bmr


def catalog_run_ids(records: Records, catalog_names: set, m: int) -> list[str]:
    """The newest good catalog backup runs (by JobId) and their copies (Type C with PriorJobId = the run)."""
    runs = [r for r in records.all() if r.get("Type") == "B" and r.get("JobStatus") in OK_STATUS
            and r.get("Name") in catalog_names]
    runs.sort(key=lambda r: int(r["JobId"]), reverse=True)
    ids = [r["JobId"] for r in runs[:m]]
    clones = [r["JobId"] for r in records.all() if r.get("Type") == "C" and r.get("PriorJobId") in ids
              and r.get("JobStatus") in OK_STATUS]
    return ids + clones


def latest_backup_ids(records: Records, clients: list[dict], catalog_names: set) -> list[str]:
    """Per configured client, the JobId of its latest successful backup (see history.prefetch_id) and of its
    good copies (Type C records whose PriorJobId is it)."""
    ids: list[str] = []
    for c in clients:
        jid = prefetch_id(records.client_records(c["name"]), catalog_names)
        if jid is not None:
            ids.append(jid)
    wanted = set(ids)
    clones = [r["JobId"] for r in records.by_id.values() if r.get("Type") == "C" and r.get("PriorJobId") in wanted
              and r.get("JobStatus") in OK_STATUS]
    return ids + clones


def recent_client_jobs(records: Records, catalog_names: set, cap: int) -> dict:
    """The newest good run in the window of each (job, client) that is not a catalog backup, newest first."""
    newest: dict[tuple, dict] = {}
    for jid in records.window:
        r = records.by_id[jid]
        if (r.get("Type") not in ("B", "C") or r.get("JobStatus") not in OK_STATUS or not r.get("Name")
                or r.get("Name") in catalog_names):
            continue
        key = (r.get("Type"), r["Name"], r.get("ClientName"))
        if key not in newest or int(r["JobId"]) > int(newest[key]["JobId"]):
            newest[key] = r
    chosen = sorted(newest.values(), key=lambda r: int(r["JobId"]), reverse=True)
    return {"ids": [r["JobId"] for r in chosen[:cap]], "candidates": len(chosen), "capped": len(chosen) > cap}


def snapshot(out: dict, settings: dict, banner_name: str | None, where: str, redact=lambda s: s) -> dict:
    """The configuration answers, parsed; a CollectorError names the answer that did not parse."""

    def parsed(cmd, fn, *args):
        try:
            return fn(out[cmd], *args)
        except (parse.ParseError, ValueError, KeyError, TypeError) as e:
            raise CollectorError(redact(f"Bacula director {where}: cannot parse the answer to {cmd!r}: {e}")) from e

    try:
        director_now = parse.parse_time(out.get("time", ""))
    except parse.ParseError:
        director_now = None
    snap = {
        "director": settings.get("director_name") or banner_name,
        "version": parsed("version", parse.parse_version),
        "product": parse.parse_product(out.get("version", "")),
        "director_now": director_now,
        "storages": parsed("show storage", parse.parse_storages),
        "pools": parsed("show pools", parse.parse_pools),
        "clients": parsed("show clients", parse.parse_clients),
        "jobs": parsed("show jobs", parse.parse_jobs),
        "client_records": parsed("llist clients", parse.parse_llist, "ClientId"),
    }
    if not snap["director"]:
        raise CollectorError(f"Bacula director {where}: its name is unknown (no banner); set 'director_name'")
    if not snap["storages"]:
        raise CollectorError(f"Bacula director {where}: 'show storage' listed no Storage resource "
                             "(a director always has one): the answer is incomplete")
    return snap


MEDIA_BATCH = 20  # JobIds per `list jobmedia` command (each command costs the director ~45 ms)


def jobmedia_command(jobids: list[str]) -> str:
    """One `list jobmedia` for several jobs: 9.6 lists each `jobid=` keyword's media table, then each job's row."""
    return "list jobmedia " + " ".join(f"jobid={j}" for j in jobids)


def jobmedia_batches(jobids: list[str]) -> list[list[str]]:
    return [jobids[i:i + MEDIA_BATCH] for i in range(0, len(jobids), MEDIA_BATCH)]


def volumes_by_job(batches: list[list[str]], media_out: dict, where: str) -> dict[str, list[str] | None]:
    """The volumes each job wrote, in order; None for a job the answer does not list at all (its record was
    pruned meanwhile, or the answer is incomplete): its volumes are unknown, not none."""
    result: dict[str, list[str] | None] = {}
    for batch in batches:
        cmd = jobmedia_command(batch)
        try:
            tables = parse.parse_tables(media_out[cmd])
        except (parse.ParseError, KeyError) as e:
            raise CollectorError(f"Bacula director {where}: cannot parse the answer to {cmd!r}: {e}") from e
        # a job's media rows (VolumeName) and its own row (JobStatus); 9.6 prints the job's row even when it has
        # no media left (its volumes were recycled)
        vols: dict[str, list[str]] = {}
        listed: set[str] = set()
        for table in tables:
            for row in table:
                jid = row.get("JobId", "")
                if "VolumeName" in row:
                    listed.add(jid)
                    if row["VolumeName"] not in vols.setdefault(jid, []):
                        vols[jid].append(row["VolumeName"])
                elif "JobStatus" in row:
                    listed.add(jid)
        for jid in batch:
            result[jid] = vols.get(jid, []) if jid in listed else None
    return result


def volume_records(names: list[str], out: dict, where: str, redact=lambda s: s) -> list[dict]:
    """The `llist volume=NAME` record of each volume named (a volume the catalog no longer has is left out)."""
    volumes = []
    for v in names:
        cmd = f"llist volume={v}"
        try:
            recs = parse.parse_llist(out[cmd], "MediaId")
        except (parse.ParseError, KeyError) as e:
            raise CollectorError(redact(f"Bacula director {where}: cannot parse the answer to {cmd!r}: {e}")) from e
        rec = next((r for r in recs if r.get("VolumeName") == v), None)
        if rec is not None:
            volumes.append(rec)
    return volumes
