"""The `bacula` collector: config schema, the two read-only bconsole sessions, and the hook that registers it."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from policycheck import hookimpl
from policycheck.api import Collector, CollectorError

KINDS = ("backup_server", "host", "storage_node", "device", "bootstrap", "client")

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["address", "password"],
    "properties": {
        "address": {"type": "string", "minLength": 1, "description": "director address (DirAddress)"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 9101},
        "director_name": {"type": "string", "minLength": 1,
                          "description": "the director's Name (default: taken from its login banner)"},
        "console_name": {"type": "string", "minLength": 1,
                         "description": "a restricted Console resource; omit to use the director's password"},
        "password": {"type": "string", "minLength": 1, "description": "console password (password_file works)"},
        "bconsole": {"type": "string", "minLength": 1, "description": "path of bconsole (default: PATH)"},
        "director_host": {"type": "string", "minLength": 1,
                          "description": "the director machine's host name (default: address)"},
        "catalog_jobs": {"type": "array", "items": {"type": "string"},
                         "description": "names of the catalog backup jobs (default: detected)"},
        "offhost_paths": {"type": "array", "items": {"type": "string"},
                          "description": "directories on the director host that are remote mounts"},
        "utc_offset": {"type": "string", "pattern": "^[+-]\\d{2}:\\d{2}$",
                       "description": "the director's UTC offset (default: measured from its clock)"},
        "max_bootstraps": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5},
    },
}

CONFIG_COMMANDS = ["version", "time", "show storage", "show pools", "show clients", "show jobs",
                   "llist clients", "llist jobs", "llist volumes"]


def collect(settings: dict, ctx) -> dict:
    from . import parse
    from .console import Session
    from .mapping import Mapper, server_offset

    settings = dict(settings)
    where = f"{settings['address']}:{settings.get('port', 9101)} (source {ctx.source})"
    deadline = time.monotonic() + float(ctx.timeout)
    session = Session(settings, where, ctx.redact)
    out = session.run(CONFIG_COMMANDS, max(1.0, deadline - time.monotonic()))
    utc_now = datetime.now(timezone.utc)

    def parsed(cmd, fn, *args):
        try:
            return fn(out[cmd], *args)
        except (parse.ParseError, ValueError, KeyError) as e:
            raise CollectorError(ctx.redact(f"Bacula director {where}: cannot parse the answer to {cmd!r}: {e}"))

    director = settings.get("director_name") or session.director
    if settings.get("director_name") and session.director and session.director != settings["director_name"]:
        raise CollectorError(f"Bacula director {where}: it calls itself {session.director!r}, "
                             f"not {settings['director_name']!r} as configured in 'director_name'")
    snap = {
        "director": director, "version": parsed("version", parse.parse_version),
        "product": parse.parse_product(out["version"]),
        "tz": server_offset(parsed("time", parse.parse_time), utc_now, settings.get("utc_offset")),
        "storages": parsed("show storage", parse.parse_storages),
        "pools": parsed("show pools", parse.parse_pools),
        "clients": parsed("show clients", parse.parse_clients),
        "jobs": parsed("show jobs", parse.parse_jobs),
        "client_records": parsed("llist clients", parse.parse_llist, "ClientId"),
        "job_records": parsed("llist jobs", parse.parse_llist, "JobId"),
        "volumes": parsed("llist volumes", parse.parse_llist, "MediaId"),
    }
    if not snap["storages"]:
        raise CollectorError(f"Bacula director {where}: 'show storage' listed no Storage resource "
                             "(a director always has one): the answer is incomplete")
    mounts = _local_mounts(settings)
    mapper = Mapper(snap, settings, mounts)
    wanted = []
    for rec in mapper.catalog_runs():
        wanted.append(rec["JobId"])
        wanted += [c["JobId"] for c in snap["job_records"]
                   if c.get("Type") == "C" and c.get("PriorJobId") == rec["JobId"]]
    volumes_by_job: dict[str, list[str]] = {}
    if wanted:
        cmds = [f"list jobmedia jobid={j}" for j in wanted]
        media_out = session.run(cmds, max(1.0, deadline - time.monotonic()))
        for jobid, cmd in zip(wanted, cmds):
            try:
                tables = parse.parse_tables(media_out[cmd])
            except parse.ParseError as e:
                raise CollectorError(f"Bacula director {where}: cannot parse the answer to {cmd!r}: {e}")
            vols = []
            for row in (tables[0] if tables else []):
                if row.get("JobId") == jobid and row.get("VolumeName") not in vols:
                    vols.append(row["VolumeName"])
            volumes_by_job[jobid] = vols
    return mapper.fragment(volumes_by_job)


def _local_mounts(settings: dict) -> str | None:
    """/proc/mounts when the director runs on this machine (its address is loopback), else None."""
    from .hosts import resolve

    ips = resolve(settings.get("director_host") or "") | resolve(settings["address"])
    if ips and all(ip.startswith("127.") or ip == "::1" for ip in ips):
        try:
            with open("/proc/self/mounts") as f:
                return f.read()
        except OSError:
            return None
    return None


@hookimpl
def policycheck_collectors():
    return [Collector(name="bacula", collect=collect, config_schema=SCHEMA, kinds=KINDS,
                      description="Bacula director (9.x) through bconsole, read-only: storage daemons, pools, "
                                  "volumes, clients, jobs, the catalog backup and its bootstrap")]
