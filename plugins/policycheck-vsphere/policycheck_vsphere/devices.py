"""Pure mapping of a VM's config.hardware.device: virtual disks in boot order and host-bound (passthrough) devices."""
from __future__ import annotations

import re

TAPE = re.compile(r"\b(lto|ultrium|tape|sdlt|dlt|ult3580|ts1[01]\d\d|hh\d|sequential[- ]access)", re.I)
CHANGER = re.compile(r"changer|\blibrary\b|autoloader|\bmsl\d|\bts[234]\d{3}\b|\bstoreonce\b.*\bvtl\b", re.I)
HBA = re.compile(r"fibre channel|\bhba\b|\bfc\b|qlogic|emulex|\blpe\d|\bqle\d|\bsas\b|\bisp2\d{3}", re.I)


def _moid(ref) -> str | None:
    return getattr(ref, "_moId", None) if ref is not None else None


def _device_name(dev) -> str:
    label = dev.deviceInfo.label if dev.deviceInfo is not None else type(dev).__name__
    backing_name = getattr(dev.backing, "deviceName", None)
    return f"{label} ({backing_name})" if backing_name else label


def _passthrough(dev, kind: str) -> dict:
    """One host-bound device: its type, label, vCenter's description (deviceInfo.summary) and class."""
    info = dev.deviceInfo
    label = info.label if info is not None and info.label else type(dev).__name__.split(".")[-1]
    summary = info.summary if info is not None and info.summary else None
    backing_name = getattr(dev.backing, "deviceName", None)
    # "id" names the device in evidence: its label and vCenter's description ("SCSI device 0 (LTO-8)")
    out = {"id": f"{label} ({summary})" if summary and summary != label else label,
           "type": kind, "name": _device_name(dev), "label": label, "description": summary,
           "backing": backing_name}
    text = " ".join(x for x in (summary, backing_name) if isinstance(x, str))
    if kind == "scsi":
        if CHANGER.search(text):
            out["class"] = "changer"
        elif TAPE.search(text):
            out["class"] = "tape"
        else:
            # SCSI generic passthrough is how a VM drives tape drives and changers: a device whose
            # description does not say what it is stays unknown (never read as "not a tape")
            out["_unknown"] = {"class": (f"SCSI passthrough device {label!r} ({backing_name}): vCenter's "
                                         f"description {summary!r} does not say whether it is a tape "
                                         "drive or a medium changer")}
    elif kind == "pci" and HBA.search(text):
        out["class"] = "hba"
    elif CHANGER.search(text):
        out["class"] = "changer"
    elif TAPE.search(text):
        out["class"] = "tape"
    else:
        out["class"] = "other"
    return out


def devices(devices, ds_id, ds_by_name=None, dc=None) -> tuple[list[dict], list[dict]]:
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
            if ds_ref is None and file_name.startswith("[") and "]" in file_name:
                # the datastore by name, in the VM's datacenter (names repeat across datacenters)
                hits = (ds_by_name or {}).get((dc, file_name[1:file_name.index("]")].lower()), set())
                ds_ref = next(iter(hits)) if len(hits) == 1 else None
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
            passthrough.append(_passthrough(d, "pci"))
        elif isinstance(d, vd.VirtualSCSIPassthrough):
            passthrough.append(_passthrough(d, "scsi"))
        elif isinstance(d, vd.VirtualUSB):
            # a device on an ESXi host (USBBackingInfo, RemoteHostBackingInfo); a client's is not host-bound
            if not isinstance(d.backing, vd.VirtualUSB.RemoteClientBackingInfo):
                passthrough.append(_passthrough(d, "usb"))
        elif isinstance(d, vd.VirtualSerialPort) and isinstance(d.backing, vd.VirtualDevice.DeviceBackingInfo):
            passthrough.append(_passthrough(d, "serial"))
        elif isinstance(d, vd.VirtualParallelPort) and isinstance(d.backing, vd.VirtualDevice.DeviceBackingInfo):
            passthrough.append(_passthrough(d, "parallel"))
        elif isinstance(d, (vd.VirtualCdrom, vd.VirtualFloppy)) and isinstance(
                d.backing, vd.VirtualDevice.DeviceBackingInfo):
            # AtapiBackingInfo / PassthroughBackingInfo / floppy DeviceBackingInfo: a host drive
            passthrough.append(_passthrough(d, "cdrom" if isinstance(d, vd.VirtualCdrom) else "other"))
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
