"""Maps retrieved vSphere managed-object properties onto the facts kinds vm, hypervisor_host, cluster, datastore."""
from __future__ import annotations

from datetime import datetime, timezone

CONNECTION = {"connected": "connected", "disconnected": "disconnected", "notResponding": "not_responding"}
POWER = {"poweredOn": "on", "poweredOff": "off", "suspended": "suspended"}
DRS = {"manual": "manual", "partiallyAutomated": "partially_automated", "fullyAutomated": "fully_automated"}
DS_TYPE = {"vmfs": "vmfs", "nfs": "nfs", "nfs41": "nfs", "vsan": "vsan", "vvol": "vvol", "pmem": "pmem"}

# Which fact attributes a vSphere property feeds (for _unknown when vCenter cannot read it).
FEEDS = {
    "ClusterComputeResource": {"host": ["hosts"], "configurationEx": ["ha_enabled", "drs_enabled", "drs_automation"]},
    "HostSystem": {"runtime.connectionState": ["connection_state"], "runtime.inMaintenanceMode": ["maintenance"],
                   "datastore": ["datastores"], "summary.config.vmotionEnabled": ["vmotion_enabled"]},
    "Datastore": {"summary.type": ["type"], "host": ["hosts", "shared"]},
    "VirtualMachine": {"config.template": ["is_template"], "config.hardware.device": ["disks", "passthrough_devices"],
                       "guest.hostName": ["guest_hostname"], "runtime.powerState": ["power_state"],
                       "runtime.host": ["host", "cluster"], "snapshot": ["snapshots"]},
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


def _unknown(obj, kind_type: str, entity: dict) -> None:
    """Turn properties vCenter could not read (missingSet faults) into ``_unknown`` reasons."""
    for path, fault in obj.missing.items():
        reason = f"vCenter could not read {path}: {type(fault).__name__}"
        priv = getattr(fault, "privilegeId", None)
        if priv:
            reason += f" (privilege {priv})"
        for attr in FEEDS.get(kind_type, {}).get(path, []):
            entity.pop(attr, None)
            entity.setdefault("_unknown", {})[attr] = reason


def _vmotion(obj) -> bool | None:
    for nc in obj.get("config.virtualNicManagerInfo.netConfig") or []:
        if nc.nicType == "vmotion":
            return bool(nc.selectedVnic)
    v = obj.get("summary.config.vmotionEnabled")
    return None if v is None else bool(v)


def host_names(raw) -> dict[str, str]:
    return {h.moid: h.get("name", h.moid).lower() for h in raw.get("HostSystem", [])}


def build(raw: dict, settings: dict) -> dict:
    """The fragment for everything in ``raw`` (type -> [Obj]), limited to ``settings['cluster']`` if set."""
    clusters_raw = raw.get("ClusterComputeResource", [])
    hosts_raw = raw.get("HostSystem", [])
    ds_raw = raw.get("Datastore", [])
    vms_raw = raw.get("VirtualMachine", [])

    host_id = host_names(raw)
    cluster_id = {c.moid: c.get("name", c.moid).lower() for c in clusters_raw}
    ds_id = {d.moid: d.get("name", d.moid).lower() for d in ds_raw}
    vm_id = {v.moid: v.get("name", v.moid).lower() for v in vms_raw}
    host_cluster = {}
    for h in hosts_raw:
        parent = _moid(h.get("parent"))
        host_cluster[h.moid] = cluster_id.get(parent)

    scope = settings.get("cluster")
    if scope:
        keep = [c for c in clusters_raw if c.get("name") == scope]
        clusters_raw = keep
        kept_hosts = {h.moid for h in hosts_raw if host_cluster.get(h.moid) == scope.lower()}
        hosts_raw = [h for h in hosts_raw if h.moid in kept_hosts]
        vms_raw = [v for v in vms_raw if _moid(v.get("runtime.host")) in kept_hosts]
        used_ds = {_moid(r) for h in hosts_raw for r in (h.get("datastore") or [])}
        ds_raw = [d for d in ds_raw if d.moid in used_ds]

    # Datastores and their mounts.
    datastores, ds_hosts = [], {}
    for d in ds_raw:
        mounted, inaccessible = [], []
        for m in d.get("host") or []:
            hid = host_id.get(_moid(m.key))
            if hid is None:
                continue
            info = m.mountInfo
            if info is not None and info.mounted is False:
                continue
            (inaccessible if info is not None and info.accessible is False else mounted).append(hid)
        ds_hosts[d.moid] = mounted
        raw_type = (d.get("summary.type") or "").lower()
        e = {"id": ds_id[d.moid], "aliases": [d.moid], "name": d.get("name"),
             "type": DS_TYPE.get(raw_type, raw_type or "other"),
             "hosts": sorted(mounted), "shared": len(mounted) >= 2,
             "vsphere_type": d.get("summary.type"),
             "vsphere_multiple_host_access": d.get("summary.multipleHostAccess")}
        if inaccessible:
            e["vsphere_inaccessible_hosts"] = sorted(inaccessible)
        _unknown(d, "Datastore", e)
        datastores.append(e)

    # Hypervisor hosts.
    hosts = []
    for h in hosts_raw:
        e = {"id": host_id[h.moid], "aliases": [h.moid], "name": h.get("name"),
             "cluster": host_cluster.get(h.moid),
             "connection_state": CONNECTION.get(h.get("runtime.connectionState"), "not_responding"),
             "maintenance": bool(h.get("runtime.inMaintenanceMode")),
             "datastores": sorted({ds_id[_moid(r)] for r in (h.get("datastore") or []) if _moid(r) in ds_id})}
        vm = _vmotion(h)
        if vm is not None:
            e["vmotion_enabled"] = vm
        _unknown(h, "HostSystem", e)
        hosts.append(e)

    # Clusters, and per-VM rules/overrides from their configurationEx.
    clusters, vm_rules, vm_ha_off, vm_drs_off, vm_in_cluster_cfg = [], {}, set(), set(), {}
    for c in clusters_raw:
        members = [host_id[_moid(r)] for r in (c.get("host") or []) if _moid(r) in host_id]
        cfg = c.get("configurationEx")
        e = {"id": cluster_id[c.moid], "aliases": [c.moid], "name": c.get("name"), "hosts": sorted(members)}
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
            vm_in_cluster_cfg[c.moid] = True
        _unknown(c, "ClusterComputeResource", e)
        clusters.append(e)
    cluster_has_cfg = {cluster_id[m] for m in vm_in_cluster_cfg}

    # Virtual machines.
    declared = {k.lower(): v for k, v in (settings.get("vm_aliases") or {}).items()}
    vms = []
    for v in vms_raw:
        name = v.get("name", v.moid)
        e = {"id": vm_id[v.moid], "name": name}
        aliases = {v.moid}
        if name.lower() != e["id"]:
            aliases.add(name)
        hn = v.get("guest.hostName")
        e["guest_hostname"] = hn or None
        if hn:
            aliases.add(hn.lower())
            aliases.add(hn.split(".")[0].lower())
        for key in ("config.uuid", "config.instanceUuid"):
            if v.get(key):
                aliases.add(v.get(key))
        aliases.update(a.lower() for a in declared.get(name.lower(), []))
        aliases.discard(e["id"])
        e["aliases"] = sorted(aliases)
        if "runtime.powerState" in v.props:
            e["power_state"] = POWER.get(v.get("runtime.powerState"), "off")
        if "config.template" in v.props:
            e["is_template"] = bool(v.get("config.template"))
        host_moid = _moid(v.get("runtime.host"))
        e["host"] = host_id.get(host_moid)
        e["cluster"] = host_cluster.get(host_moid)
        if e["cluster"] is not None and e["cluster"] in cluster_has_cfg:
            e["host_rules"] = vm_rules.get(v.moid, [])
            e["ha_disabled"] = v.moid in vm_ha_off
            e["drs_disabled"] = v.moid in vm_drs_off
        elif e["cluster"] is None and host_moid in host_id:
            e["host_rules"] = []
        devices = v.get("config.hardware.device")
        if devices is not None:
            e["disks"], e["passthrough_devices"] = _devices(devices, ds_id)
        snap = v.get("snapshot")
        e["snapshots"] = _snapshots(snap.rootSnapshotList if snap is not None else [])
        e["vsphere_datastores"] = sorted({ds_id[_moid(r)] for r in (v.get("datastore") or []) if _moid(r) in ds_id})
        _unknown(v, "VirtualMachine", e)
        vms.append(e)

    return {"entities": {"vm": vms, "hypervisor_host": hosts, "cluster": clusters, "datastore": datastores}}


def _snapshots(tree) -> list[dict]:
    out = []
    for node in tree or []:
        out.append({"name": node.name, "time": iso(node.createTime)})
        out.extend(_snapshots(node.childSnapshotList))
    return out


def _device_name(dev) -> str:
    label = dev.deviceInfo.label if dev.deviceInfo is not None else type(dev).__name__
    backing_name = getattr(dev.backing, "deviceName", None)
    return f"{label} ({backing_name})" if backing_name else label


def _devices(devices, ds_id) -> tuple[list[dict], list[dict]]:
    """Virtual disks (system disk marked) and host-bound devices of one VM's config.hardware.device."""
    from pyVmomi import vim

    vd = vim.vm.device
    controllers = {d.key: d for d in devices if isinstance(d, vd.VirtualController)}
    disks, passthrough = [], []
    for d in devices:
        if isinstance(d, vd.VirtualDisk):
            b = d.backing
            ds = _moid(getattr(b, "datastore", None))
            file_name = getattr(b, "fileName", None) or ""
            ds_ref = ds_id.get(ds)
            if ds_ref is None and file_name.startswith("["):
                ds_ref = file_name[1:file_name.index("]")].lower() if "]" in file_name else None
            ctrl = controllers.get(d.controllerKey)
            size_kb = (d.capacityInBytes // 1024) if getattr(d, "capacityInBytes", None) else d.capacityInKB
            disks.append({
                "label": d.deviceInfo.label if d.deviceInfo else f"disk {d.key}",
                "datastore": ds_ref,
                "size_gb": round((size_kb or 0) / 1024 / 1024, 2),
                "file": file_name,
                "unit": f"{_ctrl_kind(ctrl)}{getattr(ctrl, 'busNumber', '?')}:{d.unitNumber}",
                "_order": (_ctrl_rank(ctrl), getattr(ctrl, "busNumber", 99), d.unitNumber or 0, d.key),
            })
        elif isinstance(d, vd.VirtualPCIPassthrough):
            passthrough.append({"type": "pci", "name": _device_name(d)})
        elif isinstance(d, vd.VirtualSCSIPassthrough):
            passthrough.append({"type": "scsi", "name": _device_name(d)})
        elif isinstance(d, vd.VirtualUSB):
            # a device on an ESXi host (USBBackingInfo, RemoteHostBackingInfo); a client's is not host-bound
            if not isinstance(d.backing, vd.VirtualUSB.RemoteClientBackingInfo):
                passthrough.append({"type": "usb", "name": _device_name(d)})
        elif isinstance(d, vd.VirtualSerialPort) and isinstance(d.backing, vd.VirtualDevice.DeviceBackingInfo):
            passthrough.append({"type": "serial", "name": _device_name(d)})
        elif isinstance(d, vd.VirtualParallelPort) and isinstance(d.backing, vd.VirtualDevice.DeviceBackingInfo):
            passthrough.append({"type": "parallel", "name": _device_name(d)})
        elif isinstance(d, (vd.VirtualCdrom, vd.VirtualFloppy)) and isinstance(
                d.backing, vd.VirtualDevice.DeviceBackingInfo):
            # AtapiBackingInfo / PassthroughBackingInfo / floppy DeviceBackingInfo: a host drive
            passthrough.append({"type": "cdrom" if isinstance(d, vd.VirtualCdrom) else "other",
                                "name": _device_name(d)})
    disks.sort(key=lambda x: x["_order"])
    for i, disk in enumerate(disks):
        disk.pop("_order")
        disk["system"] = i == 0
    return disks, passthrough


def _ctrl_kind(ctrl) -> str:
    from pyVmomi import vim

    vd = vim.vm.device
    if isinstance(ctrl, vd.VirtualSCSIController):
        return "scsi"
    if isinstance(ctrl, vd.VirtualIDEController):
        return "ide"
    if isinstance(ctrl, vd.VirtualNVMEController):
        return "nvme"
    if isinstance(ctrl, vd.VirtualAHCIController):
        return "sata"
    return "ctrl"


def _ctrl_rank(ctrl) -> int:
    # The firmware's default boot order prefers SCSI, then NVMe/SATA, then IDE.
    return {"scsi": 0, "nvme": 1, "sata": 2, "ide": 3}.get(_ctrl_kind(ctrl), 4)
