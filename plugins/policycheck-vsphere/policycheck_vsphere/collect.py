"""Orchestration: collect(settings, ctx) logs in, reads the inventory through client, maps it to facts, logs out."""
from __future__ import annotations

import time
from typing import Any

from policycheck.api import CollectContext, CollectorError
from policycheck_vsphere import client, mapping
from policycheck_vsphere.hosts import exempt_keys


def collect(settings: dict, ctx) -> dict:
    started = time.monotonic()
    si = client.connect(settings, ctx)
    try:
        with client.guarded(settings, ctx, "reading the inventory (PropertyCollector)"):
            container, scope_dc = si.content.rootFolder, None
            if settings.get("datacenter"):
                container, scope_dc = _find_datacenter(si, settings["datacenter"])
                if container is None:
                    raise CollectorError(ctx.redact(
                        f"vCenter {settings['host']}:{settings.get('port', 443)}: no datacenter named "
                        f"{settings['datacenter']!r} visible to {settings['username']!r}; check the "
                        "source's datacenter setting and the user's permissions"))
            raw = client.retrieve(si, container, client.properties_for(settings))
        events = _clone_events(si, container, settings, ctx)
        custom = _custom_field(si, settings, ctx)
    finally:
        client.disconnect(si)
    _check_session(raw, settings, ctx)
    if settings.get("cluster") and not any(c.get("name") == settings["cluster"]
                                           for c in raw.get("ClusterComputeResource", [])):
        raise CollectorError(ctx.redact(
            f"vCenter {settings['host']}:{settings.get('port', 443)}: no cluster named {settings['cluster']!r}"
            " visible; check the source's cluster setting and the user's permissions"))
    if ctx.timeout and time.monotonic() - started > ctx.timeout:
        raise CollectorError(f"vCenter {settings['host']}:{settings.get('port', 443)}: reading the inventory "
                             f"took longer than the source's timeout ({ctx.timeout:g} s); raise the timeout "
                             "or scope the source to a datacenter or cluster")
    fragment = mapping.build(raw, settings, scope_dc, events, custom)
    ctx.progress(sum(len(v) for v in fragment["entities"].values()))
    return fragment


def _check_session(raw, settings, ctx) -> None:
    """An answer whose properties all failed NotAuthenticated is a lost session, not an empty inventory."""
    from pyVmomi import vim

    for objs in raw.values():
        for o in objs:
            for fault in o.missing.values():
                if isinstance(fault, vim.fault.NotAuthenticated):
                    raise CollectorError(ctx.redact(
                        f"vCenter {settings['host']}:{settings.get('port', 443)}: the session lost its "
                        "authentication while reading (NotAuthenticated); retry, check session limits"))


def _clone_events(si, container, settings, ctx):
    """The VmClonedEvents (one bounded QueryEvents call), or the reason they cannot be read: a
    refusal only makes vm.template unknown, it does not fail the source."""
    try:
        return client.clone_events(si, container)
    except Exception as e:  # noqa: BLE001 - any failure here degrades vm.template to unknown
        return ctx.redact(client.describe(e, settings, "reading clone events (EventManager.QueryEvents)", ctx.timeout))


def _custom_field(si: Any, settings: dict[str, Any], ctx: CollectContext) -> dict[str, Any] | None:
    """The exemption custom attribute's keys, or why they cannot be read (every VM's exemption is
    then unknown, not absent); None when no exemption attribute is configured."""
    name = settings.get("backup_exempt_attribute")
    if not name:
        return None
    where = f"vCenter {settings['host']}:{settings.get('port', 443)}"
    try:
        keys = exempt_keys(client.custom_field_defs(si), name)
    except Exception as e:  # noqa: BLE001 - an unreadable definition makes the exemptions unknown
        return {"error": ctx.redact(client.describe(e, settings, "reading custom attribute definitions "
                                                           "(CustomFieldsManager.field)", ctx.timeout))}
    if not keys:
        return {"error": f"{where}: no custom attribute named {name!r} applies to virtual machines "
                         "(backup_exempt_attribute); check its spelling in vCenter's Custom Attributes"}
    return {"keys": keys}


def _find_datacenter(si: Any, name: str) -> tuple[Any, list[Any]]:
    """The Datacenter named ``name`` (or whose folder path is ``name``) and the Datacenter and Folder
    objects above it: (ref, [Obj]), or (None, [])."""
    found = client.datacenters_and_folders(si)
    places = mapping.Places(found)
    for o in found.get("Datacenter", []):
        if o.get("name") == name or places.datacenter_path(o.moid) == name:
            return o.ref, found.get("Datacenter", []) + found.get("Folder", [])
    return None, []
