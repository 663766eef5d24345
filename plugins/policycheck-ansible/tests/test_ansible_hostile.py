"""Malformed and hostile host variables through the real ansible-inventory (issue 16): each becomes
unknown with the reason, never a guess, never a crash; list attributes are partial unless claimed."""
from __future__ import annotations

import json
import subprocess

import pytest
from policycheck_ansible.plugin import collect

from policycheck.facts import check_fragment
from policycheck.testing import assert_valid_fragment

pytestmark = pytest.mark.integration


def hosts(frag):
    return {h["id"]: h for h in frag["entities"]["host"]}


def run(ctx, inv, **extra):
    frag = collect({"inventory": str(inv), **extra}, ctx)
    assert_valid_fragment(frag)
    check_fragment(frag, "ansible")
    return frag


def test_malformed_host_vars_are_unknown_with_the_reason(write, make_ctx, ansible_inventory_bin):
    inv = write("inv/hosts.yml", """
        all:
          children:
            backup_servers:
              hosts:
                bkp01:
                  platform: [physical, virtual]      # a list where a string is expected
                  os: {family: linux}
                  os_version: [9, 4]
                  services: {nfs: true}              # a mapping, not a list
                  depends_on: "dns01, ldap01"        # one string holding several names
                  bmr_methods: [rear, [kickstart]]   # a nested list
                  backup_product: [networker]
                  fqdn: [bkp01.corp.example]
                  ansible_host: {ip: 10.0.0.1}
                  independent_recovery: maybe
                bkp02:
                  platform: 7
                  depends_on: [dns01, 42]
                  roles: "backup_server file_server"
                  services: [nfs, null]
    """)
    frag = run(make_ctx(), inv)
    h = hosts(frag)
    b1, b2 = h["bkp01"], h["bkp02"]
    for attr, words in [("platform", "should be a string, got list"), ("os", "got dict"),
                        ("os_version", "version string"), ("services", "got dict"),
                        ("depends_on", "'dns01, ldap01', not a list of names"),
                        ("bmr_methods", "bmr_methods[1] should be a name, got list"),
                        ("fqdn", "should be a host name, got list"), ("ansible_host", "got dict"),
                        ("independent_recovery", "boolean")]:
        assert attr not in b1 and words in b1["_unknown"][attr], (attr, b1["_unknown"].get(attr))
    bs = {b["id"]: b for b in frag["entities"]["backup_server"]}
    assert "product" not in bs["bkp01"]  # never str(['networker'])
    assert "product name" in b1["_unknown"]["backup_product"]
    assert "got int" in b2["_unknown"]["platform"]
    assert "depends_on[1] should be a name, got int" in b2["_unknown"]["depends_on"]
    assert "roles" not in b2 and "not a list of names" in b2["_unknown"]["roles"]
    assert "services[1] should be a name, got NoneType" in b2["_unknown"]["services"]
    assert set(bs) == {"bkp01", "bkp02"}  # both still backup servers (group membership)


@pytest.mark.parametrize("mapping, value, accepted", [
    ({}, "hypervisor", "physical"),                                   # not in the default table
    ({"replace_defaults": True, "platform_values": {"bare_metal": "physical"}}, "vm", "bare_metal"),
])
def test_unknown_platform_value_is_unknown_never_physical(write, make_ctx, ansible_inventory_bin,
                                                          mapping, value, accepted):
    inv = write("inv/hosts.yml", f"""
        all:
          hosts:
            h1:
              platform: {value}
    """)
    frag = run(make_ctx(), inv, mapping=mapping)
    h1 = hosts(frag)["h1"]
    assert "platform" not in h1
    why = h1["_unknown"]["platform"]
    assert f"{value!r} is not recognised; accepted: " in why and accepted in why
    assert "mapping.platform_values" in why


def test_vaulted_value_stays_unknown(write, make_ctx, ansible_vault_bin, tmp_path):
    enc = subprocess.run([ansible_vault_bin, "encrypt_string", "--vault-password-file", "/dev/stdin",
                          "--name", "platform", "physical"], input="pw-for-test\n", capture_output=True,
                         text=True, check=True).stdout
    write("inv/host_vars/h1.yml", enc)
    inv = write("inv/hosts.yml", "all:\n  hosts:\n    h1:\n")
    frag = run(make_ctx(), tmp_path / "inv")
    h1 = hosts(frag)["h1"]
    assert "platform" not in h1 and h1["_unknown"]["platform"] == "vaulted in ansible: platform"
    assert "ANSIBLE_VAULT" not in json.dumps(frag) and inv.exists()


def test_list_attributes_are_partial_unless_claimed_complete(write, make_ctx, ansible_inventory_bin):
    inv = write("inv/hosts.yml", """
        all:
          children:
            backup_servers:
              hosts:
                bkp01: {services: [backup], depends_on: [dns01], bmr_methods: [rear]}
    """)
    b = hosts(run(make_ctx(), inv))["bkp01"]
    assert set(b["_partial"]) == {"roles", "services", "depends_on", "bmr_methods"}
    assert "complete:" in b["_partial"]["services"]
    b = hosts(run(make_ctx(), inv, complete=["roles", "services", "depends_on"]))["bkp01"]
    assert b["_partial"] == {"bmr_methods": b["_partial"]["bmr_methods"]}
    assert b["roles"] == ["backup_server"] and b["services"] == ["backup"]


def test_hostile_values_never_crash(write, make_ctx, ansible_inventory_bin):
    deep = "x"
    for _ in range(50):  # ansible-core 2.19 refuses a much deeper YAML inventory itself
        deep = f"[{deep}]"
    inv = write("inv/hosts.yml", f"""
        all:
          hosts:
            "weird\\u001b\\u0007host":
              platform: "\\r\\n::add-mask::x"
              services: {deep}
              depends_on: {{a: {{b: {{c: [1, 2, {{d: null}}]}}}}}}
              dr_tests: [{{time: yesterday, result: maybe}}, 5]
              roles: .inf
              os: .nan
              independent_recovery: 2
    """)
    frag = run(make_ctx(), inv)
    (h,) = frag["entities"]["host"]
    assert {"platform", "services", "depends_on", "dr_tests", "roles", "os",
            "independent_recovery"} <= set(h["_unknown"])
    assert "dr_test" not in frag["entities"]
