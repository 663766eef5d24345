"""The vsphere collector against the govmomi simulator: what each scenario's facts say."""
from __future__ import annotations

import pytest
from policycheck_vsphere.plugin import collect

from policycheck.testing import assert_no_secret, assert_valid_fragment

pytestmark = pytest.mark.integration


def by_id(fragment, kind):
    return {e["id"]: e for e in fragment["entities"][kind]}


def by_name(fragment, kind):
    """Entities by lower-cased display name (ids are morefs; names repeat only across datacenters)."""
    out = {}
    for e in fragment["entities"][kind]:
        assert e["name"].lower() not in out, f"two {kind} named {e['name']}: use by_id"
        out[e["name"].lower()] = e
    return out


def names(fragment, kind, ids):
    """The display names of ``ids`` (sorted, lower-cased)."""
    idx = by_id(fragment, kind)
    return sorted(idx[i]["name"].lower() for i in ids)


def test_director_on_three_host_ha_cluster(vcsim, director, ctx_factory, secret):
    sim = vcsim(director())
    frag = collect(sim.settings(), ctx_factory())
    assert_valid_fragment(frag)
    assert_no_secret(secret, frag)
    vm = by_name(frag, "vm")["nsr01"]
    assert vm["guest_hostname"] == "nsr01.corp.example"
    assert vm["id"] == f"{sim.vms['nsr01']}@127.0.0.1" and "nsr01.corp.example" in vm["aliases"]
    assert vm["datacenter"] == "DC0" and vm["template"] is None  # no template made from it
    assert vm["power_state"] == "on" and vm["is_template"] is False
    assert by_id(frag, "cluster")[vm["cluster"]]["name"] == "DC0_C0"
    assert by_id(frag, "hypervisor_host")[vm["host"]]["name"] == "DC0_C0_H0"
    assert vm["passthrough_devices"] == [] and vm["host_rules"] == []
    assert vm["ha_disabled"] is False and vm["drs_disabled"] is False
    ds0 = by_name(frag, "datastore")["localds_0"]["id"]
    assert [(d["datastore"], d["system"], d["size_gb"]) for d in vm["disks"]] == [
        (ds0, True, 40.0), (ds0, False, 20.0)]
    cluster = by_name(frag, "cluster")["dc0_c0"]
    assert cluster["ha_enabled"] is True and cluster["drs_enabled"] is True
    assert cluster["drs_automation"] == "fully_automated"
    assert names(frag, "hypervisor_host", cluster["hosts"]) == ["dc0_c0_h0", "dc0_c0_h1", "dc0_c0_h2"]
    hosts = by_name(frag, "hypervisor_host")
    assert {h["connection_state"] for h in hosts.values()} == {"connected"}
    assert {h["maintenance"] for h in hosts.values()} == {False}
    assert {h["vmotion_enabled"] for h in hosts.values()} == {True}
    assert all(h["datastores"] == [ds0] and h["cluster"] == cluster["id"] for h in hosts.values())
    ds = by_name(frag, "datastore")["localds_0"]
    assert names(frag, "hypervisor_host", ds["hosts"]) == ["dc0_c0_h0", "dc0_c0_h1", "dc0_c0_h2"]
    assert ds["shared"] is True
    assert ds["type"] == "vmfs"


def test_host_in_maintenance_and_disconnected(vcsim, director, ctx_factory):
    sim = vcsim(director(hosts={"DC0_C0_H1": {"maintenance": True},
                                "DC0_C0_H2": {"connection": "disconnected"}}))
    hosts = by_name(collect(sim.settings(), ctx_factory()), "hypervisor_host")
    assert (hosts["dc0_c0_h0"]["connection_state"], hosts["dc0_c0_h0"]["maintenance"]) == ("connected", False)
    assert (hosts["dc0_c0_h1"]["connection_state"], hosts["dc0_c0_h1"]["maintenance"]) == ("connected", True)
    assert hosts["dc0_c0_h2"]["connection_state"] == "disconnected"


def test_not_responding_host_and_vmotion_off(vcsim, director, ctx_factory):
    sim = vcsim(director(hosts={"DC0_C0_H2": {"connection": "notResponding", "vmotion": False}}))
    hosts = by_name(collect(sim.settings(), ctx_factory()), "hypervisor_host")
    assert hosts["dc0_c0_h2"]["connection_state"] == "not_responding"
    assert hosts["dc0_c0_h2"]["vmotion_enabled"] is False
    assert hosts["dc0_c0_h0"]["vmotion_enabled"] is True


def test_disk_on_datastore_one_host_mounts(vcsim, director, ctx_factory):
    sc = director(datastores=[{"name": "local-h0", "hosts": ["DC0_C0_H0"], "type": "VMFS"}])
    sc["vms"][0]["disks"] = [{"datastore": "LocalDS_0", "size_gb": 40}, {"datastore": "local-h0", "size_gb": 200}]
    sim = vcsim(sc)
    frag = collect(sim.settings(), ctx_factory())
    assert_valid_fragment(frag)
    ds = by_name(frag, "datastore")
    assert names(frag, "hypervisor_host", ds["local-h0"]["hosts"]) == ["dc0_c0_h0"]
    assert ds["local-h0"]["shared"] is False
    assert ds["localds_0"]["shared"] is True
    vm = by_name(frag, "vm")["nsr01"]
    assert [(d["datastore"], d["system"]) for d in vm["disks"]] == [
        (ds["localds_0"]["id"], True), (ds["local-h0"]["id"], False)]
    hosts = by_name(frag, "hypervisor_host")
    assert names(frag, "datastore", hosts["dc0_c0_h0"]["datastores"]) == ["local-h0", "localds_0"]
    assert names(frag, "datastore", hosts["dc0_c0_h1"]["datastores"]) == ["localds_0"]


def test_passthrough_devices(vcsim, director, ctx_factory):
    sc = director()
    sc["vms"][0]["devices"] = ["pci", "scsi", "usb", "serial", "parallel", "cdrom_host", "cdrom_iso", "serial_file"]
    sim = vcsim(sc)
    vm = by_name(collect(sim.settings(), ctx_factory()), "vm")["nsr01"]
    types = sorted(d["type"] for d in vm["passthrough_devices"])
    # the ISO-backed CD-ROM and the file-backed serial port are not host-bound
    assert types == ["cdrom", "parallel", "pci", "scsi", "serial", "usb"]
    scsi = next(d for d in vm["passthrough_devices"] if d["type"] == "scsi")
    assert "genscsi" in scsi["name"]


def test_mandatory_versus_preferential_rules(vcsim, director, ctx_factory):
    sc = director(rules=[
        {"name": "nsr-must-h0", "mandatory": True, "vms": ["nsr01"], "hosts": ["DC0_C0_H0"]},
        {"name": "nsr-should-h1", "mandatory": False, "vms": ["nsr01"], "hosts": ["DC0_C0_H1"]},
        {"name": "nsr-never-h2", "mandatory": True, "anti": True, "vms": ["nsr01"], "hosts": ["DC0_C0_H2"]},
        {"name": "other", "mandatory": True, "vms": ["web01"], "hosts": ["DC0_C0_H2"]},
    ])
    sc["vms"].append({"name": "web01", "host": "DC0_C0_H2"})
    sim = vcsim(sc)
    frag = collect(sim.settings(), ctx_factory())
    vms = by_name(frag, "vm")
    rules = {r["name"]: r for r in vms["nsr01"]["host_rules"]}
    assert set(rules) == {"nsr-must-h0", "nsr-should-h1", "nsr-never-h2"}
    hn = lambda ids: names(frag, "hypervisor_host", ids)  # noqa: E731
    assert (rules["nsr-must-h0"]["mandatory"], hn(rules["nsr-must-h0"]["hosts"])) == (True, ["dc0_c0_h0"])
    assert (rules["nsr-should-h1"]["mandatory"], hn(rules["nsr-should-h1"]["hosts"])) == (False, ["dc0_c0_h1"])
    assert hn(rules["nsr-never-h2"]["hosts"]) == ["dc0_c0_h0", "dc0_c0_h1"]
    assert rules["nsr-never-h2"]["vsphere_kind"] == "must_not_run_on"
    assert all(r["enabled"] for r in rules.values())
    assert [r["name"] for r in vms["web01"]["host_rules"]] == ["other"]


def test_ha_off_and_per_vm_overrides(vcsim, director, ctx_factory):
    sc = director(ha=False, drs_behavior="partiallyAutomated")
    sc["vms"].append({"name": "app01", "host": "DC0_C0_H1"})
    sc["ha_disabled_vms"] = ["app01"]
    sc["drs_disabled_vms"] = ["app01"]
    sim = vcsim(sc)
    frag = collect(sim.settings(), ctx_factory())
    cluster = by_name(frag, "cluster")["dc0_c0"]
    assert cluster["ha_enabled"] is False and cluster["drs_automation"] == "partially_automated"
    vms = by_name(frag, "vm")
    assert (vms["app01"]["ha_disabled"], vms["app01"]["drs_disabled"]) == (True, True)
    assert (vms["nsr01"]["ha_disabled"], vms["nsr01"]["drs_disabled"]) == (False, False)


def test_templates_snapshots_and_aliases(vcsim, director, ctx_factory):
    sc = director()
    sc["vms"][0]["snapshots"] = [{"name": "pre-patch", "time": "2026-10-01T02:00:00Z"},
                                 {"name": "post-patch", "time": "2026-10-02T03:30:00Z"}]
    sc["vms"].append({"name": "NSR-Template", "host": "DC0_C0_H1", "template": True})
    sc["vms"].append({"name": "stopped", "host": "DC0_C0_H1", "power": "off"})
    sim = vcsim(sc)
    frag = collect(sim.settings(vm_aliases={"nsr01": ["Backup-Prod"]}), ctx_factory())
    assert_valid_fragment(frag)
    vms = by_name(frag, "vm")
    assert vms["nsr01"]["snapshots"] == [{"name": "pre-patch", "time": "2026-10-01T02:00:00+00:00"},
                                         {"name": "post-patch", "time": "2026-10-02T03:30:00+00:00"}]
    assert "backup-prod" in vms["nsr01"]["aliases"]
    t = vms["nsr-template"]
    assert t["is_template"] is True and t["name"] == "NSR-Template"
    assert t["snapshots"] == [] and t["guest_hostname"] is None
    assert vms["stopped"]["power_state"] == "off"


def test_datacenter_and_cluster_scope(vcsim, ctx_factory):
    sim = vcsim({"clusters": 2, "hosts_per_cluster": 2,
                 "vms": [{"name": "a", "host": "DC0_C0_H0"}, {"name": "b", "host": "DC0_C1_H1"}]})
    full = collect(sim.settings(datacenter="DC0"), ctx_factory())
    assert set(by_name(full, "cluster")) == {"dc0_c0", "dc0_c1"}
    assert set(by_name(full, "vm")) == {"a", "b"}
    assert {e["datacenter"] for k in ("cluster", "vm", "hypervisor_host", "datastore")
            for e in full["entities"][k]} == {"DC0"}
    scoped = collect(sim.settings(cluster="DC0_C1"), ctx_factory())
    assert set(by_name(scoped, "cluster")) == {"dc0_c1"}
    assert set(by_name(scoped, "hypervisor_host")) == {"dc0_c1_h0", "dc0_c1_h1"}
    assert set(by_name(scoped, "vm")) == {"b"}
    assert set(by_name(scoped, "datastore")) == {"localds_0"}


def test_reads_in_bulk_not_per_object(vcsim, ctx_factory, monkeypatch):
    """The number of SOAP calls does not grow with the inventory."""
    from pyVmomi import SoapAdapter

    calls = []
    orig = SoapAdapter.SoapStubAdapter.InvokeMethod

    def counting(self, mo, info, args, *a, **kw):
        calls.append(info.name)
        return orig(self, mo, info, args, *a, **kw)

    monkeypatch.setattr(SoapAdapter.SoapStubAdapter, "InvokeMethod", counting)
    counts = {}
    for n in (1, 30):
        sim = vcsim({"vms": [{"name": f"vm{i}", "host": f"DC0_C0_H{i % 3}"} for i in range(n)]})
        calls.clear()
        frag = collect(sim.settings(), ctx_factory())
        assert len(frag["entities"]["vm"]) == n
        counts[n] = list(calls)
    assert counts[1] == counts[30]
    assert counts[30].count("RetrievePropertiesEx") == 1
