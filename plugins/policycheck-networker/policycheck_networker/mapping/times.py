"""NetWorker time strings: parse with their offset (never assume UTC), keep the server's offset on output."""
from __future__ import annotations

import re
from datetime import datetime

_TZ_NO_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def parse(value) -> datetime | None:
    """An aware datetime from an ISO 8601 string with an offset; None when absent or unparsable.

    A time without an offset is refused (None): its zone is unknown, and guessing UTC would move
    ages by hours.
    """
    if not isinstance(value, str) or not value:
        return None
    try:  # fast path: what NetWorker sends (2026-11-18T04:27:31-05:00)
        dt = datetime.fromisoformat(value)
        if dt.tzinfo is not None:
            return dt
    except ValueError:
        pass
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = _TZ_NO_COLON.sub(r"\1:\2", text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else None


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with seconds and the original offset."""
    return None if dt is None else dt.isoformat(timespec="seconds")
