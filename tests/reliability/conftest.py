"""Fixtures of the reliability suite (helpers in relhelpers.py)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relhelpers import PLUGIN_SITE, SERVERS  # noqa: E402


@pytest.fixture
def with_plugin(monkeypatch):
    """The reliability test plugin discoverable by entry point in this process."""
    monkeypatch.syspath_prepend(str(PLUGIN_SITE))
    return PLUGIN_SITE


@pytest.fixture
def upstream():
    import threading

    from httpfake import FakeServer

    srv = FakeServer({"/api/servers": (200, {}, SERVERS)})
    srv.thread = threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    with srv:
        yield srv


