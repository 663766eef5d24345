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
    """What the collector read about one client's Backup jobs, and whether that is the whole catalog history.

    ``scope``: JobIds of the director's newest ``window`` Backup jobs (all clients) plus the client's own
    newest ``history_limit`` Backup jobs when they were read. The newest job of a kind within ``scope`` is the
    newest in the catalog: every job outside the window started before every job in it.
    ``complete``: the records read hold every job record the catalog keeps for the client (the window was not
    full, or the client's own history came back shorter than its limit, or the client has no catalog record:
    the director creates one when the client's first job starts). The catalog keeps job records for the
    client's JobRetention only: "never" means "none within the catalog's retention".
    """

    def __init__(self, scope: set[str], complete: bool, why_incomplete: str):
        self.scope, self.complete, self.why_incomplete = scope, complete, why_incomplete


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


def prefetch_ids(records: list[Record], catalog_names: set[str]) -> list[str]:
    """JobIds whose job media the mapping may need for a client's latest backup: the newest successful data
    backup (by EndTime as the director wrote it, and by JobId) and the newest catalog backup, newest first."""
    good = [r for r in records if r.get("Type") == "B" and r.get("JobStatus") in OK_STATUS]
    data = [r for r in good if r.get("Name") not in catalog_names]
    out: list[str] = []
    for group in (data, good):
        for key in (lambda r: (r.get("EndTime") or "", int(r["JobId"])), lambda r: int(r["JobId"])):
            if group:
                jid = max(group, key=key)["JobId"]  # type: ignore[arg-type]
                if jid not in out:
                    out.append(jid)
    return out
