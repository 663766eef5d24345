"""Registers the `netbox` collector with policycheck through the pluggy hook (the work is in collect.py)."""
from __future__ import annotations

from policycheck import hookimpl
from policycheck.api import CollectContext, Collector
from policycheck_netbox.schema import SCHEMA

KINDS = ("host", "backup_server", "vm", "cluster")


def collect(settings: dict, ctx: CollectContext) -> dict:
    """The collector's entry point: imports the work only when a netbox source runs."""
    from policycheck_netbox.collect import collect as _collect  # keep plugin discovery cheap

    return _collect(settings, ctx)


@hookimpl
def policycheck_collectors() -> list[Collector]:
    return [Collector(name="netbox", collect=collect, config_schema=SCHEMA, kinds=KINDS,
                      description="NetBox REST API (read-only token): devices, virtual machines, platforms, "
                                  "roles, tags, custom fields (backup exemptions), IPAM services and IP addresses")]
