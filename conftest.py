"""Repository-wide pytest hooks: a test that uses a real server's fixture is marked ``integration``
(so `-m "not integration"` runs the unit suites alone, as CI's second pass under faketime does)."""
import pytest

REAL_SERVER_FIXTURES = {"bacula_stack", "vcsim", "vcsim_binary", "netbox_real"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if REAL_SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
