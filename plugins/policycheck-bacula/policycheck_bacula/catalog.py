"""The director's answers as records: the configuration snapshot, job records by JobId and command, job media."""
from __future__ import annotations

from policycheck.api import CollectorError

from . import parse
from .history import OK_STATUS, prefetch_ids
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

    def client_scope(self, client: str) -> set[str]:
        """JobIds read that can decide the client's newest jobs: the Backup window and its own history."""
        return self.b_window | set(self.by_command.get(self.history_cmd.get(client, ""), []))

    def latest_good(self, client: str, catalog_names: set) -> tuple:
        """JobIds of the newest good file-system and BMR backups of ``client`` among the records read."""
        fs = bmr = None
        for r in self.by_id.values():
            if (r.get("ClientName") != client or r.get("Type") != "B" or r.get("JobStatus") not in OK_STATUS
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
    """Per configured client, the JobIds its latest successful backup may be (see history.prefetch_ids) and
    their good copies (Type C records whose PriorJobId is one of them)."""
    ids: list[str] = []
    for c in clients:
        scope = records.client_scope(c["name"])
        ids += prefetch_ids([records.by_id[j] for j in scope if records.by_id[j].get("ClientName") == c["name"]],
                            catalog_names)
    wanted = set(ids)
    clones = [r["JobId"] for r in records.all() if r.get("Type") == "C" and r.get("PriorJobId") in wanted
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


def volumes_by_job(wanted: list[str], media_out: dict, where: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for jobid in wanted:
        cmd = f"list jobmedia jobid={jobid}"
        try:
            tables = parse.parse_tables(media_out[cmd])
        except (parse.ParseError, KeyError) as e:
            raise CollectorError(f"Bacula director {where}: cannot parse the answer to {cmd!r}: {e}") from e
        vols: list[str] = []
        # 9.6 prints the job's own row after its media table; a job without media (volume recycled) has only
        # that second table
        media = next((t for t in tables if t and "VolumeName" in t[0]), [])
        for row in media:
            if row.get("JobId") == jobid and row["VolumeName"] not in vols:
                vols.append(row["VolumeName"])
        result[jobid] = vols
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
