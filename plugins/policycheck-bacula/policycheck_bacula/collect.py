"""collect(): read-only bconsole sessions, each answer parsed strictly, mapped to a fragment.

The catalog is read in bounded pieces (never a whole `llist jobs`):

1. configuration: `version`, `time`, `show storage|pools|clients|jobs`, `llist clients`;
2. recent jobs: `llist jobs jobtype=B order=desc limit=W` and the same for `jobtype=C` (the window), and per catalog backup job
   its newest successful runs and copies (`llist job=NAME jobtype=B jobstatus=T order=desc limit=M`, ...);
3. per client whose latest good backup is not in the window, its newest successful backup jobs
   (`llist jobs client=NAME jobtype=B jobstatus=T order=desc limit=L`), and `list jobmedia jobid=N` for the
   catalog runs, their copies and the newest run of each recent client job;
4. `llist volume=NAME` for each volume those jobs wrote (its StorageId says which storage daemon).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from policycheck.api import CollectorError

from . import parse
from .console import Session
from .history import prefetch_ids
from .hosts import resolve
from .mapping import BMR_FILESET, OK_STATUS, Mapper, clock_skew, director_offset, is_catalog_job

CONFIG_COMMANDS = ["version", "time", "show storage", "show pools", "show clients", "show jobs", "llist clients"]
DEFAULTS = {"window_jobs": 2000, "history_limit": 50, "media_jobs": 50, "max_bootstraps": 5}

Run = Callable[[list], dict]


def collect(settings: dict, ctx) -> dict:
    settings = dict(settings)
    endpoint = f"{settings['address']}:{settings.get('port', 9101)}"
    where = f"{endpoint} (source {ctx.source})"
    # finish (or give up) a little before the runtime's own deadline, so that bconsole is killed and its
    # password file removed by us rather than abandoned
    budget = float(ctx.timeout)
    deadline = time.monotonic() + budget - max(0.3, min(1.5, 0.1 * budget))
    session = Session(settings, where, ctx.redact, endpoint=endpoint)
    session.timeout_label = f"the source's timeout of {budget:g} s"

    def run(commands: list) -> dict:
        return session.run(commands, max(0.5, deadline - time.monotonic()))

    out = run(CONFIG_COMMANDS)
    if settings.get("director_name") and session.director and session.director != settings["director_name"]:
        raise CollectorError(f"Bacula director {where}: it calls itself {session.director!r}, "
                             f"not {settings['director_name']!r} as configured in 'director_name'")
    return gather(out, run, settings, session.director, datetime.now(timezone.utc), where, ctx.redact,
                  getattr(ctx, "warn", None) or (lambda m: None), local_mounts(settings))


def gather(config_out: dict, run: Run, settings: dict, banner_name: str | None, utc_now: datetime, where: str,
           redact=lambda s: s, warn=lambda m: None, mounts_text: str | None = None, adjust=None) -> dict:
    """From the configuration answers, read the bounded catalog queries through ``run`` and map them.

    ``adjust(snap)`` (tests only) edits the parsed configuration before the catalog is read."""
    settings = dict(DEFAULTS, **settings)
    snap = snapshot(config_out, settings, banner_name, where, redact)
    if adjust:
        adjust(snap)
    catalog_names = {j["name"] for j in snap["jobs"] if is_catalog_job(j, settings.get("catalog_jobs"))}
    known_clients = {c.get("Name") for c in snap["client_records"]}

    # 2. the window and the catalog backup runs
    # Bacula 9.6 accepts `days=` but does not filter by it (measured: `list jobs days=7` lists every job), so
    # the window is the newest N jobs by JobId
    w, m = int(settings["window_jobs"]), int(settings["max_bootstraps"])
    cmds = [f"llist jobs jobtype=B order=desc limit={w}", f"llist jobs jobtype=C order=desc limit={w}"]
    # (each command costs the director about 45 ms whatever it does, so statuses are filtered here, not there:
    # `jobstatus=` takes one letter and good runs are T or W)
    for name in sorted(catalog_names):
        cmds.append(f"llist job={q(name)} jobtype=B order=desc limit={4 * m}")
        cmds.append(f"llist job={q(name)} jobtype=C order=desc limit={8 * m}")
    out = run(cmds)
    records = Records(where, redact)
    for c in cmds:
        records.add(c, out)
    records.window = {r_id for c in cmds[:2] for r_id in records.by_command[c]}
    records.b_window = set(records.by_command[cmds[0]])
    # a window that came back with its whole limit may have older jobs behind it; a shorter one is the catalog
    records.window_limit = w
    records.window_full = {"B": len(records.by_command[cmds[0]]) >= w, "C": len(records.by_command[cmds[1]]) >= w}

    # offset and clock skew come from what was read so far
    snap["tz"], snap["tz_source"] = director_offset(records.all(), settings.get("utc_offset"))
    snap["skew"] = clock_skew(snap.get("director_now"), snap["tz"], utc_now)
    if snap["skew"] is not None and abs(snap["skew"]) > float(settings.get("max_clock_skew", 300)):
        warn(f"Bacula director {where}: its clock is {fmt_skew(snap['skew'])} "
             f"{'ahead of' if snap['skew'] > 0 else 'behind'} this machine's (UTC offset {snap['tz_source']}); "
             "backup times are reported as the director recorded them")
    elif snap.get("director_now") is None:
        warn(f"Bacula director {where}: its 'time' answer did not parse; clock skew unknown")

    # 3. history of clients without a good backup in the window, and job media
    limit = int(settings["history_limit"])
    bmr_clients = {j["client"] for j in snap["jobs"] if j["type"] == "B" and j["enabled"]
                   and BMR_FILESET.search(j["fileset"] or "")}
    fallback = []
    for c in snap["clients"]:
        name = c["name"]
        if name not in known_clients:
            continue  # no catalog record: never backed up (a `client=` filter would make bconsole prompt)
        fs, bmr = records.latest_good(name, catalog_names)
        # (a client without a good file-system backup in the window has no good backup of any kind there
        # either, except a catalog backup: its history decides last_successful_backup too)
        if fs is None or (bmr is None and name in bmr_clients):
            cmd = f"llist jobs client={q(name)} jobtype=B order=desc limit={limit}"
            fallback.append(cmd)
            records.history_cmd[name] = cmd
    out = run_parallel(run, fallback)
    for c in fallback:
        records.add(c, out)
        records.history[c] = len(records.by_command[c])
    catalog_ids = catalog_run_ids(records, catalog_names, m)
    client_ids = recent_client_jobs(records, catalog_names, int(settings["media_jobs"]))
    latest_ids = latest_backup_ids(records, snap["clients"], catalog_names)
    media_ids = list(dict.fromkeys(catalog_ids + client_ids["ids"] + latest_ids))
    media_cmds = [f"list jobmedia jobid={j}" for j in media_ids]
    out = run_parallel(run, media_cmds)
    vols = volumes_by_job(media_ids, out, where)

    # 4. the volumes
    names = sorted({v for vs in vols.values() for v in vs})
    vol_cmds = [f"llist volume={v}" for v in names]
    out = run_parallel(run, vol_cmds)
    volumes = {}
    for c, v in zip(vol_cmds, names):
        try:
            recs = parse.parse_llist(out[c], "MediaId")
        except (parse.ParseError, KeyError) as e:
            raise CollectorError(redact(f"Bacula director {where}: cannot parse the answer to {c!r}: {e}"))
        rec = next((r for r in recs if r.get("VolumeName") == v), None)
        if rec is not None:
            volumes[v] = rec
    snap["volumes"] = list(volumes.values())
    snap["job_records"] = records.all()
    snap["records"] = records
    snap["client_media"] = client_ids
    snap["history_limit"] = limit
    mapper = Mapper(snap, settings, mounts_text)
    return mapper.fragment(vols)


def run_parallel(run: Run, commands: list, per_session: int = 20, sessions: int = 4) -> dict:
    """Run many commands in up to ``sessions`` concurrent bconsole sessions (the director answers each
    command after a fixed ~45 ms, so sessions in parallel divide the wait); every session ends by the
    source's deadline (Session.run kills bconsole), so no thread outlives the collection."""
    if not commands:
        return {}
    n = min(sessions, max(1, -(-len(commands) // per_session)))
    if n == 1:
        return run(commands)
    chunks = [commands[i::n] for i in range(n)]
    out: dict = {}
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="bacula-bconsole") as pool:
        for part in pool.map(run, chunks):
            out.update(part)
    return out


def q(name: str) -> str:
    """A name as a bconsole keyword value (quoted when it holds a space)."""
    return f'"{name}"' if any(ch.isspace() for ch in name) else name


def fmt_skew(seconds: float) -> str:
    s = abs(int(round(seconds)))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    mi, se = divmod(rem, 60)
    parts = [f"{d} d" if d else "", f"{h} h" if h else "", f"{mi} min" if mi else "", f"{se} s" if se else ""]
    return " ".join(p for p in parts if p) or "0 s"


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
                                             f"{cmd!r}: {e}"))
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
            raise CollectorError(redact(f"Bacula director {where}: cannot parse the answer to {cmd!r}: {e}"))

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
            raise CollectorError(f"Bacula director {where}: cannot parse the answer to {cmd!r}: {e}")
        vols: list[str] = []
        # 9.6 prints the job's own row after its media table; a job without media (volume recycled) has only
        # that second table
        media = next((t for t in tables if t and "VolumeName" in t[0]), [])
        for row in media:
            if row.get("JobId") == jobid and row["VolumeName"] not in vols:
                vols.append(row["VolumeName"])
        result[jobid] = vols
    return result


def local_mounts(settings: dict) -> str | None:
    """/proc/mounts when the director runs on this machine (its address is loopback), else None."""
    ips = resolve(settings.get("director_host") or "") | resolve(settings["address"])
    if ips and all(ip.startswith("127.") or ip == "::1" for ip in ips):
        try:
            with open("/proc/self/mounts") as f:
                return f.read()
        except OSError:
            return None
    return None
