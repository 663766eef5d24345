"""Never a silent pass: each situation of issue 14 (and the facts contract for collectors) through the
real CLI, asserting the exit code and the status of the policy and target concerned."""
from __future__ import annotations

import json

import pytest
from pchelpers import facts_doc, run_cli

from policycheck.conditions import Ctx, Missing, compile_condition
from policycheck.derive import derive
from policycheck.facts import Facts, merge
from policycheck.operators import OPERATORS


def statuses(path, *extra):
    code, out, err = run_cli("check", "--facts", path, "--format", "json", *extra)
    assert out, err
    doc = json.loads(out)
    return code, {(r["policy_id"], r["target_id"]): r for r in doc["results"]}, err


def server(**kw):
    base = {"id": "bk.corp.example", "host": "bk.corp.example", "product": "networker"}
    base.update(kw)
    return base


def host(hid, **kw):
    return {"id": hid, "platform": "physical", "roles": [], "services": [], "depends_on": [], **kw}


# ---- item 3: references that do not resolve are unknown -------------------------------------------
def test_depends_on_typo_is_an_error_not_a_pass(write_facts):
    p = write_facts({
        "host": [host("bk.corp.example", roles=["backup_server"], depends_on=["dns01.corp.exmaple"]),
                 host("dns01.corp.example")],
        "backup_server": [server()],
        "client": [{"id": "dns01.corp.example", "hostname": "dns01.corp.example", "backup_server": "bk.corp.example"}],
    })
    code, res, _ = statuses(p, "--select", "BSRV-003")
    r = res[("BSRV-003", "bk.corp.example")]
    assert r["status"] == "error"
    assert "dns01.corp.exmaple" in r["message"] and "did you mean 'dns01.corp.example'" in r["message"]
    assert code == 3


def test_ambiguous_short_name_is_an_error_naming_the_candidates(write_facts):
    p = write_facts({
        "host": [host("bk.corp.example", depends_on=["dns01"]),
                 host("dns01.corp.example"), host("dns01.lab.corp.example")],
        "backup_server": [server()],
        "client": [{"id": "dns01.corp.example", "hostname": "dns01.corp.example",
                    "backup_server": "bk.corp.example"}],
    })
    code, res, _ = statuses(p, "--select", "BSRV-003")
    r = res[("BSRV-003", "bk.corp.example")]
    assert r["status"] == "error"
    assert "ambiguous" in r["message"]
    assert "dns01.corp.example" in r["message"] and "dns01.lab.corp.example" in r["message"]


def test_resolved_deadlock_still_fails(write_facts):
    p = write_facts({
        "host": [host("bk.corp.example", depends_on=["dns01"]), host("dns01.corp.example")],
        "backup_server": [server()],
        "client": [{"id": "dns01.corp.example", "hostname": "dns01", "backup_server": "bk.corp.example"}],
    })
    code, res, _ = statuses(p, "--select", "BSRV-003")
    assert res[("BSRV-003", "bk.corp.example")]["status"] == "fail" and code == 1


# ---- item 4: absent means unknown for every operator ----------------------------------------------
def test_absent_template_is_unknown_not_a_confident_fail(write_facts):
    p = write_facts({
        "host": [{"id": "app01.corp.example", "platform": "virtual", "bmr_methods": []}],
        "vm": [{"id": "app01", "name": "app01", "guest_hostname": "app01.corp.example", "snapshots": []}],
        "client": [{"id": "app01.corp.example", "hostname": "app01.corp.example", "backup_server": "bk",
                    "last_image_backup": None, "last_bmr_backup": None}],
    })
    code, res, _ = statuses(p, "--select", "BMR-001")
    r = res[("BMR-001", "app01.corp.example")]
    assert r["status"] == "error" and "template" in r["message"]


def test_known_null_template_fails(write_facts):
    p = write_facts({
        "host": [{"id": "app01.corp.example", "platform": "virtual", "bmr_methods": []}],
        "vm": [{"id": "app01", "name": "app01", "guest_hostname": "app01.corp.example", "snapshots": [],
                "template": None}],
        "client": [{"id": "app01.corp.example", "hostname": "app01.corp.example", "backup_server": "bk",
                    "last_image_backup": None, "last_bmr_backup": None}],
    })
    code, res, _ = statuses(p, "--select", "BMR-001")
    assert res[("BMR-001", "app01.corp.example")]["status"] == "fail" and code == 1


#: what each operator makes of a null fact (docs/policies.md's table); a new operator must be added here
NULL_TABLE = {
    "equals": (None, True), "not_equals": ("x", True), "in": (["a"], False), "not_in": (["a"], True),
    "lt": (1, False), "lte": (1, False), "gt": (1, False), "gte": (1, False),
    "exists": (False, True), "empty": (True, True), "contains": ("a", False), "subset_of": (["a"], True),
    "matches": ("a", False), "within": ("26h", False), "count": ({"max": 0}, True),
}


def _leaf(op, value, **extra):
    return compile_condition({"fact": "x", op: value, **extra}, (), {})


@pytest.mark.parametrize("op", sorted(OPERATORS))
def test_operator_null_and_absent_table(op):
    assert op in NULL_TABLE, f"operator {op} has no row in the null table (docs/policies.md)"
    value, expected = NULL_TABLE[op]
    facts = Facts(facts_doc({"thing": [{"id": "t", "x": None}, {"id": "u"}]}))
    ctx = Ctx(facts, __import__("datetime").datetime(2026, 11, 25, tzinfo=__import__("datetime").timezone.utc), None)
    f = _leaf(op, value)
    assert f({"id": "t", "x": None}, ctx) is expected
    assert f({"id": "u"}, ctx) is None  # absent: unknown, whatever the operator
    assert OPERATORS[op].null  # documented


def test_default_decides_only_absence():
    facts = Facts(facts_doc({}))
    ctx = Ctx(facts, None, None)
    f = _leaf("equals", True, default=True)
    assert f({"id": "u"}, ctx) is True
    assert f({"id": "v", "_unknown": {"x": "vaulted"}}, ctx) is None  # a source said unknown: default ignored


def test_docs_list_every_operator_null_row():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "policies.md").read_text()
    for op, row in OPERATORS.items():
        assert f"| `{op}` |" in text and row.null.replace("`", "") in text.replace("`", ""), op


# ---- item 5: partial lists are not complete lists --------------------------------------------------
def _two_sources(networker_only=True):
    nw = {"entities": {"host": [{"id": "bk.corp.example", "roles": ["backup_server"], "services": ["backup"]}],
                       "backup_server": [server()]},
          "partial": {"host": {"roles": "NetWorker knows only its own role", "services": "NetWorker knows only backup"}}}
    frags = [("networker", "2026-11-25T06:00:00+00:00", nw)]
    if not networker_only:
        inv = {"entities": {"host": [{"id": "bk", "roles": [], "services": ["nfs"]}]}}
        frags.append(("inventory", "2026-11-25T06:00:00+00:00", inv))
    srcs = [{"name": n, "plugin": "x", "status": "ok", "kinds": ["host"]} for n, _, _ in frags]
    return merge(frags, "2026-11-25T06:00:00+00:00", srcs)


def test_partial_roles_alone_do_not_pass_bsrv001(tmp_path):
    p = tmp_path / "f.json"
    p.write_text(json.dumps(_two_sources()))
    code, res, _ = statuses(p, "--select", "BSRV-001")
    r = res[("BSRV-001", "bk.corp.example")]
    assert r["status"] == "error" and "only partly known" in r["message"] and code == 3


def test_a_complete_source_decides(tmp_path):
    p = tmp_path / "f.json"
    p.write_text(json.dumps(_two_sources(networker_only=False)))
    code, res, _ = statuses(p, "--select", "BSRV-001")
    r = res[("BSRV-001", "bk.corp.example")]
    assert r["status"] == "fail" and "nfs" in r["message"]  # the inventory's complete list is read


def test_partial_list_quantifiers_and_counts():
    facts = Facts(facts_doc({}))
    ctx = Ctx(facts, None, None)
    item = {"id": "h", "l": ["a"], "_partial": {"l": "seen from one side"}}
    assert compile_condition({"fact": "l", "contains": "a"}, (), {})(item, ctx) is True
    assert compile_condition({"fact": "l", "contains": "b"}, (), {})(item, ctx) is None
    assert compile_condition({"fact": "l", "subset_of": ["a"]}, (), {})(item, ctx) is None
    assert compile_condition({"fact": "l", "subset_of": ["b"]}, (), {})(item, ctx) is False
    assert compile_condition({"fact": "l", "empty": True}, (), {})(item, ctx) is False
    assert compile_condition({"fact": "l", "count": {"max": 0}}, (), {})(item, ctx) is False
    assert compile_condition({"fact": "l", "count": {"max": 3}}, (), {})(item, ctx) is None
    for_all = {"for_all": "l", "require": {"fact": "@target.id", "equals": "h"}}
    ctx.target = item
    assert compile_condition(for_all, (), {})(item, ctx) is None


# ---- item 7: the latest DR test decides -----------------------------------------------------------
def test_failed_dr_test_after_success_fails_bmr002(write_facts):
    p = write_facts({
        "host": [host("bk.corp.example", bmr_methods=["rear"])],
        "backup_server": [server()],
        "dr_test": [{"id": "dr-2026-06", "host": "bk.corp.example", "time": "2026-06-01T10:00:00+00:00",
                     "result": "success", "kind": "full_dr"},
                    {"id": "dr-2026-11", "host": "bk.corp.example", "time": "2026-11-01T10:00:00+00:00",
                     "result": "failure", "kind": "bootstrap_restore"}],
    })
    code, res, _ = statuses(p, "--select", "BMR-002")
    r = res[("BMR-002", "bk.corp.example")]
    assert r["status"] == "fail" and code == 1
    ev = [e for e in r["evidence"] if e["fact"].endswith("result")]
    assert ev and ev[0]["observed"] == "failure" and ev[0]["entity"] == "dr-2026-11"


# ---- item 8: a copy marked off-site is not local --------------------------------------------------
def test_offsite_clone_on_a_local_device_counts_as_off_server(write_facts):
    ents = {
        "host": [host("bk.corp.example")],
        "backup_server": [server()],
        "device": [{"id": "tape1", "backup_server": "bk.corp.example", "storage_node": None,
                    "host": "bk.corp.example", "media_type": "tape", "enabled": True, "client_data": False}],
        "bootstrap": [{"id": "b1", "backup_server": "bk.corp.example", "time": "2026-11-25T01:00:00+00:00",
                       "copies": [{"device": "tape1", "volume": "A1", "clone": False, "offsite": False}]}],
    }
    code, res, _ = statuses(write_facts(ents, name="a.json"), "--select", "BOOT-002")
    assert res[("BOOT-002", "bk.corp.example")]["status"] == "fail"
    ents["bootstrap"][0]["copies"].append({"device": "tape1", "volume": "V7", "clone": True, "offsite": True})
    code, res, _ = statuses(write_facts(ents, name="b.json"), "--select", "BOOT-002")
    assert res[("BOOT-002", "bk.corp.example")]["status"] == "pass" and code == 0


# ---- item 10: a policy cannot hang the gate -------------------------------------------------------
CATASTROPHIC = """\
id: SITE-001
title: names are sane
severity: low
target: host
rationale: A host name made of nothing but the letter a is a sign of a broken inventory export.
remediation: Fix the inventory export so that host names are real names again.
require:
  fact: hostname
  matches: "^(a+)+$"
"""


def test_catastrophic_pattern_runs_in_linear_time(tmp_path, write_facts):
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "site.yaml").write_text(CATASTROPHIC)
    p = write_facts({"host": [{"id": "h1", "hostname": "a" * 200_000 + "!"}]})
    code, res, err = statuses(p, "--no-builtin", "--policies", tmp_path / "pol")
    assert res[("SITE-001", "h1")]["status"] == "fail"  # with Python's re this backtracks for ages


def test_pattern_re2_cannot_run_is_a_located_error(tmp_path, write_facts):
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "site.yaml").write_text(CATASTROPHIC.replace('"^(a+)+$"', r'"(a)\\1"'))
    p = write_facts({"host": [{"id": "h1", "hostname": "aa"}]})
    code, out, err = run_cli("check", "--facts", p, "--no-builtin", "--policies", tmp_path / "pol")
    assert code == 2 and "site.yaml:" in err and "RE2" in err and "Traceback" not in err


def test_no_python_re_on_user_patterns():
    import inspect

    from policycheck import operators

    src = inspect.getsource(operators)
    assert "import re\n" not in src and "re.compile" not in src


# ---- the collectors' contract: incomplete kinds, client records per server ------------------------
def test_unreadable_bootstrap_element_makes_latest_bootstrap_unknown(tmp_path):
    frag = {"entities": {
        "host": [host("bk.corp.example")],
        "backup_server": [server()],
        "device": [{"id": "dd1", "backup_server": "bk.corp.example", "storage_node": None,
                    "host": "dd01.corp.example", "media_type": "dedup", "enabled": True, "client_data": True}],
        "bootstrap": [{"id": "old", "backup_server": "bk.corp.example", "time": "2026-11-20T01:00:00+00:00",
                       "copies": [{"device": "dd1", "volume": "v", "clone": True}]}]},
        "incomplete": [{"kind": "bootstrap", "backup_server": "bk.corp.example",
                        "reason": "GET /backups: save set 'x' has unparseable saveTime 'yesterday'"}]}
    doc = merge([("nsr", "2026-11-25T06:00:00+00:00", frag)], "2026-11-25T06:00:00+00:00",
                [{"name": "nsr", "plugin": "networker", "status": "ok", "kinds": ["bootstrap"]}])
    p = tmp_path / "f.json"
    p.write_text(json.dumps(doc))
    code, res, _ = statuses(p, "--select", "BOOT-002")
    r = res[("BOOT-002", "bk.corp.example")]
    assert r["status"] == "error" and "unparseable saveTime" in r["message"]


def test_unparseable_bootstrap_time_is_unknown(write_facts):
    ents = {
        "host": [host("bk.corp.example")],
        "backup_server": [server()],
        "bootstrap": [{"id": "new", "backup_server": "bk.corp.example", "time": "25/11/2026 03:00",
                       "copies": [{"device": None, "location": "local", "location_host": "bk.corp.example"}]},
                      {"id": "old", "backup_server": "bk.corp.example", "time": "2026-11-20T01:00:00+00:00",
                       "copies": [{"device": None, "location": "vault", "location_host": "vault.corp.example"}]}],
    }
    code, out, err = run_cli("check", "--facts", write_facts(ents), "--select", "BOOT-002")
    assert code == 2 and "entities.bootstrap[0].time" in err and out == ""  # a snapshot: an input error
    facts = Facts(facts_doc(ents))  # data from a collector: the derivation makes it unknown, never skips it
    derive(facts)
    s = facts.get("backup_server", "bk.corp.example")
    assert "latest_bootstrap" not in s and "unreadable time" in s["_unknown"]["latest_bootstrap"]


def test_one_host_two_backup_servers_two_clients():
    a = {"entities": {"client": [{"id": "web01.corp.example", "hostname": "web01.corp.example",
                                  "backup_server": "nsr01", "last_filesystem_backup": "2026-11-25T01:00:00+00:00"}]}}
    b = {"entities": {"client": [{"id": "web01.corp.example", "hostname": "web01",
                                  "backup_server": "bacula-dir", "last_filesystem_backup": "2026-11-20T01:00:00+00:00"}]}}
    doc = merge([("nsr", "t", a), ("bacula", "t", b)], "2026-11-25T06:00:00+00:00", [])
    clients = doc["entities"]["client"]
    assert len(clients) == 2 and not doc["conflicts"]
    assert {c["id"] for c in clients} == {"nsr01/web01.corp.example", "bacula-dir/web01.corp.example"}


def test_dependency_protected_by_two_servers_is_not_circular(write_facts):
    p = write_facts({
        "host": [host("bk.corp.example", depends_on=["dns01.corp.example"]), host("dns01.corp.example"),
                 host("bk2.corp.example")],
        "backup_server": [server(), server(id="bk2.corp.example", host="bk2.corp.example")],
        "client": [{"id": "bk.corp.example/dns01", "hostname": "dns01.corp.example", "backup_server": "bk.corp.example"},
                   {"id": "bk2.corp.example/dns01", "hostname": "dns01.corp.example",
                    "backup_server": "bk2.corp.example"}],
    })
    code, res, _ = statuses(p, "--select", "BSRV-003")
    assert res[("BSRV-003", "bk.corp.example")]["status"] == "pass"


def test_missing_is_reported_with_reason():
    m = Missing("why")
    assert "why" in repr(m)
    facts = Facts(facts_doc({"host": [{"id": "a", "roles": ["x"], "_partial": {"roles": "p"}}]}))
    derive(facts)
    assert facts.get("host", "a")["_partial"] == {"roles": "p"}


# ---- item 2: configuration mistakes are exit 2, never exit 3 ---------------------------------------
def _config(tmp_path, sources):
    (tmp_path / "inv.yaml").write_text("entities:\n  host: [{id: bk, roles: [backup_server], services: []}]\n"
                                       "  backup_server: [{id: bk, host: bk}]\n")
    cfg = tmp_path / "policycheck.yaml"
    cfg.write_text("version: 1\nsources:\n" + sources)
    return cfg


def test_misspelt_plugin_is_exit_2_with_the_real_plugin_named(tmp_path):
    cfg = _config(tmp_path, "  - {name: inv, plugin: file, path: inv.yaml}\n  - {name: ans, plugin: ansibel}\n")
    code, out, err = run_cli("check", "-c", cfg, "--no-fail-on-error")
    assert code == 2 and out == ""
    assert "policycheck.yaml:4:" in err and "did you mean 'ansible'" in err
    assert "policycheck-ansibel" not in err
    assert "Traceback" not in err


def test_missing_facts_file_is_exit_2_before_any_source(tmp_path):
    cfg = _config(tmp_path, "  - {name: inv, plugin: file, path: inventroy.yaml}\n")
    code, out, err = run_cli("check", "-c", cfg, "--no-fail-on-error")
    assert code == 2 and "policycheck.yaml:3:" in err and "not found" in err and "did you mean 'inv.yaml'" in err


def test_disable_plugin_naming_no_plugin_is_exit_2(tmp_path):
    cfg = _config(tmp_path, "  - {name: inv, plugin: file, path: inv.yaml}\n")
    code, out, err = run_cli("check", "-c", cfg, "--disable-plugin", "netwrker", "--no-fail-on-error")
    assert code == 2 and "--disable-plugin 'netwrker': no such plugin" in err
    code, out, err = run_cli("plugins", env={"POLICYCHECK_DISABLE_PLUGINS": "nope"})
    assert code == 2 and "POLICYCHECK_DISABLE_PLUGINS 'nope'" in err


# ---- item 1: facts are validated before anything is judged -----------------------------------------
BAD_INVENTORY = """\
entities:
  host:
    - id: bk.corp.example
      platform: vm
      roles: [backup_server]
      depends_on: dns01.corp.example
    - id: dns01.corp.example
      platform: physical
    - id: dns01.corp.example
      platform: virtual
  dr_test:
    - {id: t1, host: bk.corp.example, time: "2026-11-01 10:00:00", result: success, kind: bmr}
"""


def test_malformed_facts_file_is_exit_2_with_every_problem_located(tmp_path):
    (tmp_path / "inv.yaml").write_text(BAD_INVENTORY)
    cfg = tmp_path / "policycheck.yaml"
    cfg.write_text("version: 1\nsources:\n  - {name: inv, plugin: file, path: inv.yaml}\n")
    code, out, err = run_cli("check", "-c", cfg, "--no-fail-on-error")
    assert code == 2 and out == "" and "Traceback" not in err
    lines = [x for x in err.splitlines() if "inv.yaml:" in x]
    assert any("inv.yaml:4:17: entities.host[0].platform" in x and "(did you mean" in x for x in lines), err
    assert any("inv.yaml:6:19: entities.host[0].depends_on" in x and "expected a list (a host id each)" in x for x in lines), err
    assert any("inv.yaml:9:11: entities.host[2].id" in x and "duplicate host id" in x for x in lines), err
    assert any("entities.dr_test[0].time" in x and "without a UTC offset" in x for x in lines), err


def test_duplicate_ids_across_files_of_one_source(tmp_path):
    (tmp_path / "a.yaml").write_text("entities:\n  host: [{id: h1, platform: physical}]\n")
    (tmp_path / "b.json").write_text('{"entities": {"host": [{"id": "h1", "platform": "virtual"}]}}')
    cfg = tmp_path / "policycheck.yaml"
    cfg.write_text("version: 1\nsources:\n  - {name: inv, plugin: file, paths: [a.yaml, b.json]}\n")
    code, out, err = run_cli("check", "-c", cfg)
    assert code == 2 and "b.json:1:31: entities.host[0].id duplicate host id 'h1' (also in a.yaml)" in err, err


def test_malformed_snapshot_is_exit_2_located(tmp_path):
    doc = facts_doc({"backup_server": [{"id": "bk", "host": "bk", "virtual": "yes"}],
                     "client": [{"id": "c1", "backup_server": ["bk"], "last_filesystem_backup": {"t": 1}}]})
    p = tmp_path / "snap.json"
    p.write_text(json.dumps(doc, indent=1))
    code, out, err = run_cli("check", "--facts", p)
    assert code == 2 and out == ""
    assert "entities.backup_server[0].virtual is a string \"yes\"; expected true or false" in err
    assert "entities.client[0].backup_server is a list; expected the id (or a name) of a backup_server" in err
    assert "entities.client[0].last_filesystem_backup is an object" in err
    assert all(x.startswith(f"policycheck: error: {p}:") for x in err.splitlines()), err


def test_runtime_warns_with_the_count_of_unreadable_elements():
    from policycheck.api import Collector
    from policycheck.collect import collect, plan_sources
    from policycheck.config import Config
    from policycheck.plugins import make_plugins

    def bad(settings, ctx):
        return {"entities": {"backup_server": [server()]},
                "incomplete": [{"kind": "bootstrap", "reason": "save set 1: unparseable saveTime"},
                               {"kind": "device", "reason": "device without a name"}]}

    plugins = make_plugins(load_entry_points=False)
    plugins.collectors["bad"] = Collector("bad", bad)
    plans = plan_sources(Config(path=None, base_dir=".", sources=[{"name": "b", "plugin": "bad"}]), plugins)
    doc = collect(plans)
    src = doc["sources"][0]
    assert src["malformed"] == 2 and "2 element(s) could not be read (bootstrap, device)" in src["warnings"][0]
    assert [x["source"] for x in doc["incomplete"]] == ["b", "b"]


def test_two_vms_answering_to_one_host_leave_its_vm_unknown():
    facts = Facts(facts_doc({"host": [{"id": "nsr01.corp.example", "platform": "virtual"}],
                             "vm": [{"id": "vm-1@vc", "name": "nsr01"}, {"id": "vm-9@vc", "name": "nsr01"}]}))
    derive(facts)
    h = facts.get("host", "nsr01.corp.example")
    assert "vm" not in h and "vm-1@vc" in h["_unknown"]["vm"] and "vm-9@vc" in h["_unknown"]["vm"]


def test_a_waiver_file_of_the_wrong_shape_says_what_it_should_be(tmp_path, write_facts):
    (tmp_path / "w.yaml").write_text("- {policy: BSRV-001, target: h1}\n")
    code, out, err = run_cli("check", "--facts", write_facts({}), "--waivers", tmp_path / "w.yaml")
    assert code == 2 and out == "" and "w.yaml:1:1: a waiver file is a mapping with one key, waivers:" in err
