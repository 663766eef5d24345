"""policycheck what-if: the same pipeline on facts transformed as if things were lost, compared with the
normal run (no second engine: the 'before' of every change is the normal run's result)."""
from __future__ import annotations

import copy
import json

import pytest
from pchelpers import facts_doc, run_cli
from test_recovery_runbook import ANSIBLE, DZ, needs_ansible

from policycheck.engine import evaluate
from policycheck.pipeline import build_facts, load_all_policies, load_snapshot
from policycheck.recovery import whatif


def _whatif(*args):
    rc, out, err = run_cli("what-if", *args, "--format", "json")
    assert rc in (0, 1), err
    return rc, json.loads(out)


def _normal(snapshot):
    facts = build_facts(load_snapshot(snapshot))
    facts.as_of = "2026-11-25T06:00:00+00:00"
    return {(r.policy.id, f"{r.target_kind}:{r.target_id}"): r.status for r in evaluate(load_all_policies(), facts)}


@pytest.fixture(scope="module")
def dz_snapshot(tmp_path_factory):
    p = tmp_path_factory.mktemp("dz") / "facts.json"
    rc, _, err = run_cli("collect", "-c", DZ, "-o", p)
    assert rc == 0, err
    return p


def test_losing_the_dedup_appliance_leaves_the_bootstrap_on_the_server(dz_snapshot):
    rc, out = _whatif("-c", DZ, "--lose", "dd01")
    assert rc == 1
    broken = {(c["policy"], c["target"]): c for c in out["broken"]}
    assert (broken[("BOOT-002", "backup_server:nsr01.corp.example")]["after"] == "fail"
            and "local_to_server is true" in broken[("BOOT-002", "backup_server:nsr01.corp.example")]["after_message"])
    assert all(c["before"] == "pass" and c["after"] in ("fail", "error") for c in out["broken"])
    # its copies were the only immutable ones and the only ones off the server for nsr01's clients
    assert ("IMM-001", "backup_server:nsr01.corp.example") in broken
    assert ("CPY-001", "client:nsr01.corp.example/fs01.corp.example") in broken or any(
        p == "CPY-001" for p, _ in broken)
    assert {"kind": "device", "id": "nsr01:dd01-boost",
            "why": "its data lives on lost host dd01.corp.example"} in out["lost"]
    normal = _normal(dz_snapshot)
    assert normal[("BOOT-002", "backup_server:nsr01.corp.example")] == "pass"
    for c in out["broken"] + out["worse"] + out["other"]:  # every 'before' is the normal run
        assert normal.get((c["policy"], c["target"]), "absent") == c["before"]
    # from the snapshot (derived facts already in it) the same as from the sources
    rc2, out2 = _whatif("--facts", dz_snapshot, "--as-of", "2026-11-25T06:00:00+00:00", "--lose", "dd01")
    assert (rc2, out2["broken"], out2["worse"]) == (rc, out["broken"], out["worse"])


def test_losing_a_hypervisor_host_text(dz_snapshot):
    rc, out, err = run_cli("what-if", "-c", DZ, "--lose", "esx01")
    assert rc == 0, err  # VIRT-002 of nsr-dir already fails: nothing that passes breaks
    assert "Already failing, the reason would change" in out
    assert 'was: vm->vm.eligible_hosts is ["esx01"]' in out and "now: vm->vm.eligible_hosts is []" in out


def _cluster_doc():
    ents = {
        "host": [{"id": "bk1", "os": "linux", "platform": "virtual", "roles": ["backup_server"], "services": [],
                  "depends_on": [], "bmr_methods": ["template"]}],
        "backup_server": [{"id": "bk1", "host": "bk1", "product": "networker"}],
        "device": [{"id": "bk1:boot", "backup_server": "bk1", "storage_node": None, "host": "bk1",
                    "media_type": "disk", "enabled": True, "client_data": False, "vm_disk": "Hard disk 2"},
                   {"id": "bk1:dd", "backup_server": "bk1", "storage_node": None, "host": "dd1",
                    "media_type": "dedup", "enabled": True, "client_data": True, "vm_disk": None}],
        "bootstrap": [{"id": "b1", "backup_server": "bk1", "time": "2026-11-25T03:00:00+00:00", "level": "full",
                       "copies": [{"device": "bk1:boot", "volume": "v1", "clone": False},
                                  {"device": "bk1:dd", "volume": "v2", "clone": True}]}],
        "cluster": [{"id": "cl1", "name": "cl1", "hosts": ["esx01", "esx02"], "ha_enabled": True,
                     "drs_enabled": True, "drs_automation": "fully_automated"}],
        "hypervisor_host": [{"id": h, "name": h, "cluster": "cl1", "connection_state": "connected",
                             "maintenance": False, "vmotion_enabled": True, "datastores": ["ds1", "ds2"]}
                            for h in ("esx01", "esx02")],
        "datastore": [{"id": d, "name": d, "type": "vmfs", "hosts": ["esx01", "esx02"]} for d in ("ds1", "ds2")],
        "vm": [{"id": "bk1", "name": "bk1", "guest_hostname": "bk1", "power_state": "on", "is_template": False,
                "template": None, "cluster": "cl1", "host": "esx01",
                "disks": [{"label": "Hard disk 1", "datastore": "ds1", "system": True},
                          {"label": "Hard disk 2", "datastore": "ds2", "system": False}],
                "passthrough_devices": [], "host_rules": [], "ha_disabled": False, "drs_disabled": False,
                "snapshots": []}],
    }
    return facts_doc(ents)


def _run(doc, names):
    pols = load_all_policies()
    new, loss = whatif.lose(doc, whatif.resolve_names(doc, names))
    before = evaluate(pols, build_facts(copy.deepcopy(doc)))
    return whatif.compare(before, evaluate(pols, build_facts(new))), loss, before


def test_losing_a_hypervisor_host_leaves_one_eligible_host():
    changes, loss, before = _run(_cluster_doc(), ["esx01"])
    assert {(r.policy.id, r.status) for r in before if r.policy.id == "VIRT-002"} == {("VIRT-002", "pass")}
    assert [(c.policy, c.target, c.before, c.after) for c in changes["broken"]] == [
        ("VIRT-002", "backup_server:bk1", "pass", "fail")]
    assert 'eligible_hosts is ["esx02"]' in changes["broken"][0].after_message
    assert loss.lost == [("hypervisor_host", "esx01", "named by --lose")]
    changes, _, _ = _run(_cluster_doc(), ["cluster:cl1"])
    assert 'eligible_hosts is []' in changes["broken"][0].after_message


def test_losing_a_datastore_and_a_device():
    changes, loss, _ = _run(_cluster_doc(), ["datastore:ds2"])
    assert ("device", "bk1:boot", "on virtual disk Hard disk 2 of VM bk1, stored on lost datastore ds2") in loss.lost
    assert "VIRT-002" in {c.policy for c in changes["broken"]}  # its disk is on no host's datastore
    changes, loss, _ = _run(_cluster_doc(), ["bk1:dd"])
    assert [(c.policy, c.after) for c in changes["broken"]] == [("BOOT-002", "fail")]
    assert loss.copies == [("b1", "device bk1:dd", "named by --lose")]


def test_a_name_that_names_nothing_is_exit_2():
    rc, _, err = run_cli("what-if", "-c", DZ, "--lose", "dd02")
    assert rc == 2 and "--lose dd02" in err and "dd01" in err
    rc, _, err = run_cli("what-if", "-c", DZ, "--lose", "datastore:esx01")
    assert rc == 2 and "names no datastore" in err


@needs_ansible
def test_ansible_datazone_losing_the_storage_node():
    rc, out = _whatif("-c", ANSIBLE, "--lose", "nsr-sn01")
    assert rc == 1
    assert [(c["policy"], c["before"], c["after"]) for c in out["broken"]] == [("BOOT-002", "pass", "fail")]
