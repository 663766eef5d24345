"""Maps retrieved vSphere managed-object properties onto the facts kinds vm, host, hypervisor_host, cluster, datastore."""
from __future__ import annotations

from datetime import datetime, timezone

from policycheck.kit.names import norm_host, short_name
from policycheck_vsphere.devices import devices as _devices
from policycheck_vsphere.hosts import vm_hosts

CONNECTION = {"connected": "connected", "disconnected": "disconnected", "notResponding": "not_responding"}
POWER = {"poweredOn": "on", "poweredOff": "off", "suspended": "suspended"}
DRS = {"manual": "manual", "partiallyAutomated": "partially_automated", "fullyAutomated": "fully_automated"}
DS_TYPE = {"vmfs": "vmfs", "nfs": "nfs", "nfs41": "nfs", "vsan": "vsan", "vvol": "vvol", "pmem": "pmem"}

# Which fact attributes a vSphere property feeds (for _unknown when vCenter cannot read it).
FEEDS = {
    "ClusterComputeResource": {"name": ["name"], "host": ["hosts"],
                               "configurationEx": ["ha_enabled", "drs_enabled", "drs_automation"]},
    "HostSystem": {"name": ["name"], "runtime.connectionState": ["connection_state"],
                   "runtime.inMaintenanceMode": ["maintenance"],
                   "datastore": ["datastores"], "summary.config.vmotionEnabled": ["vmotion_enabled"]},
    "Datastore": {"name": ["name"], "summary.type": ["type"], "host": ["hosts", "shared"]},
    "VirtualMachine": {"name": ["name"], "config.template": ["is_template"],
                       "config.hardware.device": ["disks", "passthrough_devices"],
                       "guest.hostName": ["guest_hostname"], "runtime.powerState": ["power_state"],
                       "runtime.host": ["host", "cluster"], "snapshot": ["snapshots"]},
}

# Properties vCenter always sends for a healthy object: their absence from an answer is a malformed
# element (the attribute becomes unknown, never a default such as "not in maintenance").
REQUIRED = {
    "ClusterComputeResource": ("name", "host", "configurationEx"),
    "HostSystem": ("name", "runtime.connectionState", "runtime.inMaintenanceMode"),
    "Datastore": ("name", "summary.type", "host"),
    "VirtualMachine": ("name", "config.template", "config.hardware.device", "runtime.powerState", "runtime.host"),
}


def iso(t) -> str:
    """ISO 8601 with the server's offset (vCenter sends UTC)."""
    if isinstance(t, datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        return t.isoformat()
    return str(t)


def _moid(ref) -> str | None:
    return getattr(ref, "_moId", None) if ref is not None else None


class Places:
    """Where objects live: the datacenter (its folder path below the root, e.g. ``EU/DC-Paris``) of
    every object, from the Datacenter and Folder objects read with the inventory."""

    def __init__(self, raw, extra=()):
        self.parent, self.dc_name, self.folder_name = {}, {}, {}
        for o in list(raw.get("Datacenter", [])) + list(raw.get("Folder", [])) + list(extra):
            kind = type(o.ref).__name__.split(".")[-1]
            if kind.endswith("Datacenter"):
                self.dc_name[o.moid] = o.get("name", o.moid)
            else:
                self.folder_name[o.moid] = o.get("name", o.moid)
                for child in o.get("childEntity") or []:
                    self.parent.setdefault(_moid(child), o.moid)
            p = _moid(o.get("parent"))
            if p:
                self.parent[o.moid] = p

    def add_parent(self, moid, parent_moid):
        if moid and parent_moid:
            self.parent.setdefault(moid, parent_moid)

    def datacenter_of(self, moid) -> str | None:
        seen = set()
        while moid is not None and moid not in seen:
            if moid in self.dc_name:
                return moid
            seen.add(moid)
            moid = self.parent.get(moid)
        return None

    def datacenter_path(self, dc_moid) -> str | None:
        if dc_moid not in self.dc_name:
            return None
        parts, m, seen = [self.dc_name[dc_moid]], self.parent.get(dc_moid), set()
        while m in self.folder_name and m not in seen:  # the root folder is not in the view: stops there
            seen.add(m)
            parts.append(self.folder_name[m])
            m = self.parent.get(m)
        return "/".join(reversed(parts))


class Mapper:
    """Maps one vCenter's retrieved objects to facts; ids are ``<moref>@<vCenter host>``."""

    def __init__(self, raw, settings, scope_dc=None):
        self.vc = norm_host(settings.get("host", "vcenter"))
        self.raw = raw
        self.places = Places(raw, scope_dc or ())

    def id(self, moid) -> str:
        return f"{moid}@{self.vc}"

    def describe(self, kind_type, obj) -> str:
        name = obj.get("name")
        return f"{kind_type} {name!r} ({obj.moid})" if name else f"{kind_type} {obj.moid}"

    def datacenter(self, moid) -> str | None:
        return self.places.datacenter_path(self.places.datacenter_of(moid))

    def unknown(self, obj, kind_type: str, entity: dict) -> None:
        """Properties vCenter could not read (missingSet faults) or left out of its answer, and
        values of the wrong shape, become ``_unknown`` reasons naming the object and property."""
        what = self.describe(kind_type, obj)
        for path, fault in obj.missing.items():
            reason = f"vCenter {self.vc}: {what}: could not read {path} ({type(fault).__name__}"
            priv = getattr(fault, "privilegeId", None)
            reason += f", privilege {priv})" if priv else ")"
            for attr in FEEDS.get(kind_type, {}).get(path, []):
                entity.pop(attr, None)
                entity.setdefault("_unknown", {})[attr] = reason
        for path in REQUIRED.get(kind_type, ()):
            if path in obj.props or path in obj.missing:
                continue
            reason = f"vCenter {self.vc}: {what}: the answer omitted {path}"
            for attr in FEEDS.get(kind_type, {}).get(path, []):
                entity.pop(attr, None)
                entity.setdefault("_unknown", {}).setdefault(attr, reason)


def _vmotion(obj) -> bool | None:
    for nc in obj.get("config.virtualNicManagerInfo.netConfig") or []:
        if nc.nicType == "vmotion":
            return bool(nc.selectedVnic)
    v = obj.get("summary.config.vmotionEnabled")
    return v if isinstance(v, bool) else None


def build(raw: dict, settings: dict, scope_dc=None, events=None, custom: dict | None = None) -> dict:
    """The fragment for everything in ``raw`` (type -> [Obj]), limited to ``settings['cluster']`` if set.

    ``scope_dc``: Datacenter/Folder Objs above a datacenter scope (not in the scoped views);
    ``events``: (clone events, why older ones may be missing) or an exception text (unreadable);
    ``custom``: the exemption custom attribute's keys ({"keys": {int}}) or {"error": reason}, when set."""
    m = Mapper(raw, settings, scope_dc)
    clusters_raw = raw.get("ClusterComputeResource", [])
    hosts_raw = raw.get("HostSystem", [])
    ds_raw = raw.get("Datastore", [])
    vms_raw = raw.get("VirtualMachine", [])
    all_vms = list(vms_raw)

    host_id = {h.moid: m.id(h.moid) for h in hosts_raw}
    cluster_id = {c.moid: m.id(c.moid) for c in clusters_raw}
    ds_id = {d.moid: m.id(d.moid) for d in ds_raw}
    vm_id = {v.moid: m.id(v.moid) for v in vms_raw}
    host_cluster, host_parent = {}, {}
    for h in hosts_raw:
        parent = _moid(h.get("parent"))
        host_parent[h.moid] = parent
        host_cluster[h.moid] = cluster_id.get(parent)
        m.places.add_parent(h.moid, parent)
    for c in clusters_raw:
        m.places.add_parent(c.moid, _moid(c.get("parent")))

    scope = settings.get("cluster")
    if scope:
        keep = [c for c in clusters_raw if c.get("name") == scope]
        clusters_raw = keep
        kept_cl = {c.moid for c in keep}
        kept_hosts = {h.moid for h in hosts_raw if host_parent.get(h.moid) in kept_cl}
        hosts_raw = [h for h in hosts_raw if h.moid in kept_hosts]
        vms_raw = [v for v in vms_raw if _moid(v.get("runtime.host")) in kept_hosts]
        used_ds = {_moid(r) for h in hosts_raw for r in (h.get("datastore") or [])}
        ds_raw = [d for d in ds_raw if d.moid in used_ds]

    # Datastores and their mounts.
    datastores, ds_mount_unknown, ds_by_name = [], {}, {}
    for d in ds_raw:
        mounted, inaccessible = [], []
        for mnt in d.get("host") or []:
            hid = host_id.get(_moid(getattr(mnt, "key", None)))
            if hid is None:
                continue
            info = getattr(mnt, "mountInfo", None)
            if info is not None and info.mounted is False:
                continue
            (inaccessible if info is not None and info.accessible is False else mounted).append(hid)
        raw_type = d.get("summary.type")
        raw_type = raw_type.lower() if isinstance(raw_type, str) else ""
        dc = m.datacenter(d.moid)
        e = {"id": ds_id[d.moid], "aliases": [], "name": d.get("name"), "datacenter": dc,
             "vsphere_moid": d.moid, "type": DS_TYPE.get(raw_type, raw_type or "other"),
             "hosts": sorted(mounted), "shared": len(mounted) >= 2,
             "vsphere_type": d.get("summary.type"),
             "vsphere_multiple_host_access": d.get("summary.multipleHostAccess")}
        if inaccessible:
            e["vsphere_inaccessible_hosts"] = sorted(inaccessible)
        m.unknown(d, "Datastore", e)
        if "shared" in (e.get("_unknown") or {}):
            ds_mount_unknown[ds_id[d.moid]] = e["_unknown"]["shared"]
        if d.get("name"):
            ds_by_name.setdefault((dc, d.get("name").lower()), set()).add(ds_id[d.moid])
        datastores.append(e)

    # Hypervisor hosts: the name (the host's address, unique in a vCenter) is an alias when no other
    # host in this answer has it.
    host_names: dict = {}
    for h in hosts_raw:
        if isinstance(h.get("name"), str):
            host_names.setdefault(norm_host(h.get("name")), []).append(h.moid)
    hosts = []
    for h in hosts_raw:
        name = h.get("name")
        e = {"id": host_id[h.moid], "name": name, "datacenter": m.datacenter(h.moid),
             "aliases": [norm_host(name)] if isinstance(name, str) and len(host_names[norm_host(name)]) == 1 else [],
             "vsphere_moid": h.moid, "cluster": host_cluster.get(h.moid)}
        state = h.get("runtime.connectionState")
        if state in CONNECTION:
            e["connection_state"] = CONNECTION[state]
        elif "runtime.connectionState" in h.props:
            e.setdefault("_unknown", {})["connection_state"] = (
                f"vCenter {m.vc}: {m.describe('HostSystem', h)}: runtime.connectionState is {state!r}, "
                "not connected/disconnected/notResponding")
        maint = h.get("runtime.inMaintenanceMode")
        if isinstance(maint, bool):
            e["maintenance"] = maint
        elif "runtime.inMaintenanceMode" in h.props:
            e.setdefault("_unknown", {})["maintenance"] = (
                f"vCenter {m.vc}: {m.describe('HostSystem', h)}: runtime.inMaintenanceMode is {maint!r}, "
                "not a boolean")
        e["datastores"] = sorted({ds_id[_moid(r)] for r in (h.get("datastore") or []) if _moid(r) in ds_id})
        vm_ok = _vmotion(h)
        if vm_ok is not None:
            e["vmotion_enabled"] = vm_ok
        else:
            e.setdefault("_unknown", {})["vmotion_enabled"] = (
                f"vCenter {m.vc}: {m.describe('HostSystem', h)}: neither "
                "config.virtualNicManagerInfo.netConfig nor summary.config.vmotionEnabled was readable")
        m.unknown(h, "HostSystem", e)
        hosts.append(e)

    # Clusters, and per-VM rules/overrides from their configurationEx.
    clusters, vm_rules, vm_ha_off, vm_drs_off, cluster_has_cfg = [], {}, set(), set(), set()
    for c in clusters_raw:
        members = [host_id[_moid(r)] for r in (c.get("host") or []) if _moid(r) in host_id]
        cfg = c.get("configurationEx")
        e = {"id": cluster_id[c.moid], "aliases": [], "name": c.get("name"), "datacenter": m.datacenter(c.moid),
             "vsphere_moid": c.moid, "hosts": sorted(members)}
        if cfg is not None:
            das, drs = cfg.dasConfig, cfg.drsConfig
            e["ha_enabled"] = bool(das and das.enabled)
            e["drs_enabled"] = bool(drs and drs.enabled)
            behavior = drs.defaultVmBehavior if drs else None
            if behavior:
                e["drs_automation"] = DRS.get(behavior, behavior)
            if das is not None:
                e["vsphere_ha_host_monitoring"] = das.hostMonitoring
                e["vsphere_ha_admission_control"] = das.admissionControlEnabled
            vm_groups, host_groups = {}, {}
            for g in cfg.group or []:
                if hasattr(g, "vm"):
                    vm_groups[g.name] = [_moid(r) for r in g.vm or []]
                elif hasattr(g, "host"):
                    host_groups[g.name] = [host_id[_moid(r)] for r in g.host or [] if _moid(r) in host_id]
            for r in cfg.rule or []:
                if not hasattr(r, "vmGroupName"):
                    continue  # VM-VM (anti-)affinity rules do not bind a VM to hosts
                if r.affineHostGroupName:
                    allowed = sorted(host_groups.get(r.affineHostGroupName, []))
                    anti = False
                else:
                    excluded = set(host_groups.get(r.antiAffineHostGroupName, []))
                    allowed = sorted(set(members) - excluded)
                    anti = True
                rule = {"name": r.name, "mandatory": bool(r.mandatory), "hosts": allowed,
                        "enabled": r.enabled is not False, "cluster": cluster_id[c.moid],
                        "vsphere_kind": "must_not_run_on" if anti and r.mandatory else
                        "should_not_run_on" if anti else "must_run_on" if r.mandatory else "should_run_on"}
                for vm_moid in vm_groups.get(r.vmGroupName, []):
                    vm_rules.setdefault(vm_moid, []).append(rule)
            for o in cfg.dasVmConfig or []:
                prio = (o.dasSettings.restartPriority if o.dasSettings else None) or o.restartPriority
                if prio == "disabled":
                    vm_ha_off.add(_moid(o.key))
            for o in cfg.drsVmConfig or []:
                if o.enabled is False:
                    vm_drs_off.add(_moid(o.key))
            cluster_has_cfg.add(cluster_id[c.moid])
        m.unknown(c, "ClusterComputeResource", e)
        clusters.append(e)

    # Templates made from VMs (VmClonedEvent: source VM -> destination that is a template now).
    template_of, template_unknown = _templates(m, all_vms, vm_id, events)

    # Virtual machines: the guest host name (and its short name) is an alias when no other VM in
    # this answer reports it, so a VM joins its inventory host without two VMs merging.
    guest_names: dict = {}
    for v in vms_raw:
        hn = v.get("guest.hostName")
        if isinstance(hn, str) and hn:
            for n in {norm_host(hn), short_name(hn)}:
                guest_names.setdefault(n, set()).add(v.moid)
    vm_names: dict = {}
    for v in vms_raw:
        if isinstance(v.get("name"), str):
            vm_names.setdefault(v.get("name").lower(), []).append(v.moid)
    instance_uuids: dict = {}
    for v in vms_raw:
        iu = v.get("config.instanceUuid")
        if isinstance(iu, str) and iu:
            instance_uuids[iu.lower()] = instance_uuids.get(iu.lower(), 0) + 1
    declared = {k.lower(): v for k, v in (settings.get("vm_aliases") or {}).items()}
    vms: list[dict] = []
    said: list[tuple[dict, dict]] = []
    for v in vms_raw:
        name = v.get("name")
        dc = m.datacenter(v.moid)
        host_moid = _moid(v.get("runtime.host"))
        if dc is None and host_moid:
            dc = m.datacenter(host_moid)
        e = {"id": vm_id[v.moid], "name": name, "datacenter": dc, "vsphere_moid": v.moid}
        aliases = set()
        hn = v.get("guest.hostName")
        e["guest_hostname"] = hn if isinstance(hn, str) and hn else None
        if e["guest_hostname"]:
            aliases.update(n for n in {norm_host(hn), short_name(hn)} if len(guest_names[n]) == 1)
        iu = v.get("config.instanceUuid")
        if isinstance(iu, str) and iu and instance_uuids.get(iu.lower()) == 1:
            aliases.add(iu)  # vCenter keeps it unique (config.uuid is not); a repeated one joins nothing
        if v.get("config.uuid"):
            e["vsphere_uuid"] = v.get("config.uuid")
        mine_declared: set = set()
        if isinstance(name, str):
            unique_name = len(vm_names[name.lower()]) == 1
            for key in ((f"{dc}/{name}".lower(),) + ((name.lower(),) if unique_name else ())):
                mine_declared.update(a.lower() for a in declared.get(key, []))
        aliases.update(mine_declared)
        aliases.discard(e["id"])
        e["aliases"] = sorted(aliases)
        ps = v.get("runtime.powerState")
        if ps in POWER:
            e["power_state"] = POWER[ps]
        elif "runtime.powerState" in v.props:
            e.setdefault("_unknown", {})["power_state"] = (
                f"vCenter {m.vc}: {m.describe('VirtualMachine', v)}: runtime.powerState is {ps!r}")
        if isinstance(v.get("config.template"), bool):
            e["is_template"] = v.get("config.template")
        if v.get("config.template") is False:
            if v.moid in template_of:
                e["template"] = template_of[v.moid]
            elif template_unknown:
                e.setdefault("_unknown", {})["template"] = template_unknown
            else:
                e["template"] = None
        e["host"] = host_id.get(host_moid)
        e["cluster"] = host_cluster.get(host_moid)
        if host_moid and host_moid not in host_id and "runtime.host" in v.props:
            e.setdefault("_unknown", {})["host"] = e["_unknown"]["cluster"] = (
                f"vCenter {m.vc}: {m.describe('VirtualMachine', v)}: runs on {host_moid}, a host this "
                "user cannot see")
            del e["host"], e["cluster"]
        if e.get("cluster") is not None and e["cluster"] in cluster_has_cfg:
            e["host_rules"] = vm_rules.get(v.moid, [])
            e["ha_disabled"] = v.moid in vm_ha_off
            e["drs_disabled"] = v.moid in vm_drs_off
        elif "cluster" in e and e["cluster"] is None and host_moid in host_id:
            e["host_rules"] = []
        devices = v.get("config.hardware.device")
        if devices is not None:
            e["disks"], e["passthrough_devices"] = _devices(devices, ds_id, ds_by_name, dc)
            for disk in e["disks"]:
                why = ds_mount_unknown.get(disk.get("datastore"))
                if why:
                    disk.setdefault("_unknown", {})["shared"] = (
                        f"VM {name!r} ({v.moid}) disk {disk['label']!r}: whether datastore "
                        f"{disk['datastore']} is shared is unknown: {why}")
        snap = v.get("snapshot")
        e["snapshots"] = _snapshots(snap.rootSnapshotList if snap is not None else [])
        e["vsphere_datastores"] = sorted({ds_id[_moid(r)] for r in (v.get("datastore") or []) if _moid(r) in ds_id})
        m.unknown(v, "VirtualMachine", e)
        vms.append(e)
        said.append((e, {"name": name, "guest": hn, "template": v.get("config.template") is True,
                         "declared": sorted(mine_declared), "custom": v.get("customValue"),
                         "custom_error": _fault(v.missing.get("customValue"))}))

    machines = vm_hosts(m.vc, said, custom)
    return {"entities": {"vm": vms, "host": machines, "hypervisor_host": hosts, "cluster": clusters,
                         "datastore": datastores}}


def _fault(fault) -> str | None:
    if fault is None:
        return None
    priv = getattr(fault, "privilegeId", None)
    return f"{type(fault).__name__}, privilege {priv}" if priv else type(fault).__name__


def _templates(m, vms_raw, vm_id, events):
    """({source VM moid: template id}, reason the link is unknown or None).

    A template made from a VM is known only from its VmClonedEvent. If every template in the
    inventory has one, a VM without one has no template (null); if some template's event is
    missing (aged out of vCenter's retention, beyond the read window, or the template was converted
    from a VM), or the events cannot be read, a VM without a known template has it unknown."""
    templates = {v.moid: v for v in vms_raw if v.get("config.template") is True}
    if isinstance(events, str):  # the events could not be read
        return {}, f"vCenter {m.vc}: {events}"
    evs, truncated = events if events is not None else ([], "the events were not read")
    origin, when = {}, {}
    oldest = None
    for ev in evs:
        dest = _moid(getattr(getattr(ev, "vm", None), "vm", None))
        src = _moid(getattr(getattr(ev, "sourceVm", None), "vm", None))
        t = getattr(ev, "createdTime", None)
        if isinstance(t, datetime) and (oldest is None or t < oldest):
            oldest = t
        if dest in templates and src and (dest not in when or (t and when[dest] and t > when[dest])):
            origin[dest], when[dest] = src, t
    template_of, made = {}, {}
    for dest, src in origin.items():
        t = when.get(dest)
        if src not in made or (t and made[src] and t > made[src]):
            template_of[src], made[src] = vm_id.get(dest, m.id(dest)), t
    missing = sorted(templates[t].get("name") or t for t in templates if t not in origin)
    if not missing:
        return template_of, None
    shown = ", ".join(repr(n) for n in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    window = f"oldest clone event read: {iso(oldest)}" if oldest else "no clone event in the history"
    why = f"; {truncated}" if truncated else ""
    return template_of, (
        f"vCenter {m.vc}: QueryEvents(VmClonedEvent) names no source VM for template(s) {shown} "
        f"({window}{why}): their clone events aged out of the event retention or they were converted "
        "from a VM, so whether a template was made from this VM is unknown")


def _snapshots(tree) -> list[dict]:
    out = []
    for node in tree or []:
        out.append({"name": node.name, "time": iso(node.createTime)})
        out.extend(_snapshots(node.childSnapshotList))
    return out
