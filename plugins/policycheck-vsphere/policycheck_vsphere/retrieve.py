"""Bulk, read-only inventory reads: one ContainerView per type and one RetrievePropertiesEx for all."""
from __future__ import annotations

import contextlib

# The only properties read, per managed-object type (see README.md for what each feeds).
PROPERTIES = {
    "ClusterComputeResource": ["name", "host", "parent", "configurationEx"],
    "HostSystem": ["name", "parent", "datastore", "runtime.connectionState", "runtime.inMaintenanceMode",
                   "summary.config.vmotionEnabled", "config.virtualNicManagerInfo.netConfig"],
    "Datastore": ["name", "summary.type", "summary.multipleHostAccess", "host"],
    "VirtualMachine": ["name", "config.template", "config.uuid", "config.instanceUuid",
                       "config.hardware.device", "guest.hostName", "runtime.powerState", "runtime.host",
                       "resourcePool", "datastore", "snapshot"],
    # where each object lives: folders (their children) up to the datacenter, for the datacenter path
    "Datacenter": ["name", "parent"],
    "Folder": ["name", "parent", "childEntity"],
}

#: the most clone events one run reads (vCenter's own cap for one QueryEvents answer is 1000)
MAX_EVENTS = 1000


class Obj:
    """One managed object's retrieved properties: ``ref``, ``props`` {path: value}, ``missing`` {path: fault}."""

    __slots__ = ("ref", "props", "missing")

    def __init__(self, ref, props, missing):
        self.ref, self.props, self.missing = ref, props, missing

    @property
    def moid(self) -> str:
        return self.ref._moId

    def get(self, path, default=None):
        return self.props.get(path, default)


def properties_for(settings: dict) -> dict[str, list[str]]:
    """PROPERTIES, plus VirtualMachine.customValue when an exemption custom attribute is configured."""
    if not settings.get("backup_exempt_attribute"):
        return PROPERTIES
    props = {k: list(v) for k, v in PROPERTIES.items()}
    props["VirtualMachine"].append("customValue")
    return props


def custom_field_keys(si, name: str) -> set[int]:
    """The keys of the custom attribute definitions called ``name`` that apply to VMs (global or
    VirtualMachine ones), read in one PropertyCollector call on the CustomFieldsManager."""
    from pyVmomi import vim, vmodl

    cfm = si.content.customFieldsManager
    if cfm is None:
        return set()
    PC = vmodl.query.PropertyCollector
    spec = PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=cfm, skip=False)],
                         propSet=[PC.PropertySpec(type=vim.CustomFieldsManager, pathSet=["field"], all=False)])
    result = si.content.propertyCollector.RetrievePropertiesEx([spec], PC.RetrieveOptions())
    keys: set[int] = set()
    for oc in (result.objects if result is not None else None) or []:
        for fault in (m.fault for m in oc.missingSet or []):
            raise fault
        for p in oc.propSet or []:
            for d in p.val or []:
                mo_type = getattr(d, "managedObjectType", None)
                if d.name == name and (mo_type is None or issubclass(vim.VirtualMachine, mo_type)):
                    keys.add(d.key)
    return keys


def find_datacenter(si, name: str):
    """The Datacenter named ``name`` (or whose folder path is ``name``) and the folders above it,
    in one bulk call: (ref, [Obj of Datacenter and Folder]), or (None, [])."""
    found = retrieve(si, si.content.rootFolder, {"Datacenter": ["name", "parent"],
                                                 "Folder": ["name", "parent", "childEntity"]})
    from policycheck_vsphere.mapping import Places

    places = Places(found)
    for o in found.get("Datacenter", []):
        if o.get("name") == name or places.datacenter_path(o.moid) == name:
            return o.ref, found.get("Datacenter", []) + found.get("Folder", [])
    return None, []


def clone_events(si, container) -> tuple[list, str | None]:
    """The VmClonedEvents under ``container`` in vCenter's event history: one bounded QueryEvents call.

    Returns (events, truncated): ``truncated`` says why older events may be missing (the answer
    reached MAX_EVENTS), else None. Raises what vCenter raises (NoPermission, NotImplemented...)."""
    from pyVmomi import vim

    spec = vim.event.EventFilterSpec(
        eventTypeId=["VmClonedEvent"], maxCount=MAX_EVENTS,
        entity=vim.event.EventFilterSpec.ByEntity(entity=container, recursion="all"))
    events = list(si.content.eventManager.QueryEvents(spec) or [])
    truncated = None
    if len(events) >= MAX_EVENTS:
        truncated = f"the answer held the most events one call returns ({MAX_EVENTS})"
    return events, truncated


def retrieve(si, container, properties=PROPERTIES, page_size: int = 1000) -> dict[str, list[Obj]]:
    """Read ``properties`` of every object of each type under ``container`` in bulk.

    One ContainerView per type, one RetrievePropertiesEx carrying all of them, then
    ContinueRetrievePropertiesEx while vCenter hands back a token. Views are destroyed after.
    """
    from pyVmomi import vim, vmodl

    content = si.content
    pc = content.propertyCollector
    views = []
    try:
        object_specs, prop_specs = [], []
        for type_name, paths in properties.items():
            vtype = getattr(vim, type_name)
            view = content.viewManager.CreateContainerView(container, [vtype], True)
            views.append(view)
            traverse = vmodl.query.PropertyCollector.TraversalSpec(
                name=f"view-{type_name}", path="view", skip=False, type=vim.view.ContainerView)
            object_specs.append(vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True,
                                                                         selectSet=[traverse]))
            prop_specs.append(vmodl.query.PropertyCollector.PropertySpec(type=vtype, pathSet=list(paths),
                                                                         all=False))
        spec = vmodl.query.PropertyCollector.FilterSpec(objectSet=object_specs, propSet=prop_specs)
        options = vmodl.query.PropertyCollector.RetrieveOptions(maxObjects=page_size)
        result = pc.RetrievePropertiesEx([spec], options)
        out: dict[str, list[Obj]] = {t: [] for t in properties}
        while result is not None:
            for oc in result.objects or []:
                props = {p.name: p.val for p in (oc.propSet or [])}
                missing = {m.path: m.fault for m in (oc.missingSet or [])}
                type_name = type(oc.obj).__name__.split(".")[-1]
                out.setdefault(_type_key(oc.obj, properties), []).append(Obj(oc.obj, props, missing))
            token = getattr(result, "token", None)
            if not token:
                break
            result = pc.ContinueRetrievePropertiesEx(token)
        return out
    finally:
        for v in views:
            with contextlib.suppress(Exception):  # a view left behind expires with the session
                v.DestroyView()


def _type_key(ref, properties) -> str:
    from pyVmomi import vim

    for type_name in properties:
        if isinstance(ref, getattr(vim, type_name)):
            return type_name
    return type(ref).__name__
