"""Per client, from the catalog job records read: latest successful and failed backup, copies of the latest one."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

# Bacula's JobStatus letters (catalog Job table; `llist jobs` prints them):
#   T terminated normally, W terminated with warnings: the job completed and its data is on the volume
#   (warnings are non-fatal, e.g. a file that vanished while it was read), so both are successful backups;
#   E terminated in error, e non-fatal error, f fatal error, A canceled by the operator, I incomplete (the
#   data written so far is not a complete backup): failed runs;
#   R running, C created, B blocked and the waiting states (F S m M s j c d t p a i L l q): the run has not
#   ended, so it is neither.
OK_STATUS = frozenset("TW")
FAILED_STATUS = frozenset("EefAI")

Record = dict[str, Any]


class ClientScope:
    """What the collector read about one client's jobs, and whether that is the whole catalog history.

    ``records``: the client's records among the director's newest ``window`` Backup jobs (all clients) and
    among its own newest ``history_limit`` Backup jobs when they were read. The newest job of a kind among them
    is the newest in the catalog: every job outside the window started before every job in it.
    ``complete``: they are every job record the catalog keeps for the client (the window was not full, or the
    client's own history came back shorter than its limit, or the client has no catalog record: the director
    creates one for each configured client when it starts, and when a client's first job starts). The catalog
    keeps job records for the client's JobRetention only: "never" means "none within the catalog's retention".
    """

    def __init__(self, records: list[Record], complete: bool, why_incomplete: str):
        self.records, self.complete, self.why_incomplete = records, complete, why_incomplete


def newest(records: list[Record], when: Callable[[Record], tuple[str | None, str | None]]
           ) -> tuple[Record | None, str | None, str | None]:
    """(record, ISO time, None) of the newest record by end time, or (None, None, why) when a time is unreadable."""
    best: tuple[datetime, int, str, Record] | None = None
    for r in records:
        t, why = when(r)
        if why or t is None:
            return None, None, why or f"JobId {r.get('JobId')} has no time"
        key = (datetime.fromisoformat(t), int(r["JobId"]), t, r)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return None, None, None
    return best[3], best[2], None


def prefetch_id(records: list[Record], catalog_names: set[str]) -> str | None:
    """The JobId whose job media the mapping will need for a client's latest backup: its newest successful data
    backup (by EndTime as the director wrote it, then JobId), else its newest catalog backup. One per client:
    each `list jobmedia` costs the director ~45 ms. (Should the mapping, which compares times with their UTC
    offsets, pick another run, e.g. across a DST change, that run's media are unread and its copies unknown.)"""
    good = [r for r in records if r.get("Type") == "B" and r.get("JobStatus") in OK_STATUS]
    data = [r for r in good if r.get("Name") not in catalog_names]
    group = data or good
    if not group:
        return None
    return str(max(group, key=lambda r: (r.get("EndTime") or "", int(r["JobId"])))["JobId"])
