"""The `bacula` collector's registration: its config schema, kinds, and the policycheck_collectors hook."""
from __future__ import annotations

from policycheck import hookimpl
from policycheck.api import Collector

KINDS = ("backup_server", "host", "storage_node", "device", "bootstrap", "client")

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["address", "password"],
    "properties": {
        "address": {"type": "string", "minLength": 1, "description": "director address (DirAddress)"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 9101},
        "director_name": {"type": "string", "minLength": 1,
                          "description": "the director's Name (default: taken from its login banner)"},
        "console_name": {"type": "string", "minLength": 1,
                         "description": "a restricted Console resource; omit to use the director's password"},
        "password": {"type": "string", "minLength": 1, "description": "console password (password_file works)"},
        "bconsole": {"type": "string", "minLength": 1, "description": "path of bconsole (default: PATH)"},
        "director_host": {"type": "string", "minLength": 1,
                          "description": "the director machine's host name (default: address)"},
        "catalog_jobs": {"type": "array", "items": {"type": "string"},
                         "description": "names of the catalog backup jobs (default: detected)"},
        "offhost_paths": {"type": "array", "items": {"type": "string"},
                          "description": "directories on the director host that are remote mounts"},
        "utc_offset": {"type": "string", "pattern": "^[+-](0\\d|1[0-4]):[0-5]\\d$",
                       "description": "the director's UTC offset (default: read from the catalog, StartTime "
                                      "against JobTDate)"},
        "host_map": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1},
                     "description": "storage daemon / client address -> host id, for names this machine "
                                    "cannot resolve (split DNS)"},
        "window_jobs": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 2000,
                        "description": "newest Backup jobs (and Copy jobs) read from the catalog: director mode, "
                                       "latest backups"},
        "history_limit": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 50,
                          "description": "per client without a good backup in the window: newest jobs read"},
        "media_jobs": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 50,
                       "description": "recent client jobs whose job media decide director mode"},
        "max_clock_skew": {"type": "integer", "minimum": 0, "default": 300,
                           "description": "seconds of clock difference with the director before a warning"},
        "max_bootstraps": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5},
    },
}

def collect(settings: dict, ctx) -> dict:
    """Read the director (see :mod:`policycheck_bacula.collect`); imported lazily."""
    from .collect import collect as _collect

    return _collect(settings, ctx)


@hookimpl
def policycheck_collectors():
    return [Collector(name="bacula", collect=collect, config_schema=SCHEMA, kinds=KINDS,
                      description="Bacula director (9.x) through bconsole, read-only: storage daemons, pools, "
                                  "volumes, clients, jobs, the catalog backup and its bootstrap")]
