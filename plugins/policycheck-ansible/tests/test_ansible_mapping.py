"""Mapping, config schema, registration and failure handling, without ansible-core (fake executables)."""
from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points

import jsonschema
import pytest
from policycheck_ansible import mapping, parse, tables
from policycheck_ansible.plugin import SCHEMA, collect, policycheck_collectors

from policycheck.api import CollectorError
from policycheck.testing import assert_no_secret, assert_valid_fragment

SECRET = "tok-9f8e7d6c5b4a"
CIPHERTEXT = "$ANSIBLE_VAULT;1.1;AES256\n6162636465666768\n3132333435363738\n"


def by_id(fragment: dict, kind: str) -> dict:
    return {e["id"]: e for e in fragment["entities"].get(kind, [])}


@pytest.fixture
def fake_inventory(write):
    """A fake ansible-inventory printing ``stdout`` and ``stderr`` and exiting with ``rc``."""
    def make(stdout: str = "", stderr: str = "", rc: int = 0) -> str:
        p = write("bin/ansible-inventory", f"""
            #!{sys.executable}
            import sys
            sys.stdout.write({stdout!r})
            sys.stderr.write({stderr!r})
            sys.exit({rc})
        """, mode=0o755)
        return str(p)
    return make


def run(data: dict, mapping_config: dict | None = None) -> dict:
    """Map an ansible-inventory --list document as collect() does, without running anything."""
    frag = mapping.fragment(parse.parse(data), tables.build(mapping_config))
    assert_valid_fragment(frag)
    return frag


def doc(groups: dict, hostvars: dict) -> dict:
    d = {"_meta": {"hostvars": hostvars}, "all": {"children": ["ungrouped"] + list(groups)}}
    d.update(groups)
    return d


# --- registration and config schema -------------------------------------------------------------

def test_registered_through_entry_point_group():
    eps = [ep for ep in entry_points(group="policycheck") if ep.name == "ansible"]
    assert eps and eps[0].value == "policycheck_ansible.plugin"
    (col,) = policycheck_collectors()
    assert col.name == "ansible" and col.collect is collect
    assert set(col.kinds) == {"host", "backup_server", "storage_node", "dr_test"}


@pytest.mark.parametrize("settings,ok", [
    ({"inventory": "inv"}, True),
    ({"inventory": ["a.ini", "b.yml"], "ansible_inventory": "/usr/bin/ansible-inventory",
      "mapping": {"group_roles": {"nsr": "backup_server"}, "vars": {"platform": ["hw_type", "platform"]},
                  "platform_values": {"hw": "physical"}, "value_roles": {"svc": {"nfs": "file_server"}},
                  "replace_defaults": False, "export_vars": ["site"]}}, True),
    ({}, False),
    ({"inventory": []}, False),
    ({"inventory": "inv", "password": "x"}, False),
    ({"inventory": "inv", "mapping": {"vars": {"colour": "c"}}}, False),
    ({"inventory": "inv", "mapping": {"platform_values": {"hw": "metal"}}}, False),
    ({"inventory": "inv", "mapping": {"bogus": 1}}, False),
])
def test_config_schema(settings, ok):
    v = jsonschema.Draft202012Validator(SCHEMA)
    assert v.is_valid(settings) is ok


# --- inventory structure --------------------------------------------------------------------------

def test_hosts_without_vars_and_deeply_nested_groups():
    data = doc({"backup_servers": {"children": ["dc1"]}, "dc1": {"children": ["rack7"]},
                "rack7": {"hosts": ["nsr-a"]}, "ungrouped": {"hosts": ["lonely"]}}, {})
    frag = run(data)
    hosts = by_id(frag, "host")
    assert hosts["nsr-a"]["ansible_groups"] == ["backup_servers", "dc1", "rack7"]
    assert hosts["nsr-a"]["roles"] == ["backup_server"]
    assert hosts["lonely"]["roles"] == [] and hosts["lonely"]["ansible_groups"] == []
    assert list(by_id(frag, "backup_server")) == ["nsr-a"]


def test_group_cycle_does_not_hang():
    data = doc({"a": {"children": ["b"], "hosts": ["h"]}, "b": {"children": ["a"]}}, {})
    assert by_id(run(data), "host")["h"]["ansible_groups"] == ["a", "b"]


@pytest.mark.parametrize("name,hv,expect_id,expect_fqdn", [
    ("nsr-dir", {"fqdn": "NSR-DIR.corp.example."}, "nsr-dir.corp.example", "nsr-dir.corp.example"),
    ("NSR-DIR.Corp.Example", {}, "nsr-dir.corp.example", "nsr-dir.corp.example"),
    ("nsr-dir", {"ansible_host": "nsr-dir.corp.example"}, "nsr-dir.corp.example", "nsr-dir.corp.example"),
    ("nsr-dir", {"ansible_host": "mgmt-7.corp.example"}, "nsr-dir", None),   # another name: no guess
    ("nsr-dir", {"ansible_host": "10.0.0.5"}, "nsr-dir", None),
    ("10.0.0.9", {}, "10.0.0.9", None),
])
def test_host_id(name, hv, expect_id, expect_fqdn):
    h = by_id(run(doc({"g": {"hosts": [name]}}, {name: hv})), "host")[expect_id]
    assert h.get("fqdn") == expect_fqdn
    assert name in h["aliases"]


def test_duplicate_ids_fail(fake_inventory, make_ctx):
    out = json.dumps(doc({"g": {"hosts": ["a", "a.corp.example"]}}, {"a": {"fqdn": "a.corp.example"}}))
    with pytest.raises(CollectorError, match="both resolve to host id 'a.corp.example'"):
        collect({"inventory": ".", "ansible_inventory": fake_inventory(out)}, make_ctx())


# --- values ---------------------------------------------------------------------------------------

def test_unrecognised_and_templated_values_are_unknown_not_guessed():
    frag = run(doc({"backup_servers": {"hosts": ["b"]}},
                   {"b": {"platform": "cloudy", "os": "{{ os_family | lower }}", "services": "nfs",
                          "depends_on": "{{ groups['dns'] }}", "independent_recovery": "maybe",
                          "bmr_methods": {"x": 1}}}))
    b = by_id(frag, "host")["b"]
    for attr in ("platform", "os", "depends_on", "independent_recovery", "bmr_methods"):
        assert attr not in b and attr in b["_unknown"], attr
    assert "mapping.platform_values" in b["_unknown"]["platform"]
    assert b["_unknown"]["os"].startswith("templated in ansible: os")
    assert b["services"] == ["nfs"]           # a single string is a one-item list


def test_vault_marker_nested_in_a_list_makes_the_attribute_unknown():
    frag = run(doc({"g": {"hosts": ["h"]}},
                   {"h": {"depends_on": ["dns01", {"__ansible_vault": CIPHERTEXT}],
                          "roles": [{"__ansible_vault": CIPHERTEXT}], "platform": "virtual"}}))
    h = by_id(frag, "host")["h"]
    assert h["_unknown"] == {"depends_on": "vaulted in ansible: depends_on",
                             "roles": "vaulted in ansible: roles"}
    assert "roles" not in h and "depends_on" not in h and h["platform"] == "virtual"
    assert "ANSIBLE_VAULT" not in json.dumps(frag)


def test_dr_tests_parsing_and_bad_times():
    frag = run(doc({"backup_servers": {"hosts": ["ok", "bad"]}},
                   {"ok": {"dr_tests": [{"time": "2026-11-20T10:00:00Z", "result": "OK", "kind": "Full DR"},
                                        {"time": "2026-11-21 10:00:00+01:00", "result": "failed"}]},
                    "bad": {"dr_tests": [{"time": "2026-11-20", "result": "success"}]}}))
    tests = by_id(frag, "dr_test")
    assert sorted((t["host"], t["result"], t.get("kind")) for t in tests.values()) == [
        ("ok", "failure", None), ("ok", "success", "full_dr")]
    bad = by_id(frag, "host")["bad"]
    assert "UTC offset" in bad["_unknown"]["dr_tests"]
    assert by_id(frag, "backup_server")["bad"]["_unknown"]["last_dr_test"] == bad["_unknown"]["dr_tests"]
    assert "_unknown" not in by_id(frag, "backup_server")["ok"]


def test_labels_compare_through_the_kits_norm_label():
    """Roles, methods and DR test kinds normalise as NetBox's do (policycheck.kit.names.norm_label): a run of
    spaces and hyphens is one '_' on both sides of a table lookup."""
    from policycheck.kit.names import norm_label

    data = doc({"backup_servers": {"hosts": ["h1"]}},
               {"h1": {"bmr_methods": ["Bare-Metal  Restore"], "roles": ["File - Server"],
                       "dr_tests": [{"time": "2026-11-20T10:00:00Z", "result": "OK", "kind": "Full -  DR"}]}})
    cfg = {"value_roles": {"server_role": {"NFS  share": ["file_server"]}}}
    data["_meta"]["hostvars"]["h1"]["server_role"] = "nfs share"
    frag = run(data, cfg)
    host = by_id(frag, "host")["h1"]
    assert host["bmr_methods"] == ["bare_metal_restore"] == [norm_label("Bare-Metal  Restore")]
    assert host["roles"] == ["backup_server", "file_server"]
    assert [t["kind"] for t in by_id(frag, "dr_test").values()] == ["full_dr"]


def test_custom_mapping_overrides_and_replace_defaults():
    data = doc({"nsr": {"hosts": ["n1"]}, "dns": {"hosts": ["d1"]}},
               {"n1": {"hw_type": "Bare-Metal", "server_role": ["NFS", "cifs"], "site": "A", "platform": "vm"},
                "d1": {"hw_type": "vm"}})
    cfg = {"group_roles": {"NSR": "backup_server"}, "vars": {"platform": ["hw_type"]},
           "value_roles": {"server_role": {"nfs": ["file_server"], "cifs": "file_server"}},
           "group_services": {"nsr": ["backup"]}, "export_vars": ["site", "missing_var"]}
    hosts = by_id(run(data, cfg), "host")
    assert hosts["n1"]["roles"] == ["backup_server", "file_server"]
    assert hosts["n1"]["platform"] == "physical"      # hw_type read, the platform var is not
    assert hosts["n1"]["services"] == ["backup"]
    assert hosts["n1"]["ansible_vars"] == {"site": "A"}
    assert hosts["d1"]["roles"] == ["dns"] and hosts["d1"]["platform"] == "virtual"
    replaced = by_id(run(data, {**cfg, "replace_defaults": True,
                                "platform_values": {"bare_metal": "physical"}}), "host")
    assert replaced["d1"]["roles"] == []               # default dns group mapping dropped
    assert "platform" not in replaced["d1"] and "platform" in replaced["d1"]["_unknown"]


def test_storage_node_refers_to_backup_server_id():
    frag = run(doc({"backup_servers": {"hosts": ["nsr"]}, "storage_nodes": {"hosts": ["sn1"]}},
                   {"nsr": {"fqdn": "nsr.corp.example"}, "sn1": {"backup_server": "NSR"}}))
    assert by_id(frag, "storage_node")["sn1"]["backup_server"] == "nsr.corp.example"


# --- runner failures (fake executables) -------------------------------------------------------------

def test_missing_binary_names_the_setting(make_ctx, tmp_path):
    with pytest.raises(CollectorError, match="setting ansible_inventory") as exc:
        collect({"inventory": ".", "ansible_inventory": str(tmp_path / "no" / "ansible-inventory")}, make_ctx())
    assert "pip install ansible-core" in str(exc.value)
    with pytest.raises(CollectorError, match="not found on PATH"):
        collect({"inventory": ".", "ansible_inventory": "ansible-inventory-not-installed"}, make_ctx())


def test_invalid_json_is_an_error_with_redacted_stderr(fake_inventory, make_ctx):
    exe = fake_inventory(stdout='{"_meta": {"hostvars": {"a": ', stderr=f"[WARNING]: token {SECRET} used\n")
    with pytest.raises(CollectorError) as exc:
        collect({"inventory": ".", "ansible_inventory": exe}, make_ctx(secrets=[SECRET]))
    msg = str(exc.value)
    assert "invalid JSON" in msg and "token *** used" in msg
    assert_no_secret(SECRET, msg)


def test_non_inventory_json_is_an_error(fake_inventory, make_ctx):
    with pytest.raises(CollectorError, match="without the 'all' group"):
        collect({"inventory": ".", "ansible_inventory": fake_inventory("[1, 2]")}, make_ctx())


def test_failure_exit_code_reports_scrubbed_stderr(fake_inventory, make_ctx):
    exe = fake_inventory(stderr=f"ERROR! login {SECRET} refused; value {CIPHERTEXT}", rc=2)
    with pytest.raises(CollectorError) as exc:
        collect({"inventory": ".", "ansible_inventory": exe}, make_ctx(secrets=[SECRET]))
    msg = str(exc.value)
    assert "exit code 2" in msg and "login *** refused" in msg
    assert "6162636465666768" not in msg and "<ciphertext removed>" in msg
    assert_no_secret(SECRET, msg)


def test_runs_without_stdin_and_without_vault_environment(write, make_ctx, monkeypatch):
    """The fake binary reports its stdin and ANSIBLE_* environment as inventory variables."""
    exe = write("bin/ansible-inventory", f"""
        #!{sys.executable}
        import json, os, sys
        env = {{k: v for k, v in os.environ.items() if k.startswith("ANSIBLE_")}}
        stdin = sys.stdin.read()
        print(json.dumps({{"_meta": {{"hostvars": {{"h": {{"seen_env": env, "seen_stdin": stdin,
                                                         "seen_argv": sys.argv[1:]}}}}}},
                          "all": {{"children": ["ungrouped"]}}, "ungrouped": {{"hosts": ["h"]}}}}))
    """, mode=0o755)
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", "/etc/vault-pass")
    monkeypatch.setenv("ANSIBLE_VAULT_IDENTITY_LIST", "prod@/etc/vault-pass")
    write("inv.yml", "all: {}\n")
    frag = collect({"inventory": ["inv.yml"], "ansible_inventory": str(exe),
                    "mapping": {"export_vars": ["seen_env", "seen_stdin", "seen_argv"]}}, make_ctx())
    seen = frag["entities"]["host"][0]["ansible_vars"]
    assert seen["seen_stdin"] == ""
    assert "ANSIBLE_VAULT_PASSWORD_FILE" not in seen["seen_env"]
    assert "ANSIBLE_VAULT_IDENTITY_LIST" not in seen["seen_env"]
    assert seen["seen_env"]["ANSIBLE_INVENTORY_UNPARSED_FAILED"] == "True"
    assert seen["seen_env"]["ANSIBLE_CONFIG"].endswith("ansible.cfg")
    assert seen["seen_argv"][0] == "-i" and seen["seen_argv"][1].endswith("inv.yml")
    assert seen["seen_argv"][-1] == "--list"


def test_domain_variable_qualifies_short_names_only_when_configured():
    data = doc({"g": {"hosts": ["nsr-dir", "x.other.example", "10.1.2.3"]}},
               {"nsr-dir": {"domain": "Corp.Example"}, "x.other.example": {"domain": "corp.example"},
                "10.1.2.3": {"domain": "corp.example"}})
    assert set(by_id(run(data), "host")) == {"nsr-dir", "x.other.example", "10.1.2.3"}
    hosts = by_id(run(data, {"vars": {"domain": "domain"}}), "host")
    assert set(hosts) == {"nsr-dir.corp.example", "x.other.example", "10.1.2.3"}
    assert "nsr-dir" in hosts["nsr-dir.corp.example"]["aliases"]


# --- tags and the backup exemption (COV-001) ------------------------------------------------------

def test_tags_are_the_group_names_without_all_and_ungrouped():
    data = doc({"tier1": {"children": ["web"]}, "web": {"hosts": ["w1"]}, "ungrouped": {"hosts": ["lone"]}},
               {"w1": {}, "lone": {}})
    hosts = by_id(run(data), "host")
    assert hosts["w1"]["tags"] == ["tier1", "web"]
    assert hosts["lone"]["tags"] == []


def test_backup_exemption_with_reason_and_owner():
    data = doc({"web": {"hosts": ["a", "b", "c", "d"]}},
               {"a": {"backup": {"exempt": True, "reason": " rebuilt from a template ", "owner": "ops"}},
                "b": {"backup": {"reason": "scratch node"}},          # the variable declares the exemption
                "c": {"backup": {"exempt": False}},                   # explicitly not exempt
                "d": {"backup": None}})
    hosts = by_id(run(data), "host")
    assert hosts["a"]["backup"] == {"exempt": True, "reason": "rebuilt from a template", "owner": "ops"}
    assert hosts["b"]["backup"] == {"exempt": True, "reason": "scratch node", "owner": None}
    assert hosts["c"]["backup"] == {"exempt": False, "reason": None, "owner": None}
    assert hosts["d"]["backup"] is None and "backup" not in hosts["d"].get("_unknown", {})  # null: none
    assert "_unknown" not in hosts["a"]


@pytest.mark.parametrize("value,why", [
    ({"exempt": True}, "without a reason"),
    ({"exempt": True, "reason": "  "}, "without a reason"),
    ({"exempt": True, "reason": ["a", "b"]}, "backup.reason should be text, got list"),
    ({"exempt": "yes", "reason": "x"}, "backup.exempt should be true or false"),
    ({"exempt": True, "reason": "x", "owner": {"team": "ops"}}, "backup.owner should be text"),
    ({"exempt": True, "reson": "typo"}, "has key(s) reson"),
    ("exempt", "should be {exempt: true, reason: ..., owner: ...}, got str"),
    (True, "got bool"),
    ({"exempt": True, "reason": "{{ why }}"}, "templated in ansible: backup"),
])
def test_malformed_backup_exemption_is_unknown_never_an_exemption(value, why):
    hosts = by_id(run(doc({"web": {"hosts": ["w1"]}}, {"w1": {"backup": value}})), "host")
    h = hosts["w1"]
    assert "backup" not in h
    assert why in h["_unknown"]["backup"]
    if not why.startswith("templated"):
        assert h["_unknown"]["backup"].startswith("host w1: ansible variable backup")


def test_backup_exemption_variable_is_configurable():
    data = doc({"web": {"hosts": ["w1"]}}, {"w1": {"backup": "daily", "pc_backup": {"reason": "stateless"}}})
    h = by_id(run(data, {"vars": {"backup": ["pc_backup"]}}), "host")["w1"]
    assert h["backup"] == {"exempt": True, "reason": "stateless", "owner": None}
