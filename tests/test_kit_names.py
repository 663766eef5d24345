"""policycheck.kit.names: the one place host names are normalised, shortened and classified."""
from __future__ import annotations

import pytest

from policycheck.kit.names import is_fqdn, is_ip, norm_host, short_name


@pytest.mark.parametrize("raw, want", [
    (" DB01.Example.COM. ", "db01.example.com"),
    ("db01", "db01"),
    ("db01..", "db01."),  # only one trailing dot goes
    (None, ""),
    ("", ""),
    ("10.0.0.1", "10.0.0.1"),
])
def test_norm_host(raw, want):
    assert norm_host(raw) == want


@pytest.mark.parametrize("raw, want", [
    ("DB01.example.com.", "db01"),
    ("db01", "db01"),
    ("10.1.2.3", "10.1.2.3"),  # an address is not shortened to its first octet
    ("fe80::1", "fe80::1"),
    (None, ""),
])
def test_short_name(raw, want):
    assert short_name(raw) == want


@pytest.mark.parametrize("raw, want", [
    ("db01.example.com", True),
    ("DB01.Example.com.", True),
    ("db01", False),
    ("db01.", False),
    ("10.1.2.3", False),
    ("", False),
    (None, False),
    ("a..b", False),
])
def test_is_fqdn(raw, want):
    assert is_fqdn(raw) is want


def test_is_ip():
    assert is_ip("10.0.0.1") and is_ip("::1") and not is_ip("db01") and not is_ip(None)
