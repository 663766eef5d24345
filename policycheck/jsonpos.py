"""Line and column of a JSON path inside a JSON text, found only when an error needs them (the fast
loader keeps no positions): descends along the path, skipping siblings with the C decoder."""
from __future__ import annotations

import json
from collections.abc import Iterable
from json.decoder import scanstring  # type: ignore[attr-defined]  # C function, not in the stubs

_WS = " \t\n\r"
_decoder = json.JSONDecoder()


def _skip_ws(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in _WS:
        i += 1
    return i


def _skip_value(s: str, i: int) -> int:
    _, end = _decoder.raw_decode(s, i)
    return end


def offset(text: str, jpath: Iterable[str | int]) -> int:
    """The character offset where ``jpath`` (keys and indexes; ``"<key>"`` for a key itself) starts,
    or of its nearest enclosing value when the rest cannot be found."""
    i = _skip_ws(text, 0)
    steps = list(jpath)
    k = 0
    try:
        while k < len(steps):
            step = steps[k]
            if step == "<key>":
                return i
            if text[i] == "{" and isinstance(step, str):
                j = _skip_ws(text, i + 1)
                found = None
                while j < len(text) and text[j] != "}":
                    key_start = j
                    key: str
                    key, j = scanstring(text, j + 1)
                    j = _skip_ws(text, j)
                    j = _skip_ws(text, j + 1)  # past ':'
                    if key == step:
                        found = (key_start, j)
                        break
                    j = _skip_ws(text, _skip_value(text, j))
                    if text[j] == ",":
                        j = _skip_ws(text, j + 1)
                if found is None:
                    return i
                if k + 1 < len(steps) and steps[k + 1] == "<key>":
                    return found[0]
                i = found[1]
            elif text[i] == "[" and isinstance(step, int):
                j = _skip_ws(text, i + 1)
                for _ in range(step):
                    j = _skip_ws(text, _skip_value(text, j))
                    if text[j] != ",":
                        return i
                    j = _skip_ws(text, j + 1)
                i = j
            else:
                return i
            k += 1
    except (ValueError, IndexError):
        return i
    return i


def line_col(text: str, jpath: Iterable[str | int]) -> tuple[int, int]:
    pos = offset(text, jpath)
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col
