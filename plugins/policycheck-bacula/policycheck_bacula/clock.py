"""The director's clock: catalog times in its local time, its UTC offset (from the catalog), its skew against ours."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

MAX_OFFSET = timedelta(hours=14)


def parse_offset(configured: str) -> timezone:
    sign = -1 if configured.startswith("-") else 1
    h, m = configured.lstrip("+-").split(":")
    return timezone(sign * timedelta(hours=int(h), minutes=int(m)))


def fmt_offset(tz: timezone) -> str:
    return datetime(2000, 1, 1, tzinfo=tz).strftime("%z")[:3] + ":" + datetime(2000, 1, 1, tzinfo=tz).strftime("%z")[3:]


def parse_local(value: str | None) -> datetime | None:
    """A catalog time ('YYYY-MM-DD HH:MM:SS', the director's local time) or None when it is not one."""
    if not value:
        return None
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def record_offset(rec: dict) -> timedelta | None:
    """The director's UTC offset when it started this job: StartTime (local) against JobTDate (epoch).

    Bacula writes both from the same clock reading (jcr->start_time) for a Backup job; a Copy record keeps its
    original's StartTime with its own JobTDate, so only Type B records tell. None when they do not agree
    on a whole quarter hour within 14 h (an edited or corrupt record).
    """
    if rec.get("Type") != "B":
        return None
    local = parse_local(rec.get("StartTime"))
    tdate = rec.get("JobTDate") or ""
    if local is None or not tdate.isdigit() or int(tdate) <= 0:
        return None
    try:
        utc = datetime.fromtimestamp(int(tdate), timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None
    diff = (local - utc).total_seconds()
    quarter = round(diff / 900) * 900
    if abs(diff - quarter) > 2 or abs(quarter) > MAX_OFFSET.total_seconds():
        return None
    return timedelta(seconds=quarter)


def director_offset(records: list[dict], configured: str | None) -> tuple[timezone | None, str]:
    """The director's UTC offset: configured (`utc_offset`), else the commonest offset its newest Backup
    records show (StartTime against JobTDate); never the difference between its clock and ours."""
    if configured:
        return parse_offset(configured), f"{configured} (configured utc_offset)"
    seen: dict[timedelta, int] = {}
    for r in sorted(records, key=lambda r: int(r["JobId"]), reverse=True)[:200]:
        off = record_offset(r)
        if off is not None:
            seen[off] = seen.get(off, 0) + 1
    if not seen:
        return None, "unknown (no catalog Backup record with StartTime and JobTDate; set utc_offset)"
    off = max(seen, key=lambda k: (seen[k], -abs(k)))
    tz = timezone(off)
    return tz, f"{fmt_offset(tz)} (catalog: StartTime against JobTDate)"


def clock_skew(director_now: datetime | None, tz: timezone | None, utc_now: datetime) -> float | None:
    """Seconds the director's clock is ahead of ours (negative: behind); None when it cannot be told."""
    if director_now is None or tz is None:
        return None
    return (director_now.replace(tzinfo=tz) - utc_now).total_seconds()


def to_iso(value: str | None, tz: timezone) -> str | None:
    local = parse_local(value)
    return local.replace(tzinfo=tz).isoformat() if local else None
