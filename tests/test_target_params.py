"""Parameters per class of target (issue 18, item 3): selectors by tag, role, id glob or any fact, first
match wins, the default last; the evidence and `policies show` say which value applied; a selector that
cannot be judged before the one that would match is an error, never a guess. Also the evidence of the new
catalog policies (RPO-001's last failed run, COV-001's sources and servers)."""
import json

import pytest
from pchelpers import facts_doc, run_cli

HOSTS = [{"id": "db01.corp.example", "aliases": ["db01"], "roles": ["database"], "tags": ["tier1"]},
         {"id": "web01.corp.example", "roles": ["web_server"], "tags": []},
         {"id": "app01.corp.example", "roles": ["application"], "tags": []},
         {"id": "mail01.corp.example", "roles": ["mail_server"]}]  # tags unknown


def _client(host, last, failed=None):
    return {"id": f"bk/{host.split('.')[0]}", "hostname": host, "backup_server": "bk",
            "last_successful_backup": last, "last_failed_backup": failed}


CLIENTS = [_client("db01.corp.example", "2026-11-25T00:00:00Z"),       # 6h old
           _client("web01.corp.example", "2026-11-24T00:00:00Z"),      # 30h old
           _client("app01.corp.example", "2026-11-24T00:00:00Z"),
           _client("mail01.corp.example", "2026-11-25T05:00:00Z")]


def _write(tmp_path, rules, entities=None):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(facts_doc(entities or {"host": HOSTS, "backup_server": [{"id": "bk", "host":
                                                                                         "web01.corp.example"}],
                                                       "client": CLIENTS})))
    cfg = tmp_path / "policycheck.yaml"
    cfg.write_text("version: 1\nparameters:\n  RPO-001:\n    max_age:\n" + rules)
    return cfg, facts


def _run(cfg, facts):
    code, out, err = run_cli("check", "-c", cfg, "--facts", facts, "--select", "RPO-001", "--format", "json")
    assert code in (1, 3, 0), err
    return {r["target_id"]: r for r in json.loads(out)["results"]}


RULES = """      by_target:
        - {tag: tier1, value: 4h}
        - {id: "bk/web*", value: 2d}
        - {role: application, value: 3d}
        - {when: {fact: host->host.roles, contains: mail_server}, value: 1h}
      default: 26h
"""


def test_first_matching_selector_wins_and_the_evidence_says_which(tmp_path):
    cfg, facts = _write(tmp_path, RULES)
    res = _run(cfg, facts)
    assert res["bk/db01"]["status"] == "fail"  # tier1: 4h, and 6h old
    assert res["bk/web01"]["status"] == "pass"  # id glob: 2d
    assert res["bk/app01"]["status"] == "pass"  # role: 3d
    param = lambda r: next(e for e in r["evidence"] if e["fact"] == "parameter max_age")  # noqa: E731
    assert param(res["bk/db01"])["observed"] == "4h"
    assert "by_target[0] (tag 'tier1')" in param(res["bk/db01"])["expected"]
    assert "policycheck.yaml:4:5" in param(res["bk/db01"])["expected"]
    assert param(res["bk/web01"])["observed"] == "2d" and "by_target[1]" in param(res["bk/web01"])["expected"]
    assert "within 4h" in res["bk/db01"]["message"]


def test_a_selector_that_cannot_be_judged_first_is_an_error_not_a_guess(tmp_path):
    cfg, facts = _write(tmp_path, RULES)
    mail = _run(cfg, facts)["bk/mail01"]  # its host has no tags: tier1 or not is unknown
    assert mail["status"] == "error"
    assert "missing fact 'tags' on mail01.corp.example" in mail["message"]
    e = next(e for e in mail["evidence"] if e["fact"] == "parameter max_age")
    assert "which max_age applies is unknown" in e["missing"]


def test_no_selector_matches_the_default_applies(tmp_path):
    cfg, facts = _write(tmp_path, "      by_target:\n        - {role: nothing_has_it, value: 1h}\n")
    res = _run(cfg, facts)
    assert res["bk/web01"]["status"] == "fail"  # 30h old, the policy's 26h
    e = next(e for e in res["bk/web01"]["evidence"] if e["fact"] == "parameter max_age")
    assert e["observed"] == "26h" and "no selector matched" in e["expected"]


@pytest.mark.parametrize("rules,needle", [
    ("      by_target:\n        - {tga: tier1, value: 4h}\n", "unknown 'tga' (did you mean 'tag'?)"),
    ("      by_target:\n        - {tag: tier1, value: 4 hours}\n", "RPO-001.max_age.by_target[0].value"),
    ("      by_target:\n        - {tag: tier1}\n", "write {SELECTOR: ..., value: VALUE}"),
    ("      by_target:\n        - {when: {fact: os, equal: linux}, value: 4h}\n", "unknown operator"),
    ("      by_target: []\n", "must be a non-empty list"),
    ("      by_target:\n        - {tag: tier1, value: 4h}\n      defualt: 1h\n", "unknown key 'defualt'"),
])
def test_bad_selectors_are_exit_2_located(tmp_path, rules, needle):
    cfg, facts = _write(tmp_path, rules)
    code, out, err = run_cli("check", "-c", cfg, "--facts", facts)
    assert code == 2 and out == ""
    assert needle in err and "policycheck.yaml:4:5" in err


def test_policies_show_lists_the_selectors(tmp_path):
    cfg, _ = _write(tmp_path, RULES)
    code, out, err = run_cli("policies", "show", "RPO-001", "-c", cfg)
    assert code == 0, err
    assert "1. tag 'tier1' (" in out and "-> '4h'" in out
    assert "3. role 'application'" in out and "otherwise -> '26h'" in out
    code, out, _ = run_cli("policies", "list", "-c", cfg, "--format", "json")
    rpo = next(p for p in json.loads(out) if p["id"] == "RPO-001")
    assert rpo["parameters"][0]["by_target"][-1] == {"selector": "otherwise", "value": "26h"}


def test_rpo_001_fails_a_client_that_only_failed_with_the_failed_run_as_evidence(write_facts):
    p = write_facts({"client": [_client("x", None, "2026-11-24T22:00:00Z"), _client("y", None, None)]})
    code, out, _ = run_cli("check", "--facts", p, "--select", "RPO-001", "--format", "json")
    res = {r["target_id"]: r for r in json.loads(out)["results"]}
    assert code == 1 and res["bk/x"]["status"] == res["bk/y"]["status"] == "fail"
    assert "never ran, or every run failed" in res["bk/x"]["message"]
    failed = next(e for e in res["bk/x"]["evidence"] if e["fact"] == "last_failed_backup")
    assert failed["observed"] == "2026-11-24T22:00:00Z" and failed["ok"] is None


def test_cov_001_evidence_names_the_sources_and_the_servers(write_facts):
    p = write_facts({"host": [{"id": "db01", "platform": "physical", "_sources": ["ansible", "netbox"]},
                              {"id": "bk", "platform": "physical"}],
                     "backup_server": [{"id": "bk", "host": "bk"}, {"id": "nsr", "host": "bk"}],
                     "client": [{"id": "bk/bk", "hostname": "bk", "backup_server": "bk"}]})
    code, out, _ = run_cli("check", "--facts", p, "--select", "COV-001", "--format", "json")
    res = {r["target_id"]: r for r in json.loads(out)["results"]}
    assert res["db01"]["status"] == "fail" and res["bk"]["status"] == "pass"
    ev = res["db01"]["evidence"][-1]
    assert ev["fact"] == "protected_by" and ev["observed"] == []
    assert ev["source"] == ("derived: no client record of bk, nsr names this host; the host is known to "
                            "ansible, netbox")
