"""Secrets in config: resolve ``${ENV_VAR}`` and ``*_file`` settings, and redact them from text.

Redaction covers every encoding in which a server or a library may echo a secret back: the raw value,
base64 (alone and as HTTP Basic's ``user:secret``), URL-encoded, XML/HTML-escaped and JSON-escaped (and
these escapes combined). Every secret the runtime resolves is also registered for the whole process, and
:func:`redact_all` (which every output path of the CLI goes through) masks every registered one."""
from __future__ import annotations

import base64
import html
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, overload
from urllib.parse import quote, quote_plus, urlsplit

from policycheck.errors import ConfigError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_WORDS = ("password", "passwd", "token", "secret", "api_key", "apikey", "credential")
MASK = "***"


class SecretError(ConfigError):
    """A secret could not be resolved (unset variable, unreadable file); never carries the value."""


USER_KEYS = ("username", "user", "login", "account", "client_id")
MIN_LEN = 3  # shorter values are not masked (they would mask every "a" of a report)


def is_secret_key(key: object, secret_keys: Iterable[object] = ()) -> bool:
    """True for a setting that holds a secret: a name containing a secret word, or one of the
    collector's own ``secret_keys`` (:class:`policycheck.api.Collector`)."""
    k = str(key).lower()
    if k.endswith("_file") or k.endswith("_env"):
        return False
    return any(w in k for w in SECRET_WORDS) or any(k == str(w).lower() for w in secret_keys)


def resolve(settings: dict[str, Any], base_dir: str | Path = ".",
            secret_keys: Iterable[object] = ()) -> tuple[dict[str, Any], list[str]]:
    """Return (settings with ``${VAR}`` expanded and ``X_file`` read into ``X``, secrets found).

    Every value that came from a secret key, an ``${ENV}`` reference inside a secret key, or a
    ``*_file`` is added to the returned list so it can be redacted from any output.
    """
    secrets: list[str] = []

    def expand(value: Any, key: str, path: str) -> Any:
        if isinstance(value, dict):
            return {k: expand(v, k, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v, key, f"{path}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise SecretError(f"{path}: environment variable {name} is not set "
                                  f"(export {name}=... before running, or use {key}_file:)")
            return os.environ[name]

        out = _ENV_REF.sub(sub, value)
        if is_secret_key(key, secret_keys) and out:
            secrets.append(out)
        return out

    result: dict[str, Any] = {}
    for key, value in settings.items():
        if key.endswith("_file") and is_secret_key(key[: -len("_file")], secret_keys):
            target = key[: -len("_file")]
            p = Path(os.path.expanduser(str(expand(value, key, key))))
            if not p.is_absolute():
                p = Path(base_dir) / p
            try:
                secret = p.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SecretError(f"{key}: cannot read {p}: {exc.strerror}") from None
            if secret:
                secrets.append(secret)
            result[target] = secret
        else:
            result[key] = expand(value, key, key)
    users = [str(v) for k, v in result.items() if str(k).lower() in USER_KEYS and isinstance(v, (str, int))]
    register(secrets, users)
    return result, secrets


def _encodings(s: str) -> set[str]:
    """The one-step encodings of ``s`` a server, a URL, a document or a Python error message may carry."""
    out = {s, quote(s, safe=""), quote(s), quote_plus(s), html.escape(s, quote=False), html.escape(s),
           s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
           .replace("'", "&apos;"),
           "".join(f"&#{ord(c)};" if c in "&<>\"'" else c for c in s),
           json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1],
           repr(s)[1:-1], repr(s + "'")[1:-3], repr(s + '"')[1:-2]}  # Python reprs (error messages)
    lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(s, safe=""))
    out.add(lower)
    return out


def _b64(raw: str) -> set[str]:
    b = raw.encode("utf-8")
    return {base64.b64encode(b).decode(), base64.urlsafe_b64encode(b).decode(),
            base64.b64encode(b).decode().rstrip("=")}


@lru_cache(maxsize=4096)
def variants(secret: str, users: tuple[str, ...] = ()) -> frozenset[str]:
    """Every form of ``secret`` to mask: raw, URL-, XML-, JSON-escaped and two of these combined,
    base64 of the secret and of ``user:secret`` for each known user name."""
    if not secret or len(secret) < MIN_LEN:
        return frozenset()
    first = _encodings(secret)
    forms = set(first)
    for f in first:
        forms |= _encodings(f)
    forms |= _b64(secret)
    for u in users:
        forms |= _b64(f"{u}:{secret}")
    return frozenset(f for f in forms if len(f) >= MIN_LEN)


_REGISTRY: set[str] = set()
_LOCK = threading.Lock()
_SNAPSHOT: tuple[str, ...] = ()


def register(secrets: Iterable[object] | None, users: Iterable[object] = ()) -> None:
    """Remember every form of ``secrets`` for this process: :func:`redact_all` masks them in any output."""
    global _SNAPSHOT
    names = tuple(sorted({str(u) for u in users if u}))
    new: set[str] = set()
    for s in secrets or ():
        if s:
            new |= variants(str(s), names)
    if not new:
        return
    with _LOCK:
        if new <= _REGISTRY:
            return
        _REGISTRY.update(new)
        _SNAPSHOT = tuple(sorted(_REGISTRY, key=len, reverse=True))


def registered() -> tuple[str, ...]:
    return _SNAPSHOT


def _mask(text: str, forms: Iterable[str]) -> str:
    for f in forms:
        if f in text:
            text = text.replace(f, MASK)
    return text


@overload
def redact(text: str, secrets: Iterable[object] | None) -> str: ...
@overload
def redact(text: None, secrets: Iterable[object] | None) -> None: ...
def redact(text: object, secrets: Iterable[object] | None) -> str | None:
    """``text`` with every form of each secret (longest first) replaced by ``***``."""
    if text is None:
        return None  # None passes through
    text = str(text)
    forms: set[str] = set()
    for s in secrets or ():
        if s:
            forms |= variants(str(s))
    return _mask(text, sorted(forms, key=len, reverse=True))


@overload
def redact_all(text: str, extra: Iterable[object] = ()) -> str: ...
@overload
def redact_all(text: None, extra: Iterable[object] = ()) -> None: ...
def redact_all(text: object, extra: Iterable[object] = ()) -> str | None:
    """``text`` with every registered secret (and ``extra``) masked in every encoding: the last step
    before anything is printed or written."""
    if text is None:
        return None  # None passes through
    text = str(text)
    if extra:
        text = redact(text, extra)
    return _mask(text, _SNAPSHOT)


def url_credentials(value: object) -> str | None:
    """The user name (or ``"?"``) when ``value`` is a URL that carries credentials (``user:pass@``),
    else None."""
    if not isinstance(value, str) or "@" not in value or "://" not in value:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        m = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)@", value.strip())
        return (m.group(1).split(":", 1)[0] or "?") if m else None
    if "@" not in parts.netloc:
        return None
    return parts.username or "?"


def find_url_credentials(settings: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Yield the settings path of every URL with credentials in (nested) ``settings``."""
    if isinstance(settings, dict):
        for k, v in settings.items():
            yield from find_url_credentials(v, path + (k,))
    elif isinstance(settings, list):
        for i, v in enumerate(settings):
            yield from find_url_credentials(v, path + (i,))
    elif url_credentials(settings) is not None:
        yield path


URL_CREDENTIALS_HINT = ("the URL carries credentials (user:password@host; the URL is not shown): remove them "
                        "from the URL, put the password in password/password_file or the token in "
                        "token/token_file (or ${ENV_VAR}), and the user in username:")


def redact_settings(settings: dict[str, Any], secret_keys: Iterable[object] = ()) -> dict[str, Any]:
    """A copy of settings safe to print: secret keys masked."""
    out: dict[str, Any] = {}
    for k, v in settings.items():
        if isinstance(v, dict):
            out[k] = redact_settings(v, secret_keys)
        elif is_secret_key(k, secret_keys) and v:
            out[k] = MASK
        else:
            out[k] = v
    return out
