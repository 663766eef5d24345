"""Registers the `ansible` collector: its settings schema, kinds and description (the work is in collect.py)."""
from __future__ import annotations

from policycheck import hookimpl
from policycheck.api import CollectContext, Collector

from .tables import MAPPING_SCHEMA

KINDS = ("host", "backup_server", "storage_node", "dr_test")

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["inventory"],
    "properties": {
        "inventory": {
            "description": "one or more inventory sources passed as -i: INI/YAML file, directory "
                           "(with group_vars/ host_vars/), dynamic inventory script or plugin config",
            "oneOf": [{"type": "string", "minLength": 1},
                      {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}],
        },
        "ansible_inventory": {"type": "string", "minLength": 1,
                              "description": "path of the ansible-inventory executable"},
        "ansible_config": {"type": "string", "minLength": 1,
                           "description": "ansible.cfg to use (default: none, ambient config ignored)"},
        "limit": {"type": "string", "minLength": 1, "description": "ansible --limit host pattern"},
        "mapping": MAPPING_SCHEMA,
        "complete": {"type": "array", "uniqueItems": True,
                     "items": {"enum": ["roles", "services", "depends_on", "bmr_methods"]},
                     "description": "host list attributes this inventory records completely at your site "
                                    "(default: none; the others are reported as partial)"},
    },
    "$defs": {"names": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
}


def collect(settings: dict, ctx: CollectContext) -> dict:
    """Run ansible-inventory over the configured sources and return a facts fragment (see collect.py)."""
    from .collect import collect as _collect  # keep plugin discovery cheap

    return _collect(settings, ctx)


@hookimpl
def policycheck_collectors() -> list[Collector]:
    return [Collector(
        name="ansible", collect=collect, config_schema=SCHEMA, kinds=KINDS,
        description="Hosts (with their groups as tags and backup exemptions), roles, platform, services, dependencies, BMR methods and DR tests from an "
                    "Ansible inventory (runs ansible-inventory --list; never decrypts vaulted values)")]
