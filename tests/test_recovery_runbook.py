"""policycheck runbook: the recovery order per backup server on both example datazones (DNS and the
directory before the backup server, the circular dependency named with BSRV-003), cycles, unknowns."""
from __future__ import annotations

import importlib.util
import json
import shutil

import pytest
from pchelpers import ROOT, facts_doc, run_cli

from policycheck.pipeline import build_facts
from policycheck.recovery import runbook

DZ = ROOT / "examples" / "datazone" / "policycheck.yaml"
ANSIBLE = ROOT / "examples" / "ansible-datazone" / "policycheck.yaml"
needs_ansible = pytest.mark.skipif(
    importlib.util.find_spec("policycheck_ansible") is None or shutil.which("ansible-inventory") is None,
    reason="the Ansible example needs `pip install ansible-core plugins/policycheck-ansible`")


def _book(config, *extra):
    rc, out, err = run_cli("runbook", "-c", config, "--format", "json", *extra)
    assert rc == 0, err
    return {s["server"]: s for s in json.loads(out)["servers"]}


def _order(server):
    return [st["host"] for st in server["steps"]]


def test_example_datazone_order_and_deadlock():
    book = _book(DZ)
    nsr01, nsrdir = book["nsr01.corp.example"], book["nsr-dir.corp.example"]
    o = _order(nsr01)
    assert o.index("dns01.corp.example") < o.index("nsr01.corp.example")
    assert [st["phase"] for st in nsr01["steps"]][:2] == ["dependency", "backup_server"]
    o = _order(nsrdir)
    for dep in ("dns01.corp.example", "dns02.corp.example", "vcenter01.corp.example"):
        assert o.index(dep) < o.index("nsr-dir.corp.example")
    assert o.index("dns01.corp.example") < o.index("vcenter01.corp.example")  # vcenter01 depends on dns01
    assert o.index("nsr-dir.corp.example") < o.index("sn01.corp.example") < o.index("app01.corp.example")
    dl = nsrdir["deadlocks"]
    assert [d["hosts"] for d in dl] == [["nsr-dir.corp.example", "dns02.corp.example", "nsr-dir.corp.example"]]
    assert dl[0]["bsrv_003"]["status"] == "fail" and "dns02.corp.example" in dl[0]["bsrv_003"]["message"]
    step = {st["host"]: st for st in nsrdir["steps"]}
    assert step["dns02.corp.example"]["status"] == "deadlock"
    assert step["nsr-dir.corp.example"]["status"] == "no-path"  # no BMR method, template or snapshot
    boot = step["nsr-dir.corp.example"]["bootstrap"]
    assert boot["off_server"] is False and boot["copies"][0]["local_to_server"] is True
    boot = {st["host"]: st for st in nsr01["steps"]}["nsr01.corp.example"]["bootstrap"]
    assert [c["device"] for c in boot["copies"] if c["local_to_server"] is False] == ["nsr01:dd01-boost"]
    assert boot["age"] == "5h"  # 2026-11-25T01:00:12Z as of 06:00Z: the config's as_of, not the wall clock
    assert nsr01["deadlocks"] == []


def test_text_and_markdown():
    rc, out, err = run_cli("runbook", "-c", DZ)
    assert rc == 0, err
    assert "DEADLOCK nsr-dir.corp.example -> dns02.corp.example -> nsr-dir.corp.example" in out
    assert "BSRV-003 fail" in out and "NO COPY OFF THE SERVER" in out
    rc, md, err = run_cli("runbook", "-c", DZ, "--format", "markdown", "--server", "nsr-dir")
    assert rc == 0, err
    assert md.startswith("# Recovery runbook") and "- [ ] 1. dns01.corp.example" in md
    assert "nsr01.corp.example (networker" not in md  # --server kept one server
    rc, _, err = run_cli("runbook", "-c", DZ, "--server", "nsr99")
    assert rc == 2 and "nsr99" in err


@needs_ansible
def test_ansible_datazone_dns_and_directory_first():
    nsr = _book(ANSIBLE)["nsr-dir.corp.example"]
    o = _order(nsr)
    for dep in ("dns01.corp.example", "ldap01.corp.example", "vc01.corp.example"):
        assert o.index(dep) < o.index("nsr-dir.corp.example")
    assert o.index("dns01.corp.example") < o.index("ldap01.corp.example")  # dns before the directory
    roles = {st["host"]: st["roles"] for st in nsr["steps"]}
    assert "directory" in roles["ldap01.corp.example"]
    assert [d["hosts"][1] for d in nsr["deadlocks"]] == ["dns01.corp.example"]
    step = {st["host"]: st for st in nsr["steps"]}
    way_out = " ".join(step["dns01.corp.example"]["notes"])
    assert "template" in way_out and "networker_bmr" not in way_out.split("way out:")[1]


def _host(hid, deps=(), roles=("application",), **kw):
    return {"id": hid, "os": "linux", "platform": "physical", "roles": list(roles), "services": [],
            "depends_on": list(deps), "bmr_methods": kw.pop("bmr", ["rear"]), **kw}


def _client(server, hid):
    return {"id": f"{server}/{hid}", "hostname": hid, "backup_server": server, "os": "linux",
            "last_filesystem_backup": "2026-11-24T22:00:00+00:00", "last_image_backup": None, "last_bmr_backup": None}


def test_client_order_cycles_and_unknowns():
    hosts = [_host("bk1", ["dns1"], ["backup_server"]), _host("dns1", [], ["dns"], independent_recovery=True),
             _host("app1", ["db1"]), _host("db1", [], ["database"]), _host("web1", ["app1"], ["web_server"]),
             _host("a", ["b"]), _host("b", ["a"]), {"id": "mystery"}]
    ents = {"host": hosts, "backup_server": [{"id": "bk1", "host": "bk1"}],
            "client": [_client("bk1", h) for h in ("web1", "app1", "db1", "a", "b", "mystery", "dns1")]}
    facts = build_facts(facts_doc(ents))
    rb = runbook.build(facts)["servers"][0]
    o = _order(rb)
    assert o[:2] == ["dns1", "bk1"]
    assert o.index("db1") < o.index("app1") < o.index("web1")
    assert any(d["kind"] == "depends_on" and set(d["hosts"]) == {"a", "b"} for d in rb["deadlocks"])
    st = {s["host"]: s for s in rb["steps"]}
    assert st["a"]["status"] == st["b"]["status"] == "deadlock"
    assert st["mystery"]["status"] == "unknown" and any("bmr_methods" in u for u in st["mystery"]["unknown"])
    assert rb["steps"][1]["bootstrap"]["status"] == "unknown"  # no source describes bootstraps


def test_unknown_dependencies_are_said():
    hosts = [_host("bk1", ["dns1"], ["backup_server"]), {"id": "dns1", "os": "linux", "roles": ["dns"],
                                                          "_unknown": {"depends_on": "vaulted"}}]
    facts = build_facts(facts_doc({"host": hosts, "backup_server": [{"id": "bk1", "host": "bk1"}], "client": []}))
    rb = runbook.build(facts)["servers"][0]
    assert any("vaulted" in u for u in rb["unknown"])
    text = runbook.render_text(runbook.build(facts))
    assert "UNKNOWN" in text and "vaulted" in text
