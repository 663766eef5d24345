"""Secrets in config: resolve ``${ENV_VAR}`` and ``*_file`` settings, and redact them from text."""
from __future__ import annotations

import os
import re
from pathlib import Path

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_WORDS = ("password", "passwd", "token", "secret", "api_key", "apikey", "credential")
MASK = "***"


class SecretError(ValueError):
    """A secret could not be resolved (unset variable, unreadable file); never carries the value."""


def is_secret_key(key: str) -> bool:
    k = key.lower()
    return any(w in k for w in SECRET_WORDS) and not k.endswith("_file") and not k.endswith("_env")


def resolve(settings: dict, base_dir: str | Path = ".") -> tuple[dict, list[str]]:
    """Return (settings with ``${VAR}`` expanded and ``X_file`` read into ``X``, secrets found).

    Every value that came from a secret key, an ``${ENV}`` reference inside a secret key, or a
    ``*_file`` is added to the returned list so it can be redacted from any output.
    """
    secrets: list[str] = []

    def expand(value, key, path):
        if isinstance(value, dict):
            return {k: expand(v, k, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v, key, f"{path}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value

        def sub(m):
            name = m.group(1)
            if name not in os.environ:
                raise SecretError(f"{path}: environment variable {name} is not set "
                                  f"(export {name}=... before running, or use {key}_file:)")
            return os.environ[name]

        out = _ENV_REF.sub(sub, value)
        if is_secret_key(key) and out:
            secrets.append(out)
        return out

    result = {}
    for key, value in settings.items():
        if key.endswith("_file") and is_secret_key(key[: -len("_file")]):
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
    return result, secrets


def redact(text, secrets) -> str:
    """``text`` with each secret (longest first) replaced by ``***``."""
    if text is None:
        return text
    text = str(text)
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(s) >= 3:
            text = text.replace(s, MASK)
    return text


def redact_settings(settings: dict) -> dict:
    """A copy of settings safe to print: secret keys masked."""
    out = {}
    for k, v in settings.items():
        if isinstance(v, dict):
            out[k] = redact_settings(v)
        elif is_secret_key(k) and v:
            out[k] = MASK
        else:
            out[k] = v
    return out
