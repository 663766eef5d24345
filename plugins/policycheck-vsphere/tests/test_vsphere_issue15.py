"""Issue 15/16 (vSphere): same names in two datacenters, templates from clone events, tape and changer
passthrough in VIRT-001, vMotion and eligibility, omitted or unreadable properties -> unknown."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from policycheck_vsphere.plugin import collect

from policycheck.testing import assert_no_secret, assert_valid_fragment

_spec = importlib.util.spec_from_file_location("vsphere_e2e_helpers", Path(__file__).with_name("test_vsphere_e2e.py"))
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
INVENTORY, run_check, status = _e2e.INVENTORY, _e2e.run_check, _e2e.status

pytestmark = pytest.mark.integration


def two_datacenters(**extra) -> dict:
    """DC0 and DC1, each with a cluster called "Cluster" of three hosts and a datastore called
    LocalDS_0, and each with a VM called nsr01 (only DC0's is the backup server)."""
    sc = {"datacenters": 2, "clusters": 1, "hosts_per_cluster": 3,
          "rename": {"DC0_C0": "Cluster", "DC1_C0": "Cluster"},
          "vms": [{"name": "nsr01", "hostname": "nsr01.corp.example", "host": "DC0_C0_H0",
                   "disks": [{"datastore": "LocalDS_0", "size_gb": 40}]},
                  {"name": "nsr01", "datacenter": "DC1", "host": "DC1_C0_H0",
                   "disks": [{"datastore": "LocalDS_0", "size_gb": 40}]}]}
    sc.update(extra)
    return sc


def test_same_names_in_two_datacenters_stay_apart(vcsim, ctx_factory, secret):
    sim = vcsim(two_datacenters())
    frag = collect(sim.settings(), ctx_factory())
    assert_valid_fragment(frag)
    assert_no_secret(secret, frag)
    ents = frag["entities"]
    clusters = ents["cluster"]
    assert [c["name"] for c in clusters] == ["Cluster", "Cluster"]
    assert sorted(c["datacenter"] for c in clusters) == ["DC0", "DC1"]
    assert len({c["id"] for c in clusters}) == 2 and all(c["id"].endswith("@127.0.0.1") for c in clusters)
    assert all(not c["aliases"] for c in clusters)
    dss = ents["datastore"]
    assert sorted((d["name"], d["datacenter"]) for d in dss) == [("LocalDS_0", "DC0"), ("LocalDS_0", "DC1")]
    assert len({d["id"] for d in dss}) == 2 and all(not d["aliases"] for d in dss)
    hosts = {h["id"]: h for h in ents["hypervisor_host"]}
    for c in clusters:  # each cluster holds its own datacenter's hosts only
        assert {hosts[h]["datacenter"] for h in c["hosts"]} == {c["datacenter"]} and len(c["hosts"]) == 3
    vms = ents["vm"]
    assert [v["name"] for v in vms] == ["nsr01", "nsr01"] and len({v["id"] for v in vms}) == 2
    by_dc = {v["datacenter"]: v for v in vms}
    for dc, v in by_dc.items():
        ds = next(d for d in dss if d["id"] == v["disks"][0]["datastore"])
        assert ds["datacenter"] == dc and hosts[v["host"]]["datacenter"] == dc
        assert next(c for c in clusters if c["id"] == v["cluster"])["datacenter"] == dc
    # the VM name is no alias (it repeats across datacenters); the guest host name joins the inventory
    assert "nsr01" not in by_dc["DC1"]["aliases"] and not set(by_dc["DC0"]["aliases"]) & set(by_dc["DC1"]["aliases"])
    assert {"nsr01.corp.example", "nsr01"} <= set(by_dc["DC0"]["aliases"])
    # a datacenter scope by name reads only that datacenter
    scoped = collect(sim.settings(datacenter="DC1"), ctx_factory())
    assert {e["datacenter"] for k in ("cluster", "vm", "hypervisor_host", "datastore")
            for e in scoped["entities"][k]} == {"DC1"}


def test_virt002_does_not_count_the_other_datacenters_hosts(vcsim, tmp_path):
    # DC0's cluster has one usable host left; DC1's same-named cluster has three
    sc = two_datacenters(hosts={"DC0_C0_H1": {"maintenance": True}, "DC0_C0_H2": {"connection": "disconnected"}})
    sim = vcsim(sc)
    r, report, v = run_check(tmp_path, sim, select=("VIRT-002",))
    res = v[("VIRT-002", "nsr01")]
    assert res["status"] == "fail", res["message"]
    assert r.code == 1, r.stderr
    # and with every DC0 host usable it passes (the other datacenter changes nothing)
    sim = vcsim(two_datacenters(hosts={"DC1_C0_H1": {"maintenance": True}}))
    r, report, v = run_check(tmp_path, sim, select=("VIRT-002",))
    assert status(v, "VIRT-002") == "pass", v[("VIRT-002", "nsr01")]


def test_template_made_from_the_vm_is_found_from_its_clone_event(vcsim, director, ctx_factory):
    sc = director()
    sc["vms"][0]["templates"] = ["nsr01-golden"]
    sc["vms"].append({"name": "web01", "host": "DC0_C0_H1"})
    sim = vcsim(sc)
    frag = collect(sim.settings(), ctx_factory())
    assert_valid_fragment(frag)
    vms = {v["name"]: v for v in frag["entities"]["vm"]}
    tpl = vms["nsr01-golden"]
    assert tpl["is_template"] is True and "template" not in tpl
    assert vms["nsr01"]["template"] == tpl["id"] == f"{sim.vms['nsr01-golden']}@127.0.0.1"
    assert vms["web01"]["template"] is None  # every template's source is known: none is from web01
    # the clone did not damage the source VM (its disks keep their own files)
    assert all(d["file"].startswith("[LocalDS_0] nsr01/") for d in vms["nsr01"]["disks"])


def test_template_without_a_clone_event_makes_the_link_unknown(vcsim, director, ctx_factory):
    # a template converted from a VM (or whose clone event aged out) has no VmClonedEvent
    sc = director()
    sc["vms"][0]["templates"] = ["nsr01-golden"]
    sc["vms"].append({"name": "old-template", "host": "DC0_C0_H1", "template": True})
    sc["vms"].append({"name": "web01", "host": "DC0_C0_H1"})
    sim = vcsim(sc)
    vms = {v["name"]: v for v in collect(sim.settings(), ctx_factory())["entities"]["vm"]}
    assert vms["nsr01"]["template"] == vms["nsr01-golden"]["id"]  # known despite the other template
    assert "template" not in vms["web01"]
    why = vms["web01"]["_unknown"]["template"]
    assert "'old-template'" in why and "VmClonedEvent" in why and "aged out" in why


def test_unreadable_events_make_the_template_unknown_not_absent(vcsim, director, ctx_factory, monkeypatch, secret):
    from policycheck_vsphere import client
    from pyVmomi import vim

    def refused(si, container):
        raise vim.fault.NoPermission(privilegeId="System.View", msg=f"denied for {secret}")

    monkeypatch.setattr(client, "clone_events", refused)
    sim = vcsim(director())
    frag = collect(sim.settings(), ctx_factory())  # the source does not fail for it
    (vm,) = frag["entities"]["vm"]
    assert "template" not in vm
    why = vm["_unknown"]["template"]
    assert "QueryEvents" in why and "NoPermission" in why and "System.View" in why
    assert_no_secret(secret, frag)


def test_passthrough_devices_keep_their_description_and_class(vcsim, director, ctx_factory):
    sc = director()
    sc["vms"][0]["devices"] = ["tape", "changer", "hba", "scsi_other", "usb"]
    sim = vcsim(sc)
    frag = collect(sim.settings(), ctx_factory())
    assert_valid_fragment(frag)
    (vm,) = frag["entities"]["vm"]
    devs = {d["label"]: d for d in vm["passthrough_devices"]}
    assert (devs["SCSI device 0"]["type"], devs["SCSI device 0"]["class"], devs["SCSI device 0"]["description"]) \
        == ("scsi", "tape", "LTO-8")
    assert (devs["SCSI device 1"]["class"], devs["SCSI device 1"]["description"]) == ("changer", "medium changer")
    assert devs["PCI device 0"]["class"] == "hba" and "Fibre Channel" in devs["PCI device 0"]["description"]
    assert devs["USB 1"]["class"] == "other"
    odd = devs["SCSI device 2"]
    assert "class" not in odd and "does not say whether it is a tape drive" in odd["_unknown"]["class"]


@pytest.mark.parametrize("device, expect", [("tape", "fail"), ("changer", "fail"), ("hba", "pass"),
                                            ("scsi_other", "error")])
def test_virt001_fails_on_tape_or_changer_passthrough(vcsim, director, tmp_path, device, expect):
    sc = director()
    sc["vms"][0]["devices"] = [device]
    sim = vcsim(sc)
    r, report, v = run_check(tmp_path, sim, select=("VIRT-001",))
    res = v[("VIRT-001", "nsr01")]
    assert res["status"] == expect, res
    text = json.dumps(res)
    if device == "tape":
        assert "LTO-8" in text and "SCSI device 0" in text, text
    if device == "changer":
        assert "medium changer" in text, text


def test_host_without_vmotion_still_counts_for_ha_restart(vcsim, director, tmp_path, ctx_factory):
    """VIRT-002 means "can be restarted elsewhere" (HA restart): a host whose VMkernel adapters do
    not carry vMotion stays eligible; vmotion_enabled is reported for live-migration checks."""
    sim = vcsim(director(hosts={"DC0_C0_H1": {"vmotion": False}, "DC0_C0_H2": {"vmotion": False}}))
    hosts = {h["name"]: h for h in collect(sim.settings(), ctx_factory())["entities"]["hypervisor_host"]}
    assert [hosts[n]["vmotion_enabled"] for n in ("DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2")] == [True, False, False]
    r, report, v = run_check(tmp_path, sim, select=("VIRT-002",))
    assert status(v, "VIRT-002") == "pass", v[("VIRT-002", "nsr01")]


def test_vms_are_reported_with_power_state(vcsim, director, ctx_factory):
    sc = director()
    sc["vms"].append({"name": "off01", "host": "DC0_C0_H1", "power": "off"})
    sim = vcsim(sc)
    got = {v["name"]: v["power_state"] for v in collect(sim.settings(), ctx_factory())["entities"]["vm"]}
    assert got == {"nsr01": "on", "off01": "off"}


def test_inventory_join_still_by_guest_hostname(vcsim, tmp_path):
    sim = vcsim(two_datacenters())
    inv = json.loads(json.dumps(INVENTORY))
    r, report, v = run_check(tmp_path, sim, inventory=inv, select=("VIRT-002",))
    assert status(v, "VIRT-002") == "pass", v[("VIRT-002", "nsr01")]
