"""Host-name normalisation for collectors: the one place names are compared and shortened."""
from __future__ import annotations

import ipaddress


def norm_host(name: object) -> str:
    """``name`` stripped, lower-cased, with one trailing dot dropped ("" for None).

    >>> norm_host(" DB01.Example.COM. ")
    'db01.example.com'
    """
    if name is None:
        return ""
    text = str(name).strip().lower()
    return text[:-1] if text.endswith(".") else text


def is_ip(name: object) -> bool:
    """True when ``name`` (normalised) is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(norm_host(name))
    except ValueError:
        return False
    return True


def short_name(name: object) -> str:
    """The first label of the normalised name ("db01" for "DB01.example.com"); an IP address is
    returned whole (its first octet is not a name)."""
    n = norm_host(name)
    return n if is_ip(n) else n.split(".", 1)[0]


def is_fqdn(name: object) -> bool:
    """True for a dotted DNS name ("db01.example.com"), False for a short name, an IP address or ""."""
    n = norm_host(name)
    if not n or is_ip(n):
        return False
    labels = n.split(".")
    return len(labels) > 1 and all(labels)
