"""End to end: `policycheck check --format json` with the vsphere source against the simulator."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from policycheck.testing import assert_no_secret, free_port, run_cli

pytestmark = pytest.mark.integration

INVENTORY = {
    "entities": {
        "host": [{"id": "nsr01.corp.example", "aliases": ["nsr01"], "platform": "virtual", "os": "linux",
                  "roles": ["backup_server"], "services": ["backup"], "depends_on": [], "bmr_methods": []}],
        "backup_server": [{"id": "nsr01", "host": "nsr01.corp.example", "product": "networker"}],
        # director mode: client data goes to a storage node's device, not to the VM
        "storage_node": [{"id": "sn01", "host": "sn01.corp.example", "backup_server": "nsr01"}],
        "device": [{"id": "sn01-dd", "backup_server": "nsr01", "storage_node": "sn01", "host": "sn01.corp.example",
                    "media_type": "dedup", "enabled": True, "client_data": True}],
    }
}
INVENTORY["entities"]["host"].append({"id": "sn01.corp.example", "aliases": ["sn01"], "platform": "physical",
                                      "os": "linux", "roles": ["storage_node"], "services": ["backup"],
                                      "depends_on": [], "bmr_methods": ["rear"]})


def run_check(tmp_path, sim, *, inventory=None, select=("VIRT-*",), env_pw=None, timeout=20, **settings):
    inv = tmp_path / "inventory.yaml"
    inv.write_text(yaml.safe_dump(inventory or INVENTORY))
    src = {"name": "vc", "plugin": "vsphere", "timeout": timeout, **sim.settings(**settings)}
    env: dict[str, str | None] = {}
    if env_pw is not None:  # the password comes from the environment, as in production configs
        env["VC_PW"] = src["password"]
        src["password"] = "${VC_PW}"
    cfg = {"version": 1, "sources": [src, {"name": "inv", "plugin": "file", "path": str(inv)}]}
    path = tmp_path / "policycheck.yaml"
    path.write_text(yaml.safe_dump(cfg))
    args = ["check", "-c", str(path), "--format", "json"]
    for s in select:
        args += ["--select", s]
    r = run_cli(args, env=env)
    assert r.stdout.strip(), f"no JSON report (exit {r.code}): {r.stderr}"
    report = json.loads(r.stdout)
    verdicts = {(x["policy_id"], x["target_id"]): x for x in report["results"]}
    return r, report, verdicts


def status(verdicts, policy, target="nsr01"):
    return verdicts[(policy, target)]["status"]


def test_director_on_ha_cluster_passes(vcsim, director, tmp_path, secret):
    sim = vcsim(director())
    r, report, v = run_check(tmp_path, sim, env_pw=True)
    assert status(v, "VIRT-002") == "pass", v[("VIRT-002", "nsr01")]
    assert status(v, "VIRT-001") == "pass", json.dumps(v[("VIRT-001", "nsr01")])
    assert r.code == 0, r.stderr
    assert_no_secret(secret, r.stdout, r.stderr)


@pytest.mark.parametrize("change, expect", [
    ("maintenance_and_disconnected", "fail"),
    ("disk_on_local_datastore", "fail"),
    ("pci_passthrough", "fail"),
    ("scsi_tape_passthrough", "fail"),
    ("mandatory_rule", "fail"),
    ("preferential_rule", "pass"),
    ("ha_off", "fail"),
    ("ha_disabled_for_vm", "fail"),
])
def test_mobility_scenarios(vcsim, director, tmp_path, change, expect):
    sc = director()
    vm = sc["vms"][0]
    if change == "maintenance_and_disconnected":
        sc["hosts"] = {"DC0_C0_H1": {"maintenance": True}, "DC0_C0_H2": {"connection": "disconnected"}}
    elif change == "disk_on_local_datastore":
        sc["datastores"] = [{"name": "local-h0", "hosts": ["DC0_C0_H0"], "type": "VMFS"}]
        vm["disks"][1]["datastore"] = "local-h0"
    elif change == "pci_passthrough":
        vm["devices"] = ["pci"]
    elif change == "scsi_tape_passthrough":
        vm["devices"] = ["scsi"]
    elif change == "mandatory_rule":
        sc["rules"] = [{"name": "nsr-must-h0", "mandatory": True, "vms": ["nsr01"], "hosts": ["DC0_C0_H0"]}]
    elif change == "preferential_rule":
        sc["rules"] = [{"name": "nsr-should-h0", "mandatory": False, "vms": ["nsr01"], "hosts": ["DC0_C0_H0"]}]
    elif change == "ha_off":
        sc["ha"] = False
    elif change == "ha_disabled_for_vm":
        sc["ha_disabled_vms"] = ["nsr01"]
    sim = vcsim(sc)
    r, report, v = run_check(tmp_path, sim)
    assert status(v, "VIRT-002") == expect, v[("VIRT-002", "nsr01")]
    # no local devices take client data; a tape drive passed through to the VM is not director mode
    assert status(v, "VIRT-001") == ("fail" if change == "scsi_tape_passthrough" else "pass")
    assert r.code == (0 if expect == "pass" else 1), r.stderr


def test_tape_on_the_vm_is_not_director_mode(vcsim, director, tmp_path):
    sc = director()
    sc["vms"][0]["devices"] = ["scsi"]
    sim = vcsim(sc)
    inv = json.loads(json.dumps(INVENTORY))
    inv["entities"]["device"].append({"id": "nsr01-tape0", "backup_server": "nsr01", "storage_node": None,
                                  "host": "nsr01.corp.example", "media_type": "tape", "enabled": True,
                                  "client_data": True})
    r, report, v = run_check(tmp_path, sim, inventory=inv)
    assert status(v, "VIRT-001") == "fail"
    assert status(v, "VIRT-002") == "fail"


def test_recent_snapshot_is_a_bmr_path(vcsim, director, tmp_path):
    now = datetime.now(timezone.utc)
    sc = director()
    sc["vms"][0]["snapshots"] = [{"name": "weekly", "time": (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")}]
    sim = vcsim(sc)
    inv = json.loads(json.dumps(INVENTORY))
    inv["entities"]["dr_test"] = [{"id": "dr-1", "host": "nsr01.corp.example", "kind": "bmr", "result": "success",
                                   "time": (now - timedelta(days=10)).isoformat()}]
    r, report, v = run_check(tmp_path, sim, inventory=inv, select=("BMR-002",))
    assert status(v, "BMR-002") == "pass", v[("BMR-002", "nsr01")]
    # an old snapshot is not a BMR path
    sc["vms"][0]["snapshots"][0]["time"] = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sim = vcsim(sc)
    r, report, v = run_check(tmp_path, sim, inventory=inv, select=("BMR-002",))
    assert status(v, "BMR-002") == "fail", v[("BMR-002", "nsr01")]


@pytest.mark.parametrize("fault", ["wrong_password", "refused", "untrusted_certificate", "timeout"])
def test_faults_give_error_results(vcsim, director, tmp_path, secret, fault):
    sc = director()
    if fault == "timeout":
        sc["delay_ms"] = 3000
    sim = vcsim(sc)
    over, timeout = {}, 20
    if fault == "wrong_password":
        sim_pw = secret + "X"
        over["password"] = sim_pw
    if fault == "refused":
        sim.port = free_port()
    if fault == "untrusted_certificate":
        over["ca_bundle"] = None
    if fault == "timeout":
        timeout = 1
    r, report, v = run_check(tmp_path, sim, env_pw=True, timeout=timeout, **over)
    res = v[("VIRT-002", "nsr01")]
    assert res["status"] == "error", res
    src = v[("VIRT-002", "vc")]  # the runtime's result naming the failed source and its reason
    assert src["status"] == "error" and src["target_kind"] == "source"
    text = src["message"]
    assert "source vc (vsphere) failed" in text, text
    if fault != "timeout":  # on a timeout the runtime's own deadline may speak first
        assert f"127.0.0.1:{sim.port}" in text, text
    reason = {"wrong_password": "InvalidLogin", "refused": "refused",
              "untrusted_certificate": "certificate", "timeout": "time"}[fault]
    assert reason in text, text
    assert r.code == 3, (r.code, r.stderr)
    assert_no_secret(secret, r.stdout, r.stderr)
    if fault == "wrong_password":
        assert_no_secret(over["password"], r.stdout, r.stderr)


@pytest.mark.parametrize("on_disk, expect", [("system", "fail"), ("second", "pass")])
def test_local_bootstrap_device_on_its_own_virtual_disk(vcsim, director, tmp_path, ctx_factory, on_disk, expect):
    from policycheck_vsphere.plugin import collect

    sim = vcsim(director())
    disks = next(v for v in collect(sim.settings(), ctx_factory())["entities"]["vm"] if v["name"] == "nsr01")["disks"]
    label = next(d["label"] for d in disks if d["system"] is (on_disk == "system"))
    inv = json.loads(json.dumps(INVENTORY))
    inv["entities"]["device"].append({"id": "nsr01-boot", "backup_server": "nsr01", "storage_node": None,
                                      "host": "nsr01.corp.example", "media_type": "disk", "enabled": True,
                                      "client_data": False, "vm_disk": label})
    inv["entities"]["bootstrap"] = [{"id": "bs-1", "backup_server": "nsr01", "level": "full",
                                     "time": "2026-11-01T02:00:00+00:00",
                                     "copies": [{"device": "nsr01-boot", "volume": "boot.001", "clone": False}]}]
    r, report, v = run_check(tmp_path, sim, inventory=inv, select=("BOOT-003",))
    assert status(v, "BOOT-003") == expect, v[("BOOT-003", "nsr01")]
