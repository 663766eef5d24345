"""Text that is safe to print: no terminal escape, no line break hidden in a value, no CI workflow command.

Every value that reaches a terminal, a CI log or a text report goes through :func:`line` (one line, controls
shown as visible escapes) or, for text whose line breaks are meant, :func:`block`. :func:`guard` then makes
sure no output line can be read as a GitHub Actions workflow command (``::error::``, ``::add-mask::``,
``::stop-commands::``) or an Azure Pipelines logging command (``##vso[``, ``##[``)."""
from __future__ import annotations

import re

# C0 controls (ESC, BEL, CR, backspace ...), DEL, C1 controls (a lone 0x9b is a CSI on many terminals),
# lone surrogates, and the bidirectional overrides/isolates that reorder what a reader sees.
_CTRL_BLOCK = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CTRL_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b"}
# a line a CI runner reads as a command: GitHub's "::name ...::", Azure's "##vso[" and "##[" (leading
# whitespace is trimmed by the runners before they look)
_COMMAND_START = re.compile(r"^([ \t]*)(::|##\[|##vso\[)", re.M)


def _visible(m: re.Match[str]) -> str:
    c = m.group()
    if c in _NAMED:
        return _NAMED[c]
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def line(value: object, limit: int | None = None) -> str:
    """``value`` as one printable line: line breaks and control characters become visible escapes
    (``\\n``, ``\\r``, ``\\x1b``, ``\\x9b``), a tab stays a tab."""
    s = "" if value is None else str(value)
    if not s.isprintable():
        s = _CTRL_LINE.sub(_visible, s)
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


def block(text: object) -> str:
    """Multi-line text with its line breaks (``\\n``) kept, every other control character made visible
    (a ``\\r`` alone would let a value overwrite what a terminal shows), and no command lines."""
    s = "" if text is None else str(text)
    s = s.replace("\r\n", "\n")
    s = _CTRL_BLOCK.sub(_visible, s)
    return guard(s)


def guard(text: str) -> str:
    """``text`` with every line that a CI runner would read as a workflow/logging command prefixed by a
    backslash, so it is printed and never executed."""
    if "::" not in text and "##" not in text:
        return text
    return _COMMAND_START.sub(lambda m: "\\" + m.group(1) + m.group(2), text)


def is_safe_line(text: str) -> bool:
    """True when ``text`` is one line without control characters (for tests and assertions)."""
    return not _CTRL_LINE.search(text)
