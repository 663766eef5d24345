"""Orchestration of the netbox collector: one list call per NetBox kind (client), then the mapping."""
from __future__ import annotations

import time
from typing import Any

from policycheck.api import CollectContext, CollectorError
from policycheck_netbox.client import NetBoxAPI
from policycheck_netbox.mapping import EP_FHRP, FHRP, build, fhrp_members
from policycheck_netbox.schema import effective

DEVICE_FIELDS = "id,name,status,role,platform,site,parent_device,primary_ip4,primary_ip6,tags,custom_fields"
VM_FIELDS = "id,name,status,role,platform,site,cluster,primary_ip4,primary_ip6,tags,custom_fields"
# device/virtual_machine: the parent before NetBox 4.3 (fields= ignores names a version lacks)
SERVICE_FIELDS = "id,name,protocol,ports,parent_object_type,parent_object_id,device,virtual_machine"
FHRP_FIELDS = "id,group,interface_type,interface_id,interface"
IP_FIELDS = "id,address,dns_name,assigned_object_type,assigned_object_id,assigned_object"


def _filters(f: dict[str, Any]) -> dict[str, Any]:
    """Config filters as query parameters (a list repeats the parameter, as NetBox's filters expect)."""
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in (f or {}).items()}


def collect(settings: dict[str, Any], ctx: CollectContext) -> dict[str, Any]:
    """Read the NetBox lists the settings ask for and return the facts fragment."""
    cfg = effective(settings)
    deadline = ctx.deadline if ctx.deadline is not None else time.monotonic() + float(ctx.timeout)
    api = NetBoxAPI(ctx, cfg["url"], cfg["token"], token_version=cfg["token_version"],
                    verify_tls=cfg["verify_tls"], ca_bundle=cfg.get("ca_bundle"), retries=cfg["retries"],
                    page_size=cfg["page_size"], deadline=deadline)
    try:
        devices = (api.list("dcim/devices/", "devices", {"fields": DEVICE_FIELDS, **_filters(cfg["device_filters"])})
                   if cfg["include_devices"] else [])
        vms = (api.list("virtualization/virtual-machines/", "virtual machines",
                        {"fields": VM_FIELDS, **_filters(cfg["vm_filters"])})
               if cfg["include_virtual_machines"] else [])
        services = api.list("ipam/services/", "IPAM services", {"fields": SERVICE_FIELDS})
        fhrp: dict[Any, set[Any]] | str | None = None
        malformed: list[str] = []
        if any(isinstance(x, dict) and x.get("parent_object_type") == FHRP for x in services):
            # services on a VRRP/HSRP group: served by the devices/VMs assigned to the group. Read only
            # when needed, so a site without them needs no extra permission.
            try:
                assignments = api.list("ipam/fhrp-group-assignments/", "FHRP group assignments",
                                       {"fields": FHRP_FIELDS})
                fhrp = fhrp_members(assignments, malformed)
            except CollectorError as exc:
                fhrp = (f"{EP_FHRP} failed: {exc}; the token needs view on IPAM > FHRP group "
                        "assignment")
                ctx.warn(f"netbox: {fhrp}")
        ips = api.list("ipam/ip-addresses/", "IP addresses",
                       {"fields": IP_FIELDS, "assigned_to_interface": "true"})
    finally:
        api.close()
    notes: list[str] = []
    fragment = build(cfg, devices, vms, services, ips, fhrp, malformed, notes)
    if notes:
        shown = "; ".join(notes[:5]) + (f"; ... ({len(notes) - 5} more)" if len(notes) > 5 else "")
        ctx.warn(f"netbox: {len(notes)} backup exemption(s) without a reason (an exemption needs one): {shown}")
    if malformed:
        shown = "; ".join(malformed[:3]) + (f"; ... ({len(malformed) - 3} more)" if len(malformed) > 3 else "")
        ctx.warn(f"netbox: {len(malformed)} malformed element(s) in NetBox's answers; the facts they feed "
                 f"are unknown: {shown}")
    ctx.progress(len(fragment["entities"]["host"]))
    return fragment
