"""collect() against the real ansible-inventory (ansible-core) on inventories written by the tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from policycheck_ansible.plugin import collect

from policycheck.api import CollectorError
from policycheck.testing import assert_no_secret, assert_valid_fragment

pytestmark = pytest.mark.integration

VAULT_PW = "Vault-Pa55-for-tests"


def by_id(fragment: dict, kind: str) -> dict:
    return {e["id"]: e for e in fragment["entities"].get(kind, [])}


@pytest.fixture
def yaml_datazone(write):
    """A YAML inventory directory: nested groups, group_vars (all + groups) and host_vars."""
    write("inv/hosts.yml", """
        all:
          children:
            backup_servers:
              children:
                nsr_primary:
                  hosts:
                    nsr-dir:
                      ansible_host: 192.0.2.10
            storage_nodes:
              hosts:
                sn01.corp.example:
            fileservers:
              hosts:
                fs01:
            infra:
              children:
                core_services:
                  children:
                    dns:
                      hosts:
                        dns01:
                    ldap:
                      hosts:
                        ldap01:
            workstations:
              hosts:
                ws17:
    """)
    write("inv/group_vars/all.yml", """
        services: []
        depends_on: []
        os: RedHat
    """)
    write("inv/group_vars/infra.yml", """
        platform: vm
        bmr_methods: [template]
    """)
    write("inv/group_vars/backup_servers.yml", """
        platform: physical
        backup_product: NetWorker
        bmr_methods: [networker_bmr, ReaR]
    """)
    write("inv/host_vars/nsr-dir.yml", """
        fqdn: nsr-dir.corp.example
        services: [nfs, backup]
        depends_on: [dns01, ldap01]
        independent_recovery: "no"
        dr_tests:
          - {time: "2026-10-01T09:30:00+02:00", result: passed, kind: full_dr}
          - {time: "2026-11-02T09:30:00+01:00", result: failed, kind: bmr}
    """)
    write("inv/host_vars/dns01.yml", """
        fqdn: dns01.corp.example
        os_version: "9.4"
    """)
    write("inv/host_vars/sn01.corp.example.yml", """
        backup_server: nsr-dir
    """)
    return "inv"


def test_yaml_directory_nested_groups_and_vars(ansible_inventory_bin, yaml_datazone, make_ctx):
    frag = collect({"inventory": yaml_datazone}, make_ctx())
    assert_valid_fragment(frag)
    hosts = by_id(frag, "host")
    assert set(hosts) == {"nsr-dir.corp.example", "sn01.corp.example", "fs01", "dns01.corp.example",
                          "ldap01", "ws17"}

    nsr = hosts["nsr-dir.corp.example"]
    assert nsr["roles"] == ["backup_server"]               # via nested child group nsr_primary
    assert nsr["services"] == ["nfs", "backup"]            # host_vars override group_vars/all
    assert nsr["platform"] == "physical"                   # group var of the parent group
    assert nsr["os"] == "linux"                            # RedHat normalised
    assert nsr["bmr_methods"] == ["networker_bmr", "rear"]
    assert nsr["independent_recovery"] is False
    assert nsr["depends_on"] == ["dns01.corp.example", "ldap01"]   # rewritten to host ids
    assert {"nsr-dir", "192.0.2.10", "nsr-dir.corp.example"} <= set(nsr["aliases"])
    assert nsr["addresses"] == ["192.0.2.10"]
    assert nsr["fqdn"] == "nsr-dir.corp.example"
    assert nsr["ansible_groups"] == ["backup_servers", "nsr_primary"]
    assert "_unknown" not in nsr

    dns = hosts["dns01.corp.example"]
    assert dns["roles"] == ["dns"] and dns["platform"] == "virtual" and dns["os_version"] == "9.4"
    assert dns["services"] == [] and dns["depends_on"] == []
    assert dns["ansible_groups"] == ["core_services", "dns", "infra"]
    assert hosts["ldap01"]["roles"] == ["directory"]
    assert hosts["fs01"]["roles"] == ["file_server"]
    assert hosts["ws17"]["roles"] == []
    assert "addresses" not in hosts["ws17"]                # unknown, not invented

    bs = by_id(frag, "backup_server")
    assert list(bs) == ["nsr-dir.corp.example"]
    assert bs["nsr-dir.corp.example"]["host"] == "nsr-dir.corp.example"
    assert bs["nsr-dir.corp.example"]["product"] == "networker"
    sn = by_id(frag, "storage_node")
    assert sn == {"sn01.corp.example": {"id": "sn01.corp.example", "host": "sn01.corp.example",
                                        "aliases": ["sn01.corp.example", "sn01"],
                                        "backup_server": "nsr-dir.corp.example"}}
    tests = sorted(by_id(frag, "dr_test").values(), key=lambda t: t["time"])
    assert [(t["host"], t["time"], t["result"], t["kind"]) for t in tests] == [
        ("nsr-dir.corp.example", "2026-10-01T09:30:00+02:00", "success", "full_dr"),
        ("nsr-dir.corp.example", "2026-11-02T09:30:00+01:00", "failure", "bmr")]


def test_ini_inventory_with_children_and_group_vars(ansible_inventory_bin, write, make_ctx):
    write("hosts.ini", """
        [backup_servers]
        bkp01.corp.example ansible_host=198.51.100.7 platform=blade

        [nfs_servers]
        bkp01.corp.example
        nas02 services='["smb"]'

        [sunray]
        sr01 platform=virtual

        [site_a:children]
        backup_servers
        sunray

        [site_a:vars]
        depends_on=["lic01"]

        [license_servers]
        lic01
    """)
    frag = collect({"inventory": "hosts.ini"}, make_ctx())
    assert_valid_fragment(frag)
    hosts = by_id(frag, "host")
    bkp = hosts["bkp01.corp.example"]
    assert bkp["roles"] == ["backup_server", "file_server"]
    assert bkp["services"] == ["nfs"]              # proven by the nfs_servers group
    assert bkp["platform"] == "blade"
    assert bkp["depends_on"] == ["lic01"]
    assert bkp["addresses"] == ["198.51.100.7"]
    assert hosts["nas02"]["services"] == ["smb", "nfs"]
    assert hosts["sr01"]["roles"] == ["sunray_server"] and hosts["sr01"]["platform"] == "virtual"
    assert hosts["lic01"]["roles"] == ["license_server"]
    assert "services" not in hosts["lic01"]        # no variable, no group: unknown
    assert list(by_id(frag, "backup_server")) == ["bkp01.corp.example"]


def test_dynamic_inventory_script_combined_with_static_file(ansible_inventory_bin, write, make_ctx):
    write("dyn/inventory.py", f"""
        #!{sys.executable}
        import json, sys
        if "--host" in sys.argv:
            print("{{}}")
        else:
            print(json.dumps({{
                "vcenter": {{"hosts": ["vc01.corp.example"], "vars": {{"platform": "virtual"}}}},
                "dns": {{"hosts": ["ns1"]}},
                "_meta": {{"hostvars": {{"vc01.corp.example": {{"depends_on": ["ns1"]}},
                                         "ns1": {{"ansible_host": "10.9.9.9", "services": ["dns"]}}}}}}
            }}))
    """, mode=0o755)
    write("static.yml", """
        all:
          children:
            backup_servers:
              hosts:
                nsr01:
                  depends_on: [vc01.corp.example, ns1]
    """)
    frag = collect({"inventory": ["dyn/inventory.py", "static.yml"]}, make_ctx())
    assert_valid_fragment(frag)
    hosts = by_id(frag, "host")
    assert set(hosts) == {"vc01.corp.example", "ns1", "nsr01"}
    assert hosts["vc01.corp.example"]["roles"] == ["hypervisor_manager"]
    assert hosts["vc01.corp.example"]["depends_on"] == ["ns1"]
    assert hosts["ns1"]["services"] == ["dns"] and hosts["ns1"]["addresses"] == ["10.9.9.9"]
    assert hosts["nsr01"]["depends_on"] == ["vc01.corp.example", "ns1"]


def test_inventory_plugin_config(ansible_inventory_bin, write, make_ctx):
    write("gen.yml", """
        plugin: ansible.builtin.generator
        hosts:
          name: "{{ role }}-{{ n }}"
          parents:
            - name: "{{ role }}_servers"
        layers:
          role: [dns, ldap]
          n: ["01", "02"]
    """)
    frag = collect({"inventory": "gen.yml"}, make_ctx())
    hosts = by_id(frag, "host")
    assert set(hosts) == {"dns-01", "dns-02", "ldap-01", "ldap-02"}
    assert hosts["dns-02"]["roles"] == ["dns"] and hosts["ldap-01"]["roles"] == ["directory"]


@pytest.fixture
def vaulted(tmp_path, write, ansible_vault_bin):
    pwfile = write("vault-pass.txt", VAULT_PW + "\n")
    cfg = write("empty-ansible.cfg", "")

    def encrypt(name: str, value: str) -> str:
        out = subprocess.run([ansible_vault_bin, "encrypt_string", "--vault-password-file", str(pwfile),
                              value, "--name", name], capture_output=True, text=True, check=True,
                             env={**os.environ, "ANSIBLE_CONFIG": str(cfg)}).stdout
        assert "$ANSIBLE_VAULT;" in out
        return out
    return pwfile, encrypt


def test_vaulted_variables_are_unknown_and_never_decrypted(ansible_inventory_bin, vaulted, write, make_ctx,
                                                           monkeypatch):
    pwfile, encrypt = vaulted
    write("inv/hosts.yml", """
        all:
          children:
            backup_servers:
              hosts:
                nsr-dir: {}
            dns:
              hosts:
                dns01: {}
    """)
    write("inv/host_vars/nsr-dir.yml", "services: [backup]\n" + encrypt("platform", "virtual")
          + encrypt("dr_tests", "[]"))
    write("inv/host_vars/dns01.yml", "platform: virtual\n" + encrypt("ansible_host", "10.7.7.7"))
    # even with a usable password offered through the environment, nothing is decrypted
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(pwfile))
    frag = collect({"inventory": "inv"}, make_ctx())
    assert_valid_fragment(frag)
    hosts = by_id(frag, "host")
    nsr = hosts["nsr-dir"]
    assert "platform" not in nsr
    assert nsr["_unknown"]["platform"] == "vaulted in ansible: platform"
    assert nsr["_unknown"]["dr_tests"] == "vaulted in ansible: dr_tests"
    assert nsr["services"] == ["backup"]                   # other variables still read
    assert by_id(frag, "backup_server")["nsr-dir"]["_unknown"] == {
        "last_dr_test": "vaulted in ansible: dr_tests"}
    assert "dr_test" not in frag["entities"]
    dns = hosts["dns01"]
    assert dns["platform"] == "virtual" and dns["_unknown"] == {"ansible_host": "vaulted in ansible: ansible_host"}
    dumped = json.dumps(frag)
    assert "ANSIBLE_VAULT" not in dumped and "__ansible_vault" not in dumped
    assert "10.7.7.7" not in dumped
    assert_no_secret(VAULT_PW, dumped)


def test_whole_vaulted_vars_file_fails_the_source(ansible_inventory_bin, ansible_vault_bin, write, make_ctx):
    write("inv/hosts.yml", "all:\n  hosts:\n    h1: {}\n")
    vars_file = write("inv/host_vars/h1.yml", "platform: physical\n")
    pw = write("pw", VAULT_PW)
    cfg = write("empty-ansible.cfg", "")
    subprocess.run([ansible_vault_bin, "encrypt", "--vault-password-file", str(pw), str(vars_file)],
                   check=True, capture_output=True, env={**os.environ, "ANSIBLE_CONFIG": str(cfg)})
    with pytest.raises(CollectorError) as exc:
        collect({"inventory": "inv"}, make_ctx(secrets=[VAULT_PW]))
    msg = str(exc.value)
    assert "failed with exit code" in msg and "vault" in msg.lower()
    assert "$ANSIBLE_VAULT;1.1;AES256\n" not in msg and VAULT_PW not in msg


def test_broken_inventory_fails_with_stderr(ansible_inventory_bin, write, make_ctx):
    write("broken.yml", """
        all:
          hosts:
            a: [
          broken
    """)
    with pytest.raises(CollectorError) as exc:
        collect({"inventory": "broken.yml"}, make_ctx())
    msg = str(exc.value)
    assert "ansible-inventory" in msg and "failed with exit code" in msg
    assert "broken.yml" in msg and "parse" in msg.lower()


def test_missing_inventory_path(ansible_inventory_bin, make_ctx):
    with pytest.raises(CollectorError, match=r"inventory source .*nope\.yml does not exist"):
        collect({"inventory": "nope.yml"}, make_ctx())


def test_ansible_config_with_vault_password_is_refused(ansible_inventory_bin, write, make_ctx):
    write("hosts.yml", "all:\n  hosts:\n    h1: {}\n")
    write("ansible.cfg", "[defaults]\nvault_password_file = /etc/pw\n")
    with pytest.raises(CollectorError, match="never decrypts"):
        collect({"inventory": "hosts.yml", "ansible_config": "ansible.cfg"}, make_ctx())


def test_user_ansible_config_is_used(ansible_inventory_bin, write, make_ctx):
    # an ansible.cfg that only enables the ini plugin: a YAML inventory then cannot be parsed
    write("hosts.yml", "all:\n  hosts:\n    h1: {}\n")
    write("ansible.cfg", "[inventory]\nenable_plugins = ini\n")
    with pytest.raises(CollectorError, match="failed with exit code"):
        collect({"inventory": "hosts.yml", "ansible_config": "ansible.cfg"}, make_ctx())
    frag = collect({"inventory": "hosts.yml"}, make_ctx())
    assert [h["id"] for h in frag["entities"]["host"]] == ["h1"]


def test_limit_is_passed(ansible_inventory_bin, yaml_datazone, make_ctx):
    frag = collect({"inventory": yaml_datazone, "limit": "infra"}, make_ctx())
    assert sorted(h["id"] for h in frag["entities"]["host"]) == ["dns01.corp.example", "ldap01"]


def test_hanging_dynamic_inventory_times_out_and_is_killed(ansible_inventory_bin, write, make_ctx, tmp_path):
    pidfile = tmp_path / "script.pid"
    write("slow.py", f"""
        #!{sys.executable}
        import os, time
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
        print("{{}}")
    """, mode=0o755)
    with pytest.raises(CollectorError, match=r"did not finish within 3s"):
        collect({"inventory": "slow.py"}, make_ctx(timeout=3))
    pid = int(pidfile.read_text())
    for _ in range(50):          # the script (a grandchild) was killed with its process group
        if not _alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        pytest.fail("the dynamic inventory script survived the timeout")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            state = next((line for line in f if line.startswith("State:")), "")
    except FileNotFoundError:
        return False
    return "Z" not in state.split()[1:2]   # a zombie waiting for its reaper is dead
