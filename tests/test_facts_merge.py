"""Merging fragments: joining names across sources, references rewritten, conflicts recorded."""
from policycheck.derive import derive
from policycheck.engine import evaluate
from policycheck.facts import Facts, merge
from policycheck.policy import builtin_dir, load_policies


def frag(**entities):
    return {"entities": entities}


def test_same_machine_under_three_names_is_one_entity():
    doc = merge([
        ("ansible", "2026-11-25T00:00:00Z", frag(host=[{"id": "nsr-dir", "roles": ["backup_server"]}])),
        ("netbox", "2026-11-25T00:00:00Z", frag(host=[{"id": "NSR-DIR.corp.example", "services": ["nfs"]}])),
        ("nsr", "2026-11-25T00:00:00Z", frag(backup_server=[{"id": "nsr-dir.corp.example", "host": "NSR-DIR"}])),
    ], "2026-11-25T00:00:00Z", [])
    hosts = doc["entities"]["host"]
    assert len(hosts) == 1
    h = hosts[0]
    assert h["id"] == "NSR-DIR.corp.example" or h["id"] == "nsr-dir.corp.example"
    assert h["roles"] == ["backup_server"] and h["services"] == ["nfs"]
    assert set(h["_sources"]) == {"ansible", "netbox"}
    assert doc["entities"]["backup_server"][0]["host"] == h["id"]
    assert doc["conflicts"] == []


def test_canonical_id_prefers_lowercase_fqdn():
    doc = merge([("a", "t", frag(host=[{"id": "nsr-dir"}])), ("b", "t", frag(host=[{"id": "NSR-DIR.corp.example"}])),
                 ("c", "t", frag(host=[{"id": "nsr-dir.corp.example"}]))], "2026-11-25T00:00:00Z", [])
    assert [h["id"] for h in doc["entities"]["host"]] == ["nsr-dir.corp.example"]


def test_ambiguous_short_name_is_not_joined():
    doc = merge([("a", "t", frag(host=[{"id": "db1.site-a.example"}, {"id": "db1.site-b.example"}])),
                 ("b", "t", frag(host=[{"id": "db1"}]))], "2026-11-25T00:00:00Z", [])
    assert len(doc["entities"]["host"]) == 3


def test_conflict_is_recorded_and_the_policy_errors_naming_both_sources():
    doc = merge([
        ("ansible", "2026-11-25T00:00:00Z", frag(host=[{"id": "nsr1", "platform": "virtual", "roles": ["backup_server"],
                                                        "services": []}])),
        ("netbox", "2026-11-25T00:00:00Z", frag(host=[{"id": "nsr1.corp.example", "platform": "physical"}])),
        ("nsr", "2026-11-25T00:00:00Z", frag(backup_server=[{"id": "nsr1.corp.example", "host": "nsr1"}],
                                              device=[], bootstrap=[])),
    ], "2026-11-25T00:00:00Z", [])
    assert doc["conflicts"][0]["attribute"] == "platform"
    assert {v["source"] for v in doc["conflicts"][0]["values"]} == {"ansible", "netbox"}
    facts = Facts(doc)
    derive(facts)
    pols = [p for p in load_policies([builtin_dir()]) if p.id == "VIRT-001"]
    r = evaluate(pols, facts)[0]
    assert r.status == "error"
    assert "ansible" in r.message and "netbox" in r.message and "platform" in r.message


def test_lists_of_names_are_united_and_dicts_merged():
    doc = merge([("a", "t", frag(host=[{"id": "h", "services": ["nfs"], "x": {"a": 1}}])),
                 ("b", "t", frag(host=[{"id": "h", "services": ["smb", "nfs"], "x": {"b": 2}}]))],
                "2026-11-25T00:00:00Z", [])
    h = doc["entities"]["host"][0]
    assert h["services"] == ["nfs", "smb"] and h["x"] == {"a": 1, "b": 2}


def test_unknown_from_one_source_is_overridden_by_a_source_that_read_it():
    doc = merge([("ansible", "t", frag(host=[{"id": "h", "_unknown": {"depends_on": "vaulted"}}])),
                 ("netbox", "t", frag(host=[{"id": "h", "depends_on": []}]))], "2026-11-25T00:00:00Z", [])
    h = doc["entities"]["host"][0]
    assert h["depends_on"] == [] and "_unknown" not in h


def test_nested_references_rewritten():
    doc = merge([("v", "t", frag(vm=[{"id": "vm1", "disks": [{"label": "d", "datastore": "DS1"}],
                                       "host_rules": [{"mandatory": True, "hosts": ["ESX1.corp"]}]}],
                                 datastore=[{"id": "ds1"}], hypervisor_host=[{"id": "esx1.corp"}]))],
                "2026-11-25T00:00:00Z", [])
    vm = doc["entities"]["vm"][0]
    assert vm["disks"][0]["datastore"] == "ds1" and vm["host_rules"][0]["hosts"] == ["esx1.corp"]
