"""Registration only: the vsphere collector (name, kinds, settings schema, attributes) for the pluggy hook."""
from __future__ import annotations

from typing import Any

from policycheck import hookimpl
from policycheck.api import CollectContext, Collector

KINDS = ("vm", "host", "hypervisor_host", "cluster", "datastore")

#: attributes beyond docs/facts.md: a VM's machine carries its VM's power state and template flag
ATTRIBUTES = {"host": ["power_state", "is_template"]}

#: the source's settings (JSON Schema 2020-12)
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["host", "username", "password"],
    "properties": {
        "host": {"type": "string", "minLength": 1, "description": "vCenter (or ESXi) address"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 443},
        "username": {"type": "string", "minLength": 1},
        "password": {"type": "string", "description": "from ${ENV} or password_file"},
        "verify_tls": {"type": "boolean", "default": True},
        "ca_bundle": {"type": "string", "description": "PEM file of the CA(s) that signed vCenter's certificate"},
        "datacenter": {"type": "string", "description": "only read this datacenter"},
        "cluster": {"type": "string", "description": "only read this cluster (its hosts, their VMs and datastores)"},
        "backup_exempt_attribute": {
            "type": "string", "minLength": 1,
            "description": "a VM custom attribute whose non-empty value exempts the machine from needing a "
                           "backup (host backup: {exempt: true, reason: <value>, owner: null})",
        },
        "vm_aliases": {
            "type": "object",
            "description": "declared extra names per VM name, used to join a machine to its VM",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def collect(settings: dict[str, Any], ctx: CollectContext) -> dict[str, Any]:
    from policycheck_vsphere.collect import collect as _collect

    return _collect(settings, ctx)


@hookimpl
def policycheck_collectors() -> list[Collector]:
    return [Collector(name="vsphere", collect=collect, config_schema=SCHEMA, kinds=KINDS, attributes=ATTRIBUTES,
                      description="vSphere clusters, hosts, datastores and VMs (each VM also as a machine) through "
                                  "vCenter's PropertyCollector (pyVmomi, read-only)")]
