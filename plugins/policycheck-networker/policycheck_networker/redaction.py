"""The encodings in which a NetWorker server may echo the credentials back, for redaction.

NetWorker's error bodies describe the request (``userAgentRequest`` with its ``headers``), so a server,
or a proxy in front of it, can echo the ``Authorization: Basic base64(user:password)`` header into the
``message`` the collector quotes. The core redacts the raw password; this adds the Basic token in its
forms the core knows (policycheck.secrets.variants), and any ``Basic <token>`` left after a body was cut short
(a prefix of the token still encodes the beginning of the password).
"""
from __future__ import annotations

import re

MASK = "***"
_BASIC = re.compile(r"(?i)(\bBasic(?:\s|%20|\\u0020|\+)+)[A-Za-z0-9+/=%\\_-]{4,}")


def make_redactor(core_redact, username: str, password: str):
    """A redact(text) that applies the core's redaction, then every form the core knows of the password
    and of ``username:password`` (policycheck.secrets.variants: raw, base64, URL-, JSON-, XML-escaped),
    then masks any Basic token left (a body cut short keeps a prefix of the token)."""
    from policycheck.secrets import variants

    forms = sorted(variants(password, (username,)), key=len, reverse=True) if password else []

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
