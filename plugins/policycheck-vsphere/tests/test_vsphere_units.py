"""Units without a simulator: config schema, device classification, boot order, unreadable properties."""
from __future__ import annotations

import jsonschema
import pytest
from policycheck_vsphere import devices, mapping
from policycheck_vsphere.client import Obj
from policycheck_vsphere.plugin import KINDS, policycheck_collectors
from pyVmomi import vim

from policycheck.api import CollectorError


def schema():
    (c,) = policycheck_collectors()
    assert c.name == "vsphere" and c.kinds == KINDS and c.attributes == {"host": ["power_state", "is_template"]}
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
    devs = [
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
    disks, passthrough = devices.devices(devs, {}, {("DC1", "ds1"): {"datastore-9@vc"}}, "DC1")
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
    from policycheck_vsphere import collect as collect_mod

    from policycheck.api import CollectContext

    monkeypatch.setattr(collect_mod.client, "disconnect", lambda si: None)
    monkeypatch.setattr(collect_mod.client, "retrieve", lambda si, cont, props: {"ClusterComputeResource": []})

    class SI:
        class content:
            rootFolder = None

    monkeypatch.setattr(collect_mod.client, "connect", lambda s, c: SI())
    ctx = CollectContext(source="vc", timeout=5, secrets=["pw"])
    with pytest.raises(CollectorError, match="no cluster named 'nope'"):
        collect_mod.collect({"host": "vc", "username": "u", "password": "pw", "cluster": "nope"}, ctx)


def test_omitted_or_malformed_host_state_is_unknown_never_false():
    """Issue 16: an answer that leaves out runtime.inMaintenanceMode (or sends junk) is no 'False'."""
    omitted = Obj(vim.HostSystem("host-1"), {"name": "esx1", "runtime.connectionState": "connected"}, {})
    junk = Obj(vim.HostSystem("host-2"), {"name": "esx2", "runtime.connectionState": "sleeping",
                                          "runtime.inMaintenanceMode": "no"}, {})
    frag = mapping.build({"HostSystem": [omitted, junk]}, {"host": "vc01.corp.example"})
    a, b = frag["entities"]["hypervisor_host"]
    assert a["id"] == "host-1@vc01.corp.example" and a["aliases"] == ["esx1"]
    assert "maintenance" not in a and "omitted runtime.inMaintenanceMode" in a["_unknown"]["maintenance"]
    assert "'esx1' (host-1)" in a["_unknown"]["maintenance"]
    assert "vmotion_enabled" in a["_unknown"] and a["connection_state"] == "connected"
    assert "maintenance" not in b and "'no'" in b["_unknown"]["maintenance"]
    assert "connection_state" not in b and "'sleeping'" in b["_unknown"]["connection_state"]


def test_unreadable_datastore_mounts_name_the_vm_disk_and_datastore():
    ds = Obj(vim.Datastore("datastore-7"), {"name": "san01", "summary.type": "VMFS"},
             {"host": vim.fault.NoPermission(privilegeId="System.Read")})
    disk = _disk(2000, 1000, 0, "Hard disk 1")
    disk.backing.datastore = vim.Datastore("datastore-7")
    vm = Obj(vim.VirtualMachine("vm-9"), {"name": "nsr01", "config.template": False, "runtime.powerState": "poweredOn",
                                          "config.hardware.device": [vim.vm.device.ParaVirtualSCSIController(
                                              key=1000, busNumber=0), disk]}, {})
    frag = mapping.build({"Datastore": [ds], "VirtualMachine": [vm]}, {"host": "vc"}, events=([], None))
    (e,) = frag["entities"]["datastore"]
    assert "shared" not in e and "Datastore 'san01' (datastore-7): could not read host" in e["_unknown"]["shared"]
    (v,) = frag["entities"]["vm"]
    why = v["disks"][0]["_unknown"]["shared"]
    assert "'nsr01' (vm-9)" in why and "'Hard disk 1'" in why and "datastore-7@vc" in why and "NoPermission" in why
    assert "runtime.host" in v["_unknown"]["host"]  # omitted from the answer: unknown, not "no host"


def test_template_link_from_clone_events():
    src = Obj(vim.VirtualMachine("vm-1"), {"name": "a", "config.template": False}, {})
    other = Obj(vim.VirtualMachine("vm-2"), {"name": "b", "config.template": False}, {})
    tpl = Obj(vim.VirtualMachine("vm-3"), {"name": "a-tpl", "config.template": True}, {})
    ev = vim.event.VmClonedEvent(vm=vim.event.VmEventArgument(vm=vim.VirtualMachine("vm-3"), name="a-tpl"),
                                 sourceVm=vim.event.VmEventArgument(vm=vim.VirtualMachine("vm-1"), name="a"))
    vms = {v["name"]: v for v in mapping.build({"VirtualMachine": [src, other, tpl]}, {"host": "vc"},
                                               events=([ev], None))["entities"]["vm"]}
    assert vms["a"]["template"] == "vm-3@vc" and vms["b"]["template"] is None
    # the same inventory when vCenter's answer was capped: the template's event is missing -> unknown
    vms = {v["name"]: v for v in mapping.build({"VirtualMachine": [src, other, tpl]}, {"host": "vc"},
                                               events=([], "the answer held 1000 events"))["entities"]["vm"]}
    assert "template" not in vms["b"] and "1000 events" in vms["b"]["_unknown"]["template"]


def test_secret_in_a_soap_fault_is_redacted_in_every_error_path():
    """Issue 16: a fault text that echoes the password (raw or XML-escaped) never reaches the message."""
    from policycheck_vsphere import client

    from policycheck.api import CollectContext

    pw = "p&<>'\"w-1"
    ctx = CollectContext(source="vc", timeout=5, secrets=[pw])
    for text in (pw, "p&amp;&lt;&gt;&apos;&quot;w-1"):
        with pytest.raises(CollectorError) as ei, \
                client.guarded({"host": "vc", "username": "u", "password": pw}, ctx, "login"):
            raise vim.fault.InvalidArgument(msg=f"bad login for u/{text}\nline two")
        msg = str(ei.value)
        assert "\n" not in msg and "InvalidArgument" in msg
        assert "p&" not in msg and "&lt;&gt;" not in msg, msg


def _vm(moid, props, missing=None):
    return Obj(vim.VirtualMachine(moid), props, missing or {})


def test_vm_machine_power_state_and_template_flag_unknown_when_vcenter_does_not_say():
    """Issue 18: a VM's machine (kind host) carries power_state / is_template, or why they are unknown."""
    vms = [_vm("vm-1", {"name": "a", "config.template": False, "runtime.powerState": "poweredOn",
                        "guest.hostName": "A.Corp.Example."}),
           _vm("vm-2", {"name": "b", "config.template": False, "runtime.powerState": "hibernating"}),
           _vm("vm-3", {"name": "c", "runtime.powerState": "poweredOff"}),              # config omitted
           _vm("vm-4", {"name": "d", "config.template": False},
               {"runtime.powerState": vim.fault.NoPermission(privilegeId="System.Read")}),
           _vm("vm-5", {"name": "e", "runtime.powerState": "suspended"},
               {"config.template": vim.fault.NoPermission(privilegeId="System.Read")})]
    frag = mapping.build({"VirtualMachine": vms}, {"host": "vc"}, events=([], None))
    hosts = {h["vm"]: h for h in frag["entities"]["host"]}
    a = hosts["vm-1@vc"]
    assert a["id"] == "a.corp.example" and a["fqdn"] == "a.corp.example" and a["aliases"] == ["a"]
    assert (a["platform"], a["power_state"], a["is_template"]) == ("virtual", "on", False)
    b = hosts["vm-2@vc"]
    assert "power_state" not in b and "'hibernating'" in b["_unknown"]["power_state"]
    c = hosts["vm-3@vc"]
    assert c["power_state"] == "off" and "is_template" not in c
    assert "omitted config.template" in c["_unknown"]["is_template"]
    d = hosts["vm-4@vc"]
    assert "power_state" not in d and "NoPermission" in d["_unknown"]["power_state"]
    e = hosts["vm-5@vc"]
    assert e["power_state"] == "suspended" and "NoPermission" in e["_unknown"]["is_template"]
    assert [h["id"] for h in frag["entities"]["host"]] == ["a.corp.example", "b", "c", "d", "e"]


def test_a_name_two_vms_answer_to_is_neither_ones_id():
    vms = [_vm("vm-1", {"name": "web", "config.template": False, "runtime.powerState": "poweredOn",
                        "guest.hostName": "web.corp.example"}),
           _vm("vm-2", {"name": "web-old", "config.template": False, "runtime.powerState": "poweredOn",
                        "guest.hostName": "web.corp.example"}),
           _vm("vm-3", {"name": "web", "config.template": True, "runtime.powerState": "poweredOff",
                        "guest.hostName": "web.corp.example"})]
    hosts = {h["vm"]: h for h in mapping.build({"VirtualMachine": vms}, {"host": "vc"},
                                                events=([], None))["entities"]["host"]}
    # a copy that kept the guest name: which VM a client "web.corp.example" protects cannot be told
    assert hosts["vm-1@vc"]["id"] == "vm-1@vc" and hosts["vm-2@vc"]["id"] == "vm-2@vc"
    for h in (hosts["vm-1@vc"], hosts["vm-2@vc"]):
        assert "web.corp.example" in h["_unknown"]["protected_by"]
    assert hosts["vm-2@vc"]["aliases"] == ["web-old"]  # its own unshared name still joins
    assert hosts["vm-3@vc"]["id"] == "vm-3@vc" and "_unknown" not in hosts["vm-3@vc"]  # a template: not judged


def test_exemption_custom_value_unreadable_is_unknown():
    field = vim.CustomFieldsManager.StringValue(key=7, value="rebuilt from template")
    vms = [_vm("vm-1", {"name": "a", "config.template": False, "runtime.powerState": "poweredOn",
                        "customValue": [vim.CustomFieldsManager.StringValue(key=3, value="x"), field]}),
           _vm("vm-2", {"name": "b", "config.template": False, "runtime.powerState": "poweredOn"},
               {"customValue": vim.fault.NoPermission(privilegeId="System.Read")})]
    hosts = {h["id"]: h for h in mapping.build({"VirtualMachine": vms}, {"host": "vc"}, events=([], None),
                                               custom={"keys": {7}})["entities"]["host"]}
    assert hosts["a"]["backup"] == {"exempt": True, "reason": "rebuilt from template", "owner": None}
    assert "backup" not in hosts["b"] and "NoPermission" in hosts["b"]["_unknown"]["backup"]


def test_retrieve_pages_through_continue_tokens_with_only_the_listed_properties():
    """vCenter answers a large inventory in pages (RetrievePropertiesEx, then ContinueRetrievePropertiesEx
    while it hands back a token); the simulator never pages, so this pins the loop on vCenter's shapes."""
    from policycheck_vsphere import client
    from pyVmomi import vmodl

    PC = vmodl.query.PropertyCollector
    vms = [PC.ObjectContent(obj=vim.VirtualMachine(f"vm-{i}"),
                            propSet=[vmodl.DynamicProperty(name="name", val=f"vm{i}")]) for i in range(2500)]
    pages = [vms[i:i + 1000] for i in range(0, len(vms), 1000)]
    calls: list = []

    class FakePC:
        def RetrievePropertiesEx(self, specs, options):
            calls.append(("first", options.maxObjects, specs))
            return PC.RetrieveResult(objects=pages[0], token="t1")

        def ContinueRetrievePropertiesEx(self, token):
            calls.append(("continue", token))
            n = int(token[1:])
            return PC.RetrieveResult(objects=pages[n], token=f"t{n + 1}" if n + 1 < len(pages) else None)

    class SI:
        class content:
            propertyCollector = FakePC()

            class viewManager:
                @staticmethod
                def CreateContainerView(container, types, recursive):
                    return vim.view.ContainerView("session[x]view-1")  # DestroyView fails: ignored

    out = client.retrieve(SI(), None, {"VirtualMachine": ["name", "runtime.powerState"]})
    assert [o.moid for o in out["VirtualMachine"]] == [f"vm-{i}" for i in range(2500)]
    assert [c[:2] for c in calls] == [("first", 1000), ("continue", "t1"), ("continue", "t2")]
    (spec,) = calls[0][2]
    assert [(list(p.pathSet), p.all) for p in spec.propSet] == [(["name", "runtime.powerState"], False)]
