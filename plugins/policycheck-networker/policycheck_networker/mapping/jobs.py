"""The job log (GET /jobs) into each client's latest failed backup: failed save jobs leave no save set."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from policycheck_networker.mapping import times
from policycheck_networker.mapping.infra import Problems, Server, short, show

# Job.completionStatus values (Dell's swagger enum: Unknown, CommunicationLost, NeverStarted, DidNotRun,
# Succeeded, Failed, Cancelled, Abandoned, MissedTheSchedule) that mean the backup ended in error.
# Cancelled (an operator's decision), DidNotRun/NeverStarted/MissedTheSchedule (nothing ran) are not failed runs.
FAILED = frozenset({"failed", "abandoned", "communicationlost"})
# The job of one save set (the swagger's job examples: ``type: save job`` with ``clientHostname``);
# workflow and action jobs name no client.
SAVE_JOB = "save job"


class JobFailures:
    """Latest failed save job per client, and what "no failure seen" means given the job database's pruning."""

    def __init__(self, server: Server, jobs: list | None, *, retention_hours: object, refused: str | None,
                 problems: Problems, where: str):
        self.server = server
        self.latest_by: dict[str, datetime] = {}
        self.unknown: dict[str, str] = {}  # client -> why its latest failure cannot be told
        self.unknown_all: str | None = refused
        hours = retention_hours if isinstance(retention_hours, int) and not isinstance(retention_hours, bool) else None
        self.none_seen = (f"no failed save job of this client in GET {where}; the server keeps job records "
                          f"for {hours if hours is not None else 'jobsdbRetentionInHours (72 by default)'} hours, "
                          "so an older failure is not known")
        for i, job in enumerate(jobs or ()):
            if job.__class__ is not dict:
                reason = f"GET {where}: job #{i} is not an object: {show(job)}"
                problems.count("job", reason)
                self.unknown_all = self.unknown_all or reason
                continue
            kind, status = job.get("type"), job.get("completionStatus")
            if kind.__class__ is not str or kind.lower() != SAVE_JOB:
                continue
            if status.__class__ is not str or status.replace(" ", "").lower() not in FAILED:
                continue
            host = job.get("clientHostname")
            who = server.canonical(host) if host.__class__ is str else ""
            raw = job.get("endTime") or job.get("startTime")
            when = times.parse(raw)
            if not who:
                reason = (f"GET {where}: failed save job {show(job.get('id'))} ({show(job.get('name'))}) has "
                          f"{'no clientHostname' if not host else 'clientHostname ' + show(host)}")
                problems.count("job", reason)
                self.unknown_all = self.unknown_all or reason
                continue
            if when is None:
                reason = (f"GET {where}: failed save job {show(job.get('id'))} of {host} has unparseable "
                          f"endTime {show(raw)}")
                problems.count("job", reason)
                self.unknown.setdefault(who, reason)
                continue
            cur = self.latest_by.get(who)
            if cur is None or when > cur:
                self.latest_by[who] = when

    def latest(self, client_id: str, aliases: Iterable[str] = ()) -> tuple[datetime | None, str]:
        """(latest failed save job's end, or None with the reason the latest failure is unknown)."""
        if not self.latest_by and not self.unknown:  # no failure seen at all (a quiet job log)
            return None, self.unknown_all or self.none_seen
        best = None
        why = None
        for key in dict.fromkeys((client_id, *aliases, short(client_id))):
            t = self.latest_by.get(key)
            if t is not None and (best is None or t > best):
                best = t
            why = why or self.unknown.get(key)
        if why or self.unknown_all:
            return None, why or self.unknown_all or ""
        return best, self.none_seen
