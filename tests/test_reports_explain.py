"""`policycheck explain POLICY TARGET`: the whole evaluation of one result as a tree."""
from __future__ import annotations

import json

import pytest
from reports_common import AS_OF, EXAMPLE_CONFIG, run

from policycheck import explain
from policycheck.engine import evaluate
from policycheck.pipeline import build_facts, load_all_policies


def _explain_json(capsys, *args):
    rc, out, err = run(capsys, ["explain", *args, "-c", EXAMPLE_CONFIG, "--format", "json"])
    assert rc == 0, err
    return json.loads(out)


def _walk(node):
    yield node
    for c in node.get("children") or ():
        yield from _walk(c)
    for it in node.get("items") or ():
        yield from _walk(it["condition"])


def test_every_branch_of_an_any_with_its_value_source_and_time(capsys):
    t = _explain_json(capsys, "BMR-001", "db01.corp.example")
    assert t["policy"]["id"] == "BMR-001" and t["target"]["id"] == "db01.corp.example"
    assert t["tree_status"] == "fail" and t["status"] == "waived"  # the example waives it
    root = t["require"]
    assert root["node"] == "any" and root["value"] == "false" and root["why"] == "no branch holds"
    # every branch is there (not only the first), each false, each fact with source and time
    assert len(root["children"]) == 5
    assert [c["value"] for c in root["children"]] == ["false"] * 5
    leaves = [n for n in _walk(root) if n["node"] == "fact"]
    facts = {n["fact"] for n in leaves}
    assert {"last_image_backup", "last_bmr_backup", "host->host.bmr_methods"} <= facts
    for n in leaves:
        assert n["source"] in ("networker", "inventory", "derived", "vsphere")
        assert n["observed_at"] and n["entity"]
        assert n["expected"]
    assert [p["name"] for p in t["parameters"]] == ["image_max_age", "bmr_max_age", "snapshot_max_age"]
    assert all(p["from"] == "default" for p in t["parameters"])
    assert t["evaluated_at"]["time"] == AS_OF and t["evaluated_at"]["source"] == "config as_of"


def test_unknown_is_shown_with_its_reason(tmp_path, capsys):
    snap = tmp_path / "f.json"
    run(capsys, ["collect", "-c", EXAMPLE_CONFIG, "-o", snap])
    doc = json.loads(snap.read_text())
    for c in doc["entities"]["client"]:
        if c["id"] == "db01.corp.example":
            del c["last_image_backup"]
            c["last_bmr_backup"] = None
    evil = "nw\x1b[2J\x9b\u202e"  # a source name with controls: shown, never executed
    doc["sources"][1]["name"] = evil
    for kind in ("backup_server", "bootstrap", "client", "device", "storage_node"):
        for e in doc["entities"][kind]:
            e["_sources"] = [evil]
    snap.write_text(json.dumps(doc))
    rc, out, err = run(capsys, ["explain", "BMR-001", "db01.corp.example", "--facts", snap, "--as-of", AS_OF,
                                "--format", "json"])
    assert rc == 0, err
    assert not any(c in out for c in "\x1b\x9b\u202e")
    t = json.loads(out)
    assert t["require"]["children"][1]["source"] == evil
    rc, text, _ = run(capsys, ["explain", "BMR-001", "db01.corp.example", "--facts", snap, "--as-of", AS_OF])
    assert rc == 0 and not any(c in text for c in "\x1b\x9b\u202e") and "\\x1b[2J" in text
    first = t["require"]["children"][0]
    assert first["value"] == "unknown" and "missing fact 'last_image_backup'" in first["why"]
    assert t["require"]["value"] == "unknown" and t["status"] == t["tree_status"] == "error"


def test_parameters_say_where_they_came_from_and_waivers_considered(capsys):
    t = _explain_json(capsys, "BMR-001", "db01.corp.example", "--param", "BMR-001.image_max_age=40d")
    prm = {p["name"]: p for p in t["parameters"]}
    assert prm["image_max_age"]["value"] == "40d" and prm["image_max_age"]["from"] == "--param BMR-001.image_max_age=40d"
    assert prm["image_max_age"]["default"] == "31d"
    assert t["status"] == "waived" and t["tree_status"] == "fail"
    assert t["waiver"]["state"] == "active" and t["waiver"]["was"] == "fail"
    assert [w["target"] for w in t["waivers_considered"]] == ["db01.corp.example"]
    assert t["waivers_considered"][0]["where"].endswith("waivers.yaml:4")
    t = _explain_json(capsys, "BSRV-002", "nsr01.corp.example")
    assert t["parameters"][0]["name"] == "max_dependencies"
    assert "policycheck.yaml" in t["parameters"][0]["from"]  # the config's line


def test_quantifier_items_and_when(capsys):
    t = _explain_json(capsys, "VIRT-002", "nsr-dir")  # an alias finds the target
    assert t["target"]["id"] == "nsr-dir.corp.example"
    assert t["when"]["value"] == "true"
    disks = next(n for n in _walk(t["require"]) if n["node"] == "for_all")
    assert disks["observed"] == 2 and [i["value"] for i in disks["items"]] == ["true", "false"]
    assert t["require"]["why"].startswith("fails at require.all[0], require.all[1]")


def test_text_tree(capsys):
    rc, out, err = run(capsys, ["explain", "BMR-001", "db01.corp.example", "-c", EXAMPLE_CONFIG])
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("BMR-001 on client db01.corp.example: WAIVED")
    assert "requires: false" in lines
    assert "  ✗ any: false — no branch holds" in lines
    assert sum(1 for x in lines if x.startswith("    ✗ ")) == 5
    assert any("source networker, observed" in x for x in lines)
    assert "waivers considered:" in lines and lines[-1].startswith("  BMR-001 db01.corp.example: active")


def test_unknown_target_or_policy_is_exit_2_with_a_suggestion(capsys):
    rc, _, err = run(capsys, ["explain", "BMR-001", "db0.corp.example", "-c", EXAMPLE_CONFIG])
    assert rc == 2 and "no client 'db0.corp.example'" in err and "did you mean" in err
    rc, _, err = run(capsys, ["explain", "BMR-01", "db01.corp.example", "-c", EXAMPLE_CONFIG])
    assert rc == 2 and "no policy 'BMR-01'" in err and "BMR-001" in err


@pytest.fixture(scope="module")
def example_facts():
    import json as _j

    from policycheck.collect import collect, plan_sources
    from policycheck.config import load_config
    from policycheck.plugins import make_plugins

    cfg = load_config(EXAMPLE_CONFIG)
    plugins = make_plugins(load_entry_points=False)
    doc = collect(plan_sources(cfg, plugins), base_dir=cfg.base_dir)
    return _j.loads(_j.dumps(doc)), cfg


def test_the_tree_agrees_with_the_engine_on_every_example_result(example_facts):
    doc, cfg = example_facts
    facts = build_facts(json.loads(json.dumps(doc)))
    facts.as_of = AS_OF
    policies = load_all_policies(parameters=cfg.parameters)
    n = 0
    results = [r for r in evaluate(policies, facts) if r.target_kind != "source"]
    for r in results:
        t = explain.explain(r.policy, facts, r.target_id, result=r)
        assert t["tree_status"] == r.status, (r.policy.id, r.target_id)
        n += 1
    assert n == len(results) >= 70  # every result of the example datazone (77 with the 15 policies)
