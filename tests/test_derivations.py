"""The derivation registry (issue 17): typed registrations through one hook, run in the order of their
inputs, a cycle named, derived values crediting their inputs' sources, DERIVED_FROM and the facts model
computed from the registry, docs/facts.md checked against it, and the old hook kept with a warning."""
import copy
import json
import os
import re
import warnings

import pytest
from pchelpers import ROOT, run_cli

from policycheck import derive as derive_mod
from policycheck import model
from policycheck.derivations import Derivation, DerivationError, derived_from, order
from policycheck.derivations.base import derived
from policycheck.derivations.core import DERIVATIONS
from policycheck.facts import Facts
from policycheck.plugins import make_plugins

AS_OF = "2026-11-25T06:00:00+00:00"


def _noop(facts):
    pass


def _d(kind, attr, inputs, fn):
    return Derivation(kind, attr, tuple(inputs), fn, f"{kind}.{attr}", "")


def test_derivations_run_after_the_ones_whose_output_they_read():
    ran = []

    def a(facts):
        ran.append("a")

    def b(facts):
        ran.append("b")

    def c(facts):
        ran.append("c")
    # registered in the wrong order: c reads b's output, b reads a's
    derivs = [_d("host", "z", [("host", "y")], c), _d("host", "y", [("host", "x")], b), _d("host", "x", [], a)]
    assert [s[0].attr for s in order(derivs)] == ["x", "y", "z"]
    from policycheck.derivations import run
    run(Facts({"schema_version": 1, "collected_at": AS_OF, "entities": {}}), derivs)
    assert ran == ["a", "b", "c"]


def test_a_cycle_is_an_error_naming_both_derivations():
    def f(facts):
        pass

    def g(facts):
        pass
    with pytest.raises(DerivationError) as exc:
        order([_d("host", "p", [("client", "q")], f), _d("client", "q", [("host", "p")], g)])
    assert "host.p" in str(exc.value) and "client.q" in str(exc.value) and "cycle" in str(exc.value)


def test_one_attribute_produced_by_two_derivations_is_an_error():
    with pytest.raises(DerivationError, match="host.p is produced by two"):
        order([_d("host", "p", [], lambda f: None), _d("host", "p", [], lambda f: None)])


def test_the_core_registry_keeps_todays_order_and_has_no_cycle():
    names = [s[0].fn.__name__ for s in order(DERIVATIONS)]
    assert names == ["join_vms", "client_hosts", "servers", "devices", "bootstraps", "clients",
                     "datastores_and_vms", "dependencies"]


def test_derived_from_and_the_model_come_from_the_registry():
    table = derived_from(DERIVATIONS)
    assert table == derive_mod.DERIVED_FROM
    assert table[("backup_server", "circular_dependencies")] >= {"host", "client"}
    assert table[("backup_server", "vm")] >= {"host", "vm"}  # through host.vm, derived from vms
    assert table[("vm", "eligible_hosts")] >= {"hypervisor_host", "cluster", "datastore"}
    assert {d.key for d in DERIVATIONS} == model.DERIVED
    for d in DERIVATIONS:
        assert d.doc and d.example, d.name
        for kind, attr in d.inputs:
            assert attr in model.attributes(kind), (d.name, kind, attr)


def test_docs_facts_md_lists_exactly_the_registered_derivations():
    doc = (ROOT / "docs" / "facts.md").read_text(encoding="utf-8")
    section = doc.split("## Derived facts", 1)[1].split("\n## ", 1)[0]
    from policycheck.derivations import markdown_table
    table = markdown_table(DERIVATIONS)
    if table not in section and os.environ.get("POLICYCHECK_UPDATE_GOLDEN") == "1":  # regenerate the table
        old = "\n".join(line for line in section.splitlines() if line.startswith("|")) + "\n"
        assert old.strip() and old in doc, "no table to replace in docs/facts.md's Derived facts"
        (ROOT / "docs" / "facts.md").write_text(doc.replace(old, table, 1), encoding="utf-8")
        section = section.replace(old, table, 1)
    assert table in section, "regenerate: POLICYCHECK_UPDATE_GOLDEN=1 python -m pytest tests/test_derivations.py"
    listed = set(re.findall(r"^\| `([a-z_]+)\.([a-z_]+)` \|", section, re.M))
    assert listed == {d.key for d in DERIVATIONS}
    for d in DERIVATIONS:  # each row carries the registry's doc and inputs
        row = re.search(rf"^\| `{d.kind}\.{d.attr}` \|([^\n]*)$", section, re.M).group(1)
        assert d.doc in row and all(f"{k}.{a}" in row for k, a in d.inputs), d.name


def test_a_derived_value_credits_its_inputs_sources():
    e = {"id": "x"}
    host = {"id": "h", "_sources": ["inventory"], "platform": "virtual"}
    vm = {"id": "v", "_sources": ["vsphere"], "_attr_sources": {"disks": "vsphere"}}
    derived(e, "a", 1, (host, "platform"), (vm, "disks"))
    assert e["_attr_sources"]["a"] == "derived from inventory, vsphere"
    derived(e, "b", 2, (e, "a"))  # a derived input: the sources behind it
    assert e["_attr_sources"]["b"] == "derived from inventory, vsphere"
    derived(e, "c", 3)
    assert e["_attr_sources"]["c"] == "derived"


def test_boot_003_on_system_disk_is_credited_to_the_vm_disks_source():
    """BOOT-003's device->device.on_system_disk comes from the VM's disks (vsphere) and the device's
    vm_disk (networker): the evidence says so, no longer only the device's source."""
    doc = {"schema_version": 1, "collected_at": AS_OF,
           "sources": [{"name": n, "plugin": n, "status": "ok", "kinds": k} for n, k in
                       (("networker", ["backup_server", "device", "bootstrap"]), ("vsphere", ["vm"]),
                        ("inventory", ["host"]))],
           "entities": {
               "host": [{"id": "bk", "platform": "virtual", "_sources": ["inventory"]}],
               "vm": [{"id": "bk", "name": "bk", "disks": [{"label": "Hard disk 1", "system": True}],
                       "_sources": ["vsphere"]}],
               "backup_server": [{"id": "bk", "host": "bk", "_sources": ["networker"]}],
               "device": [{"id": "aftd", "backup_server": "bk", "host": "bk", "vm_disk": "Hard disk 1",
                           "_sources": ["networker"]}],
               "bootstrap": [{"id": "b1", "backup_server": "bk", "time": "2026-11-25T01:00:00Z",
                              "copies": [{"device": "aftd"}], "_sources": ["networker"]}]}}
    facts = Facts(copy.deepcopy(doc))
    derive_mod.derive(facts)
    dev = facts.get("device", "aftd")
    assert dev["on_system_disk"] is True
    assert dev["_attr_sources"]["on_system_disk"] == "derived from networker, vsphere"
    from policycheck.engine import evaluate
    from policycheck.policy import builtin_dir, load_policies
    pol = [p for p in load_policies([builtin_dir()]) if p.id == "BOOT-003"]
    (r,) = evaluate(pol, facts)
    assert r.status == "fail"
    ev = [x for x in r.evidence if x[0].path.text == "device->device.on_system_disk"]
    from policycheck.results import evidence_dict
    assert ev and evidence_dict(ev[0])["source"] == "derived from networker, vsphere"


def test_the_old_hook_still_runs_with_a_deprecation_warning():
    import types

    from policycheck import hookimpl

    mod = types.ModuleType("oldstyle")

    def policycheck_derive_facts(facts):
        for s in facts.entities("backup_server"):
            s.setdefault("old_flag", True)
    mod.policycheck_derive_facts = hookimpl(policycheck_derive_facts)
    plugins = make_plugins(load_entry_points=False)
    plugins.pm.register(mod, name="oldstyle")
    facts = Facts({"schema_version": 1, "collected_at": AS_OF, "entities": {"backup_server": [{"id": "s"}]}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        derive_mod.derive(facts, plugins)
    assert facts.get("backup_server", "s")["old_flag"] is True
    assert any(issubclass(w.category, DeprecationWarning) and "oldstyle" in str(w.message)
               and "policycheck_derivations" in str(w.message) for w in caught)


def test_the_core_derivations_come_through_the_hook():
    plugins = make_plugins(load_entry_points=False)
    assert derive_mod.registry(plugins) == list(DERIVATIONS)


def test_policies_show_names_the_derivation_behind_each_fact():
    code, out, err = run_cli("policies", "show", "BSRV-003")
    assert code == 0, err
    part = out.split("derived facts it reads", 1)[1]
    assert "backup_server.circular_dependencies" in part
    d = next(d for d in DERIVATIONS if d.attr == "circular_dependencies")
    assert d.doc in " ".join(part.split())
    assert "inputs: backup_server.host, host.depends_on, host.independent_recovery, client.host, " \
           "client.backup_server" in part
    assert "backup_server.host" in part  # and the derivations behind its inputs
    code, out, err = run_cli("policies", "show", "BSRV-001")  # reads host->host.roles: no derived fact
    assert code == 0 and "derived facts it reads" not in out


def test_policies_show_json_is_unchanged_by_the_derivations():
    code, out, err = run_cli("policies", "list", "--format", "json")
    assert code == 0 and json.loads(out)


@pytest.mark.parametrize("kind, attr", [
    ("host", "vm"), ("client", "host"), ("backup_server", "latest_dr_test"), ("backup_server", "last_dr_test"),
    ("client", "latest_restore_test"), ("backup_server", "client_backup_copies"), ("host", "protected_by"),
    ("backup_server", "dependency_closure"), ("backup_server", "circular_dependencies")])
def test_a_derived_fact_one_entity_lacks_is_derived_as_from_the_raw_facts(kind, attr):
    # a derivation reads its inputs only when some entity lacks its fact (a snapshot `collect` wrote has
    # them all): the snapshot derives to itself, and a fact taken out of one entity comes back the same
    import sys
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gen_datazone

    from policycheck.pipeline import build_facts

    full = build_facts(gen_datazone.generate(clients=200, seed=3, raw=True)).doc
    assert build_facts(copy.deepcopy(full)).doc == full
    doc = copy.deepcopy(full)
    e = next(x for x in doc["entities"][kind] if x.get(attr) not in (None, []))
    del e[attr]
    e["_attr_sources"].pop(attr)
    assert build_facts(doc).doc == full
