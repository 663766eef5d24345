"""The `ansible` collector: config schema, registration, and collect() tying runner, inventory and facts."""
from __future__ import annotations

from policycheck import hookimpl
from policycheck.api import Collector, CollectorError

from .mapping import MAPPING_SCHEMA

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


def collect(settings: dict, ctx) -> dict:
    """Run ansible-inventory over the configured sources and return a facts fragment."""
    from . import facts, inventory, mapping, runner

    sources = settings["inventory"]
    if isinstance(sources, str):
        sources = [sources]
    data = runner.run_inventory(
        sources, binary=settings.get("ansible_inventory"), ansible_config=settings.get("ansible_config"),
        base_dir=getattr(ctx, "base_dir", "."), timeout=float(ctx.timeout or 60), redact=ctx.redact,
        limit=settings.get("limit"), log=ctx.log)
    hosts = inventory.parse(data)
    m = mapping.build(settings.get("mapping"))
    ids: dict[str, str] = {}
    owner: dict[str, str] = {}
    for h in hosts:
        hid, _ = facts.host_id(h, m)
        other = owner.setdefault(hid, h.name)
        if other != h.name:
            raise CollectorError(
                f"inventory hosts {other!r} and {h.name!r} both resolve to host id {hid!r} (same fqdn); "
                "remove the duplicate from the inventory or fix its fqdn variable")
        ids[h.name] = hid
    mapper = facts.HostMapper(m, ids, settings.get("complete") or ())
    entities: dict[str, list] = {k: [] for k in KINDS}
    for h in hosts:
        ent, extra = mapper.host(h)
        entities["host"].append(ent)
        for kind, e in extra:
            entities[kind].append(e)
    ctx.log(f"ansible: {len(hosts)} hosts from {len(sources)} inventory source(s)")
    ctx.progress(sum(len(v) for v in entities.values()))
    return {"entities": {k: v for k, v in entities.items() if v or k == "host"}}


@hookimpl
def policycheck_collectors():
    return [Collector(
        name="ansible", collect=collect, config_schema=SCHEMA, kinds=KINDS,
        description="Hosts (with their groups as tags and backup exemptions), roles, platform, services, dependencies, BMR methods and DR tests from an "
                    "Ansible inventory (runs ansible-inventory --list; never decrypts vaulted values)")]
