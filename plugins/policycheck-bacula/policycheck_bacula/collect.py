"""collect(): the two read-only bconsole sessions, parsing every answer strictly, and mapping it to a fragment."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from policycheck.api import CollectorError

from . import parse
from .console import Session
from .hosts import resolve
from .mapping import Mapper, server_offset

CONFIG_COMMANDS = ["version", "time", "show storage", "show pools", "show clients", "show jobs",
                   "llist clients", "llist jobs", "llist volumes"]


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
    out = session.run(CONFIG_COMMANDS, max(0.5, deadline - time.monotonic()))
    if settings.get("director_name") and session.director and session.director != settings["director_name"]:
        raise CollectorError(f"Bacula director {where}: it calls itself {session.director!r}, "
                             f"not {settings['director_name']!r} as configured in 'director_name'")
    snap = snapshot(out, settings, session.director, datetime.now(timezone.utc), where, ctx.redact)
    mapper = Mapper(snap, settings, local_mounts(settings))
    wanted = media_jobids(mapper, snap)
    media_out = {}
    if wanted:
        cmds = [f"list jobmedia jobid={j}" for j in wanted]
        media_out = session.run(cmds, max(0.5, deadline - time.monotonic()))
    return mapper.fragment(volumes_by_job(wanted, media_out, where))


def snapshot(out: dict, settings: dict, banner_name: str | None, utc_now: datetime, where: str,
             redact=lambda s: s) -> dict:
    """Every configuration and catalog answer, parsed; a CollectorError names the answer that did not parse."""

    def parsed(cmd, fn, *args):
        try:
            return fn(out[cmd], *args)
        except (parse.ParseError, ValueError, KeyError) as e:
            raise CollectorError(redact(f"Bacula director {where}: cannot parse the answer to {cmd!r}: {e}"))

    snap = {
        "director": settings.get("director_name") or banner_name,
        "version": parsed("version", parse.parse_version),
        "product": parse.parse_product(out.get("version", "")),
        "tz": server_offset(parsed("time", parse.parse_time), utc_now, settings.get("utc_offset")),
        "storages": parsed("show storage", parse.parse_storages),
        "pools": parsed("show pools", parse.parse_pools),
        "clients": parsed("show clients", parse.parse_clients),
        "jobs": parsed("show jobs", parse.parse_jobs),
        "client_records": parsed("llist clients", parse.parse_llist, "ClientId"),
        "job_records": parsed("llist jobs", parse.parse_llist, "JobId"),
        "volumes": parsed("llist volumes", parse.parse_llist, "MediaId"),
    }
    if not snap["director"]:
        raise CollectorError(f"Bacula director {where}: its name is unknown (no banner); set 'director_name'")
    if not snap["storages"]:
        raise CollectorError(f"Bacula director {where}: 'show storage' listed no Storage resource "
                             "(a director always has one): the answer is incomplete")
    return snap


def media_jobids(mapper: Mapper, snap: dict) -> list[str]:
    """The catalog backup runs to look up on media, and their copies (Type C records)."""
    wanted = []
    for rec in mapper.catalog_runs():
        wanted.append(rec["JobId"])
        wanted += [c["JobId"] for c in snap["job_records"]
                   if c.get("Type") == "C" and c.get("PriorJobId") == rec["JobId"]]
    return wanted


def volumes_by_job(wanted: list[str], media_out: dict, where: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for jobid in wanted:
        cmd = f"list jobmedia jobid={jobid}"
        try:
            tables = parse.parse_tables(media_out[cmd])
        except (parse.ParseError, KeyError) as e:
            raise CollectorError(f"Bacula director {where}: cannot parse the answer to {cmd!r}: {e}")
        vols: list[str] = []
        for row in (tables[0] if tables else []):
            if "VolumeName" not in row:
                raise CollectorError(f"Bacula director {where}: {cmd!r} answered a table without VolumeName")
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
