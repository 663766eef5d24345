"""Implements policycheck_colectors (sic): must be named, not silently ignored."""
from policycheck import hookimpl


@hookimpl
def policycheck_colectors():
    return []
