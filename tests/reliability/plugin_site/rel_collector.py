"""A third-party-style collector plugin for tests/reliability, found through its entry point when this
directory is on the path. It reads ``GET /api/servers`` ({"count": n, "items": [...]}) with Basic auth
(password in ``passphrase``, a secret only because the plugin lists it in ``secret_keys``) and an API key
header, checks the envelope, and marks a malformed field unknown (never dropped)."""
import subprocess
import sys
import threading
import time

from policycheck import hookimpl
from policycheck.api import Collector, CollectorError

SCHEMA = {
    "type": "object",
    "properties": {
        "url": {"type": "string"},
        "username": {"type": "string"},
        "passphrase": {"type": "string", "maxLength": 64},
        "api_key": {"type": "string"},
        "hang": {"type": "boolean"},
        "pidfile": {"type": "string"},
    },
    "required": ["url"],
    "additionalProperties": False,
}


def _hang(settings):
    """A collector that leaves work behind: a non-daemon pool thread and a subprocess, both stuck."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    with open(settings["pidfile"], "w") as fh:
        fh.write(str(child.pid))
    threading.Thread(target=time.sleep, args=(3600,), name="rel-pool-worker", daemon=False).start()
    time.sleep(3600)


def collect(settings, ctx):
    if settings.get("hang"):
        _hang(settings)
    http = ctx.http(settings["url"], auth=(settings.get("username", "svc"), settings.get("passphrase", "")),
                    headers={"X-Api-Key": settings.get("api_key", "")}, retries=2, backoff=0.05)
    page = http.get_json("/api/servers")
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        raise CollectorError("GET /api/servers: the answer has no 'items' list")
    if page.get("count") != len(page["items"]):
        raise CollectorError(f"GET /api/servers: count {page.get('count')!r} but {len(page['items'])} items")
    hosts, servers = [], []
    for i, item in enumerate(page["items"]):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise CollectorError(f"GET /api/servers: item {i} has no name")
        host = {"id": name, "platform": "physical"}
        unknown = {}
        for attr in ("roles", "services"):
            v = item.get(attr)
            if isinstance(v, list) and all(isinstance(x, str) for x in v):
                host[attr] = v
            else:
                unknown[attr] = f"GET /api/servers: server {name!r} has {attr} {type(v).__name__}"
        if unknown:
            host["_unknown"] = unknown
        note = item.get("note")
        if isinstance(note, str):
            ctx.warn(f"server {name} says: {note}")
        hosts.append(host)
        servers.append({"id": name, "host": name})
    return {"entities": {"host": hosts, "backup_server": servers}}


@hookimpl
def policycheck_collectors():
    return [Collector(name="relcheck", collect=collect, config_schema=SCHEMA, kinds=("host", "backup_server"),
                      secret_keys=("passphrase",), description="reliability-test collector")]
