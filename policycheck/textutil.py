"""Text helpers every module shares: a "did you mean" hint and the short printable form of a value."""
from __future__ import annotations

import difflib
import json as _json
from collections.abc import Iterable
from typing import Any

from policycheck.missing import Missing
from policycheck.timeutil import format_duration


def suggest(word: object, choices: Iterable[Any]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``word``, or an empty string."""
    m = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{m[0]}'?)" if m else ""


#: json.dumps(v, default=str, ensure_ascii=False) without making an encoder per call (dumps does, for
#: any non-default argument; failure messages describe many values)
_encode = _json.JSONEncoder(default=str, ensure_ascii=False).encode


def describe(value: Any, limit: int = 200) -> str:
    """A short printable form of an observed value (entities shown by id)."""
    if value is None and limit >= 4:  # json.dumps(None) without the encoder (failure messages show many)
        return "null"
    if isinstance(value, Missing):
        return "(missing)"
    if isinstance(value, dict) and "id" in value:
        return str(value["id"])
    if isinstance(value, list):
        value = [v["id"] if isinstance(v, dict) and "id" in v else v for v in value]
    if isinstance(value, float) and value > 1e5:
        return format_duration(value)
    s = value if isinstance(value, str) else _encode(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"
