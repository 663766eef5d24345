"""Registration of the ``networker`` collector and its config schema."""
from __future__ import annotations

from policycheck import hookimpl
from policycheck.api import Collector

KINDS = ("backup_server", "host", "storage_node", "device", "bootstrap", "client")

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "username", "password"],
    "properties": {
        "url": {"type": "string", "minLength": 1,
                "description": "https://SERVER[:9090]; a bare host name is accepted, the port defaults to 9090"},
        "username": {"type": "string", "minLength": 1},
        "password": {"type": "string", "minLength": 1,
                     "description": "use ${ENV_VAR} or password_file: PATH, never a literal"},
        "verify_tls": {"type": "boolean", "default": True},
        "ca_bundle": {"type": "string", "minLength": 1,
                      "description": "PEM file of the CA (or the self-signed certificate) of the server"},
        "api_version": {"enum": ["v3", "v2"], "default": "v3"},
        "max_workers": {"type": "integer", "minimum": 1, "maximum": 16, "default": 10,
                        "description": "list calls issued concurrently"},
        "backup_window": {"type": "string", "pattern": "^[1-9][0-9]* (hours|days)$",
                          "description": "read only save sets of this last period ('30 days'); default: all. "
                                         "Older servers that refuse the range get the whole list"},
        "max_response_mb": {"type": "integer", "minimum": 1, "default": 1024,
                            "description": "refuse a single answer larger than this"},
    },
}


def collect(settings: dict, ctx) -> dict:
    from policycheck_networker.collect import collect as _collect

    return _collect(settings, ctx)


@hookimpl
def policycheck_collectors():
    return [Collector(
        name="networker", collect=collect, config_schema=SCHEMA, kinds=KINDS,
        description="Dell NetWorker REST API (read-only): server, storage nodes, devices, "
                    "bootstrap backups and their copies, clients' latest backups, director mode")]
