"""The encodings in which a NetWorker server may echo the credentials back, for redaction.

NetWorker's error bodies describe the request (``userAgentRequest`` with its ``headers``), so a server,
or a proxy in front of it, can echo the ``Authorization: Basic base64(user:password)`` header into the
``message`` the collector quotes. The core redacts the raw password; this adds the Basic token in its
plain, URL-, JSON- and XML-escaped forms, and any ``Basic <token>`` left after a body was cut short
(a prefix of the token still encodes the beginning of the password).
"""
from __future__ import annotations

import base64
import html
import json
import re
from urllib.parse import quote

MASK = "***"
_BASIC = re.compile(r"(?i)(\bBasic(?:\s|%20|\\u0020|\+)+)[A-Za-z0-9+/=%\\_-]{4,}")


def secret_forms(username: str, password: str) -> list[str]:
    """Every form of the password and of base64(user:password) worth redacting, longest first."""
    forms: set[str] = set()
    for raw in (password, f"{username}:{password}"):
        if not raw:
            continue
        b64 = base64.b64encode(raw.encode("utf-8")).decode("ascii")
        for s in (raw, b64, b64.rstrip("="), base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii")):
            forms.update((s, quote(s, safe=""), quote(s), json.dumps(s)[1:-1], s.replace("/", "\\/"),
                          html.escape(s)))
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def make_redactor(core_redact, username: str, password: str):
    """A redact(text) that applies the core's redaction, then these forms, then masks Basic tokens."""
    forms = secret_forms(username, password)

    def redact(text) -> str:
        text = core_redact(str(text))
        for f in forms:
            if f in text:
                text = text.replace(f, MASK)
        return _BASIC.sub(_mask_token, text)
    return redact


def _mask_token(m) -> str:
    """Mask what follows "Basic " when it looks like a token (digits, + / =, or inner capitals), not a word
    ("Basic authentication failed" stays readable)."""
    token = m.group(0)[len(m.group(1)):]
    if re.search(r"[0-9+/=%\\]|.[A-Z]", token):
        return m.group(1) + MASK
    return m.group(0)
