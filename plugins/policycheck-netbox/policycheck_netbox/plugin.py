"""Registers the `netbox` collector with policycheck through the pluggy hook."""
from policycheck import hookimpl
from policycheck.api import Collector

from policycheck_netbox.config import SCHEMA

KINDS = ("host", "backup_server", "vm", "cluster")


def collect(settings, ctx):
    from policycheck_netbox.collect import collect as _collect  # keep plugin discovery cheap

    return _collect(settings, ctx)


@hookimpl
def policycheck_collectors():
    return [Collector(name="netbox", collect=collect, config_schema=SCHEMA, kinds=KINDS,
                      description="NetBox REST API (read-only token): devices, virtual machines, platforms, "
                                  "roles, tags, custom fields (backup exemptions), IPAM services and IP addresses")]
