"""Orchestration: collect() reads the director through bconsole sessions (client.py) in bounded pieces, parses
each answer strictly (parse.py, catalog.py) and maps it to a fragment (mapping.py). Never a whole `llist jobs`:

1. configuration: `version`, `time`, `show storage|pools|clients|jobs`, `llist clients`;
2. the window: `llist jobs jobtype=B order=desc limit=W` and the same for `jobtype=C`, and per catalog backup job
   its newest runs and copies (`llist job=NAME jobtype=B order=desc limit=M`, ...);
3. per client whose latest good backup is not in the window, its newest Backup jobs
   (`llist jobs client=NAME jobtype=B order=desc limit=L`); then `list jobmedia jobid=N` for the catalog runs,
   their copies, the newest run of each recent client job and each client's latest successful backup and copies;
4. `llist volume=NAME` for each volume those jobs wrote (its StorageId says which storage daemon).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from policycheck.api import CollectorError

from .catalog import (
    Records,
    catalog_run_ids,
    jobmedia_batches,
    jobmedia_command,
    latest_backup_ids,
    recent_client_jobs,
    snapshot,
    volume_records,
    volumes_by_job,
)
from .client import Session
from .clock import clock_skew, director_offset
from .hosts import HostNamer, resolve
from .mapping import BMR_FILESET, Mapper, is_catalog_job

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
    # the job media known to be needed go with the histories; those the histories reveal follow
    client_ids = recent_client_jobs(records, catalog_names, int(settings["media_jobs"]))
    settled = [c for c in snap["clients"] if c["name"] not in records.history_cmd]
    first = list(dict.fromkeys(catalog_run_ids(records, catalog_names, m) + client_ids["ids"]
                               + latest_backup_ids(records, settled, catalog_names)))
    batches = jobmedia_batches(first)
    out = run_parallel(run, fallback + [jobmedia_command(b) for b in batches])
    for c in fallback:
        records.add(c, out)
        records.history[c] = len(records.by_command[c])
    unsettled = [c for c in snap["clients"] if c["name"] in records.history_cmd]
    then = [j for j in dict.fromkeys(catalog_run_ids(records, catalog_names, m)
                                     + latest_backup_ids(records, unsettled, catalog_names)) if j not in first]
    more = jobmedia_batches(then)
    if more:
        out.update(run_parallel(run, [jobmedia_command(b) for b in more]))
    vols = volumes_by_job(batches + more, out, where)

    # 4. the volumes
    names = sorted({v for vs in vols.values() if vs for v in vs})
    vol_cmds = [f"llist volume={v}" for v in names]
    volumes = volume_records(names, run_parallel(run, vol_cmds), where, redact)
    snap["volumes"] = volumes
    snap["job_records"] = records.all()
    snap["records"] = records
    snap["client_media"] = client_ids
    snap["history_limit"] = limit
    namer = HostNamer(settings["address"], settings.get("director_host"), settings.get("host_map"))
    mapper = Mapper(snap, settings, mounts_text, namer, resolve)
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
