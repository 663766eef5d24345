"""Issue 18 (vSphere): every VM as a machine (kind host) with its power state, template flag, names and
hypervisor; the opt-in exemption custom attribute; COV-001 end to end against the simulator."""
from __future__ import annotations

import json

import pytest
import yaml
from policycheck_vsphere.client import ssl_context
from policycheck_vsphere.plugin import collect

from policycheck.testing import assert_no_secret, assert_valid_fragment, run_cli

pytestmark = pytest.mark.integration


def estate() -> dict:
    """Two datacenters; VMs powered on, off, a template, a guest without a real name, two VMs that
    answer to one name (db01 in DC0 and DC1)."""
    return {"datacenters": 2, "clusters": 1, "hosts_per_cluster": 2,
            "vms": [{"name": "web01", "hostname": "web01.corp.example", "host": "DC0_C0_H0"},
                    {"name": "web02", "hostname": "web02.corp.example", "host": "DC0_C0_H1"},
                    {"name": "app03", "host": "DC0_C0_H1"},
                    {"name": "lonely", "hostname": "localhost.localdomain", "host": "DC0_C0_H0"},
                    {"name": "stopped01", "hostname": "stopped01.corp.example", "host": "DC0_C0_H0",
                     "power": "off"},
                    {"name": "tpl-rhel9", "host": "DC0_C0_H1", "template": True},
                    {"name": "db01", "hostname": "db01", "host": "DC0_C0_H0"},
                    {"name": "db01", "datacenter": "DC1", "host": "DC1_C0_H0", "power": "off"}]}


def machines(frag) -> dict:
    return {h["id"]: h for h in frag["entities"]["host"]}


def test_every_vm_is_a_machine_with_its_power_state_template_flag_names_and_hypervisor(vcsim, ctx_factory, secret):
    sim = vcsim(estate())
    frag = collect(sim.settings(), ctx_factory())
    assert_valid_fragment(frag)
    assert_no_secret(secret, frag)
    vms = {v["id"]: v for v in frag["entities"]["vm"]}
    hv = {h["id"]: h["name"] for h in frag["entities"]["hypervisor_host"]}
    hosts = machines(frag)
    assert len(hosts) == len(vms) == 8  # every VM, not only the backup server's
    assert all(h["platform"] == "virtual" and h["vm"] in vms for h in hosts.values())
    vm_of = {vms[h["vm"]]["name"]: h for h in hosts.values() if vms[h["vm"]]["name"] != "db01"}
    web01 = hosts["web01.corp.example"]  # the guest's FQDN is the id; the VM name and short name join
    assert web01["aliases"] == ["web01"] and web01["fqdn"] == "web01.corp.example"
    assert web01["power_state"] == "on" and web01["is_template"] is False
    assert web01["vm"] == f"{sim.vms['web01']}@127.0.0.1"
    assert hv[web01["vsphere_hypervisor_host"]] == "DC0_C0_H0"
    assert hv[vm_of["web02"]["vsphere_hypervisor_host"]] == "DC0_C0_H1"
    assert "app03" in hosts and "fqdn" not in hosts["app03"]  # no guest name: the VM name
    assert "lonely" in hosts  # "localhost.localdomain" names no machine
    assert "localhost.localdomain" not in json.dumps(hosts["lonely"]["aliases"])
    stopped = hosts["stopped01.corp.example"]
    assert stopped["power_state"] == "off" and stopped["is_template"] is False
    tpl = hosts["tpl-rhel9"]
    assert tpl["is_template"] is True and tpl["power_state"] == "off"
    # db01 in two datacenters: neither takes the name; the running one cannot be told protected or not
    dbs = [h for h in hosts.values() if vms[h["vm"]]["name"] == "db01"]
    assert sorted(h["id"] for h in dbs) == sorted(h["vm"] for h in dbs) and all(not h["aliases"] for h in dbs)
    running = next(h for h in dbs if h["power_state"] == "on")
    assert "shares the name(s) db01" in running["_unknown"]["protected_by"]
    off = next(h for h in dbs if h["power_state"] == "off")
    assert "protected_by" not in (off.get("_unknown") or {})  # not judged by COV-001 anyway
    assert all("db01" not in h["aliases"] for h in hosts.values())


def _login(sim):
    from pyVim.connect import SmartConnect

    s = sim.settings()
    return SmartConnect(host=s["host"], port=s["port"], user=s["username"], pwd=s["password"],
                        sslContext=ssl_context(s))


def _set_custom(sim, name: str, values: dict) -> None:
    """Define VM custom attribute ``name`` and set it on the VMs ``{vm name: value}`` (as an admin does)."""
    from pyVim.connect import Disconnect
    from pyVmomi import vim

    si = _login(sim)
    try:
        cfm = si.content.customFieldsManager
        field = cfm.AddCustomFieldDef(name=name, moType=vim.VirtualMachine)
        for vm_name, value in values.items():
            cfm.SetField(entity=vim.VirtualMachine(sim.vms[vm_name], si._stub), key=field.key, value=value)
    finally:
        Disconnect(si)


def _suspend(sim, vm_name: str) -> None:
    """Suspend a running VM through the API (SuspendVM_Task), as an operator does."""
    from pyVim.connect import Disconnect
    from pyVim.task import WaitForTask
    from pyVmomi import vim

    si = _login(sim)
    try:
        WaitForTask(vim.VirtualMachine(sim.vms[vm_name], si._stub).SuspendVM_Task())
    finally:
        Disconnect(si)


def test_exemption_custom_attribute_exempts_with_its_value_as_reason(vcsim, ctx_factory):
    sim = vcsim(estate())
    _set_custom(sim, "Backup-Exempt", {"web02": "stateless web node, rebuilt from tpl-rhel9", "app03": "  "})
    frag = collect(sim.settings(backup_exempt_attribute="Backup-Exempt"), ctx_factory())
    assert_valid_fragment(frag)
    hosts = machines(frag)
    assert hosts["web02.corp.example"]["backup"] == {
        "exempt": True, "reason": "stateless web node, rebuilt from tpl-rhel9", "owner": None}
    assert "backup" not in hosts["app03"]  # a blank value exempts nothing
    assert "backup" not in hosts["web01.corp.example"] and "backup" not in (hosts["web01.corp.example"].get("_unknown") or {})
    # without the setting, custom attributes are not read at all
    assert all("backup" not in h for h in machines(collect(sim.settings(), ctx_factory())).values())


def test_exemption_attribute_vcenter_does_not_define_makes_every_exemption_unknown(vcsim, ctx_factory):
    sim = vcsim(estate())
    frag = collect(sim.settings(backup_exempt_attribute="Backup-Exmept"), ctx_factory())
    for h in machines(frag).values():
        assert "backup" not in h
        assert "no custom attribute named 'Backup-Exmept'" in h["_unknown"]["backup"]


# --- end to end: COV-001 over the vSphere source plus a file source with the backup servers ---------

def coverage_inventory() -> dict:
    """Two backup servers (physical machines) and their client records: web01 is a client of bkp01,
    stopped01 of nobody, web02 of nobody; the inventory knows web02 too (two sources know it)."""
    return {"entities": {
        "host": [{"id": "bkp01.corp.example", "platform": "physical", "roles": ["backup_server"]},
                 {"id": "bkp02.corp.example", "platform": "physical", "roles": ["backup_server"]},
                 {"id": "web02.corp.example", "platform": "virtual"}],
        "backup_server": [{"id": "bkp01", "host": "bkp01.corp.example", "product": "bacula"},
                          {"id": "bkp02", "host": "bkp02.corp.example", "product": "networker"}],
        "client": [{"id": "bkp01/web01.corp.example", "hostname": "web01.corp.example", "backup_server": "bkp01"},
                   {"id": "bkp02/app03", "hostname": "app03", "backup_server": "bkp02"},
                   {"id": "bkp01/bkp01.corp.example", "hostname": "bkp01.corp.example", "backup_server": "bkp01"},
                   {"id": "bkp02/bkp02.corp.example", "hostname": "bkp02.corp.example", "backup_server": "bkp02"}],
    }}


def check_coverage(tmp_path, sim, **settings):
    inv = tmp_path / "backup.yaml"
    inv.write_text(yaml.safe_dump(coverage_inventory()))
    env = {"VC_PW": sim.settings()["password"]}
    src = {"name": "vc", "plugin": "vsphere", "timeout": 20, **sim.settings(**settings), "password": "${VC_PW}"}
    cfg = {"version": 1, "sources": [src, {"name": "backup", "plugin": "file", "path": str(inv)}]}
    path = tmp_path / "policycheck.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = run_cli(["check", "-c", str(path), "--format", "json", "--select", "COV-001"], env=env)
    assert r.stdout.strip(), f"no JSON report (exit {r.code}): {r.stderr}"
    report = json.loads(r.stdout)
    return r, {x["target_id"]: x for x in report["results"] if x["policy_id"] == "COV-001"}


def test_cov001_end_to_end_against_the_simulator(vcsim, tmp_path, secret, ctx_factory):
    sim = vcsim(estate())
    _suspend(sim, "web02")  # a suspended VM still needs its backup
    assert machines(collect(sim.settings(), ctx_factory()))["web02.corp.example"]["power_state"] == "suspended"
    r, v = check_coverage(tmp_path, sim)
    assert_no_secret(secret, r.stdout, r.stderr)
    got = {t: x["status"] for t, x in v.items()}
    assert got["web01.corp.example"] == "pass"        # a powered-on VM that bkp01 protects
    assert got["app03"] == "pass"                      # joined by the VM name to bkp02's client record
    assert got["web02.corp.example"] == "fail"        # suspended, no server protects it
    assert got["lonely"] == "fail"
    assert got["stopped01.corp.example"] == "skip"    # powered off: not applicable
    assert got["tpl-rhel9"] == "skip"                  # a template: not applicable
    assert got["bkp01.corp.example"] == "pass"        # physical machines are judged as before
    db = [t for t in got if t.startswith("vm-")]
    assert sorted(got[t] for t in db) == ["error", "skip"]  # the running db01 cannot be told apart
    (ev,) = v["web02.corp.example"]["evidence"]  # names the servers without a record and the sources
    assert ev["fact"] == "protected_by" and ev["observed"] == [] and "bkp01, bkp02" in ev["source"], ev
    assert ev["source"].endswith("known to vc, backup"), ev
    (ev,) = v["lonely"]["evidence"]
    assert ev["source"].endswith("known to vc"), ev
    assert "shares the name(s) db01" in next(v[t]["message"] for t in db if got[t] == "error")
    assert r.code == 1, r.stderr


def test_cov001_exempted_vm_is_not_applicable_end_to_end(vcsim, tmp_path):
    sim = vcsim(estate())
    _set_custom(sim, "Backup-Exempt", {"web02": "stateless web node"})
    r, v = check_coverage(tmp_path, sim, backup_exempt_attribute="Backup-Exempt")
    assert v["web02.corp.example"]["status"] == "skip", v["web02.corp.example"]
    assert "stateless web node" in json.dumps(v["web02.corp.example"])
    assert v["lonely"]["status"] == "fail"
