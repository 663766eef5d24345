"""Reads one host variable safely: vaulted or unrendered-template values become reasons, never values."""
from __future__ import annotations

import re

from policycheck.kit import names

_MISSING = object()
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")


class Unreadable(Exception):
    """The variable exists but its value cannot be used; ``str(exc)`` is the reason (no value in it)."""


def _walk(value):
    """Every scalar inside ``value`` (iteratively: deeply nested host vars cannot exhaust the stack)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if "__ansible_vault" in v:
                yield v
                continue
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        else:
            yield v


def is_vaulted(value) -> bool:
    return any(isinstance(v, dict) or (isinstance(v, str) and v.lstrip().startswith("$ANSIBLE_VAULT;"))
               for v in _walk(value))


def is_template(value) -> bool:
    return any(isinstance(v, str) and ("{{" in v or "{%" in v) for v in _walk(value))


def lookup(hostvars: dict, names: list[str]):
    """(variable name, value) of the first of ``names`` the host defines, else (None, MISSING).

    Raises Unreadable when that variable is vaulted or an unrendered Jinja template.
    """
    for name in names:
        if name in hostvars:
            value = hostvars[name]
            if is_vaulted(value):
                raise Unreadable(f"vaulted in ansible: {name}")
            if is_template(value):
                raise Unreadable(f"templated in ansible: {name} is a Jinja expression that "
                                 "ansible-inventory --list does not render")
            return name, value
    return None, _MISSING


def missing(value) -> bool:
    return value is _MISSING


def as_str_list(var: str, value, one_value_may_have_spaces: bool = False) -> list[str]:
    """A YAML list of names (a single name is accepted as a one-item list). Anything else -- a mapping,
    numbers, booleans, nested lists, or one string holding several names ("a, b") -- is Unreadable:
    the site's intent is not guessed."""
    if value is None:
        return []
    if isinstance(value, str):
        if re.search(r"[,;]" if one_value_may_have_spaces else r"[,;\s]", value.strip()):
            raise Unreadable(f"ansible variable {var} is the string {value[:60]!r}, not a list of names "
                             "(write a YAML list: [a, b])")
        value = [value]
    if not isinstance(value, list):
        raise Unreadable(f"ansible variable {var} should be a list of names, got {type(value).__name__}")
    out = []
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v.strip():
            raise Unreadable(f"ansible variable {var}[{i}] should be a name, got {type(v).__name__} "
                             f"{str(v)[:40]!r}")
        s = v.strip()
        if s not in out:
            out.append(s)
    return out


def as_bool(var: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "on", "1", "y"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("no", "false", "off", "0", "n"):
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise Unreadable(f"ansible variable {var} should be a boolean, got {value!r}"[:200])


def as_time(var: str, value) -> str:
    if not isinstance(value, str) or not _TIME.match(value.strip()):
        raise Unreadable(f"ansible variable {var}: time {str(value)[:40]!r} is not ISO 8601 with a UTC "
                         "offset (write e.g. '2026-11-20T10:00:00+01:00', quoted)")
    return value.strip()


def is_ip(text: str) -> bool:
    """An IPv4/IPv6 address (brackets around IPv6 allowed), by policycheck.kit.names."""
    return names.is_ip(text.strip().strip("[]"))
