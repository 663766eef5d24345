"""Fixtures: a real NetBox (session scope) seeded with the test datazone; skips only where the packages
cannot exist, and fails instead under CI=true."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from policycheck.testing import need

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "netbox_server"))
sys.path.insert(0, str(HERE))


def _unavailable(reason: str) -> None:
    need(False, f"real NetBox needed in CI but unavailable: {reason} "
                "(plugins/policycheck-netbox/ci/setup.sh installs it)")


@pytest.fixture(scope="session")
def netbox_real():
    import nbseed as seed
    import nbserver

    reuse = os.environ.get("POLICYCHECK_NETBOX_REUSE")  # JSON {url, tokens, ids} of a seeded dev server
    if reuse:
        import json
        import types

        yield types.SimpleNamespace(**json.loads(Path(reuse).read_text()))
        return
    try:
        srv = nbserver.NetBoxServer(log=lambda m: print(m, file=sys.stderr))
    except nbserver.Unavailable as exc:
        _unavailable(str(exc))
    try:
        t0 = time.monotonic()
        srv.start(wait=False)
        tokens = seed.make_tokens(srv)  # a `netbox shell` while runserver loads
        srv.wait_ready()
        print(f"NetBox answering at {srv.url} after {time.monotonic() - t0:.1f}s", file=sys.stderr)
        ids = seed.seed(srv.url, tokens["admin"])
        srv.timings = {"ready_s": round(time.monotonic() - t0, 1)}
        srv.tokens, srv.ids = tokens, ids
        print(f"netbox fixture ready in {srv.timings['ready_s']}s", file=sys.stderr)
        yield srv
    finally:
        srv.cleanup()
