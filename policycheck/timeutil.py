"""Durations (``26h``, ``31d``) and ISO 8601 times, parsed the same way everywhere."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: object) -> float:
    """Seconds in ``'26h'``, ``'31d'``, ``'90m'``, ``'2w'``, ``'45s'``. Raises ValueError."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration (write a number and a unit: 45s, 90m, 26h, 31d, 2w)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def format_duration(seconds: float) -> str:
    s = abs(seconds)
    if s >= 2 * 86400:
        out = f"{s / 86400:.1f}d"
    elif s >= 2 * 3600:
        out = f"{s / 3600:.1f}h"
    elif s >= 120:
        out = f"{s / 60:.0f}m"
    else:
        out = f"{s:.0f}s"
    return out.replace(".0d", "d").replace(".0h", "h")


_cache: dict[object, datetime] = {}


def parse_time(text: object) -> datetime:
    """An aware datetime from ISO 8601 (``Z`` and ``+0100`` accepted; naive means UTC). Raises ValueError."""
    hit = _cache.get(text)
    if hit is not None:
        return hit
    if isinstance(text, datetime):
        dt = text
    else:
        s = str(text).strip()
        if s.endswith("Z") or s.endswith("z"):
            s = s[:-1] + "+00:00"
        elif len(s) > 5 and s[-5] in "+-" and s[-4:].isdigit() and ":" not in s[-5:]:
            s = s[:-2] + ":" + s[-2:]
        dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    if len(_cache) < 200_000:
        _cache[text] = dt
    return dt


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(dt: datetime) -> str:
    return dt.isoformat()


def age_seconds(text: object, now: datetime) -> float:
    return (now - parse_time(text)).total_seconds()


__all__ = ["parse_duration", "format_duration", "parse_time", "now_utc", "iso", "age_seconds", "timedelta"]
