"""Kept for plugins that still import ``policycheck.http``; the client lives in policycheck.kit.http and this module will go."""
from policycheck.kit.http import MAX_BYTES, HttpClient, HttpError, _retry_after  # noqa: F401
