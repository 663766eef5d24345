"""Units without a simulator: config schema, device classification, boot order, unreadable properties."""
from __future__ import annotations

import jsonschema
import pytest
from pyVmomi import vim

from policycheck.api import CollectorError
from policycheck_vsphere import mapping
from policycheck_vsphere.plugin import KINDS, policycheck_collectors
from policycheck_vsphere.retrieve import Obj


def schema():
    (c,) = policycheck_collectors()
    assert c.name == "vsphere" and c.kinds == KINDS
    return c.config_schema


def test_schema_accepts_a_full_config_and_rejects_unknown_keys():
    ok = {"host": "vc", "port": 443, "username": "u", "password": "p", "verify_tls": True,
          "ca_bundle": "/ca.pem", "datacenter": "DC", "cluster": "C", "vm_aliases": {"a": ["b"]}}
    jsonschema.Draft202012Validator(schema()).validate(ok)
    for bad in ({"host": "vc", "username": "u"},                                  # no password
                {"host": "vc", "username": "u", "password": "p", "password_file": "/x"},
                {"host": "vc", "username": "u", "password": "p", "port": "443"},
                {"host": "vc", "username": "u", "password": "p", "scope": "x"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(schema()).validate(bad)


def _disk(key, ctrl, unit, label):
    return vim.vm.device.VirtualDisk(
        key=key, controllerKey=ctrl, unitNumber=unit, capacityInKB=1024 * 1024,
        deviceInfo=vim.Description(label=label, summary=""),
        backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName="[ds1] vm/x.vmdk"))


def test_system_disk_is_first_in_boot_order_and_host_bound_devices_only():
    vd = vim.vm.device
    devices = [
        vd.VirtualIDEController(key=200, busNumber=0),
        vd.ParaVirtualSCSIController(key=1000, busNumber=0),
        vd.ParaVirtualSCSIController(key=1001, busNumber=1),
        _disk(3002, 200, 0, "Hard disk 3"),          # on IDE: after SCSI
        _disk(2016, 1001, 0, "Hard disk 2"),
        _disk(2000, 1000, 1, "Hard disk 1"),
        vd.VirtualCdrom(key=3000, deviceInfo=vim.Description(label="CD 1", summary=""),
                        backing=vd.VirtualCdrom.IsoBackingInfo(fileName="[ds1] a.iso")),
        vd.VirtualCdrom(key=3001, deviceInfo=vim.Description(label="CD 2", summary=""),
                        backing=vd.VirtualCdrom.PassthroughBackingInfo(deviceName="/dev/sr0")),
        vd.VirtualUSB(key=4000, deviceInfo=vim.Description(label="USB client", summary=""),
                      backing=vd.VirtualUSB.RemoteClientBackingInfo(hostname="desk1", deviceName="k")),
        vd.VirtualUSB(key=4001, deviceInfo=vim.Description(label="USB dongle", summary=""),
                      backing=vd.VirtualUSB.USBBackingInfo(deviceName="path:1/0/1")),
        vd.VirtualFloppy(key=8000, deviceInfo=vim.Description(label="Floppy", summary=""),
                         backing=vd.VirtualFloppy.DeviceBackingInfo(deviceName="/dev/fd0")),
        vd.VirtualParallelPort(key=9000, deviceInfo=vim.Description(label="LPT", summary=""),
                               backing=vd.VirtualParallelPort.FileBackingInfo(fileName="[ds1] lpt.out")),
    ]
    disks, passthrough = mapping._devices(devices, {}, {("DC1", "ds1"): {"datastore-9@vc"}}, "DC1")
    assert [(d["label"], d["system"], d["unit"]) for d in disks] == [
        ("Hard disk 1", True, "scsi0:1"), ("Hard disk 2", False, "scsi1:0"), ("Hard disk 3", False, "ide0:0")]
    # from the file name, within the VM's datacenter, when backing.datastore is unset
    assert all(d["datastore"] == "datastore-9@vc" for d in disks)
    assert [(p["type"], p["name"]) for p in passthrough] == [
        ("cdrom", "CD 2 (/dev/sr0)"), ("usb", "USB dongle (path:1/0/1)"), ("other", "Floppy (/dev/fd0)")]


def test_unreadable_property_becomes_unknown_not_a_guess():
    ref = vim.HostSystem("host-1")
    h = Obj(ref, {"name": "esx1", "runtime.connectionState": "connected", "datastore": []},
            {"runtime.inMaintenanceMode": vim.fault.NoPermission(privilegeId="System.Read")})
    frag = mapping.build({"HostSystem": [h]}, {})
    (e,) = frag["entities"]["hypervisor_host"]
    assert "maintenance" not in e
    assert "NoPermission" in e["_unknown"]["maintenance"] and "System.Read" in e["_unknown"]["maintenance"]
    assert e["connection_state"] == "connected"


def test_missing_cluster_scope_is_an_error(monkeypatch):
    from policycheck.api import CollectContext
    from policycheck_vsphere import collect as collect_mod

    monkeypatch.setattr(collect_mod.connect, "disconnect", lambda si: None)
    monkeypatch.setattr(collect_mod.retrieve, "retrieve", lambda si, cont: {"ClusterComputeResource": []})

    class SI:
        class content:
            rootFolder = None

    monkeypatch.setattr(collect_mod.connect, "connect", lambda s, c: SI())
    ctx = CollectContext(source="vc", timeout=5, secrets=["pw"])
    with pytest.raises(CollectorError, match="no cluster named 'nope'"):
        collect_mod.collect({"host": "vc", "username": "u", "password": "pw", "cluster": "nope"}, ctx)
