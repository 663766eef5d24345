"""Registers the vsphere collector with policycheck through the pluggy hook."""
from policycheck import hookimpl
from policycheck.api import Collector
from policycheck_vsphere.schema import SCHEMA

KINDS = ("vm", "host", "hypervisor_host", "cluster", "datastore")


def collect(settings, ctx):
    from policycheck_vsphere.collect import collect as _collect

    return _collect(settings, ctx)


@hookimpl
def policycheck_collectors():
    return [Collector(name="vsphere", collect=collect, config_schema=SCHEMA, kinds=KINDS,
                      description="vSphere clusters, hosts, datastores and VMs (each VM also as a machine) through vCenter's "
                                  "PropertyCollector (pyVmomi, read-only)")]
