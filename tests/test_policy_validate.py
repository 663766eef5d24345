"""`policies validate` and the pre-commit hook catch what `check` would refuse or misjudge (issue 14,
item 11): fact paths against the facts model, ids against the catalog and every policy file, the whole
set on every run. Also: the model registry equals docs/facts.md's tables."""
from __future__ import annotations

import re

import pytest
import yaml
from test_gate_helpers import ROOT, gate_env, run  # noqa: F401

from policycheck import model
from policycheck.policy import builtin_dir, load_policies

POLICY = """\
id: {pid}
title: The backup server runs a known product
severity: high
target: backup_server
rationale: A gate needs each backup server's product to pick the right DR procedure; this one is a test.
remediation: Record the product of each backup server in the inventory, or fix the collector.
require:
  all:
    - {{fact: {fact}, in: [networker, bacula]}}
    - {{fact: networker_resource_id, exists: true}}
    - for_all: latest_bootstrap->bootstrap.copies
      require: {{fact: offsite, equals: true}}
"""


def _write(path, pid="MY-001", fact="product"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(POLICY.format(pid=pid, fact=fact), encoding="utf-8")
    return path


def test_a_fact_path_naming_no_attribute_is_refused_with_did_you_mean(tmp_path, capsys):
    good = _write(tmp_path / "policies" / "good.yaml")
    rc, out, err = run(capsys, ["policies", "validate", good])
    assert rc == 0 and "1 policies valid: MY-001" in out, err  # a plugin's networker_ attribute is accepted
    bad = _write(tmp_path / "policies" / "bad.yaml", pid="MY-002", fact="prodcut")
    rc, out, err = run(capsys, ["policies", "validate", bad])
    assert rc == 2 and not out
    assert "bad.yaml:9:14 MY-002 require.all[0].fact: fact path 'prodcut': a backup_server has no attribute " \
        "'prodcut' (did you mean 'product'?)" in err, err
    # the same policy under check: the typo would only show as an error on every target, at run time
    rc, out, err = run(capsys, ["policies", "validate", _write(tmp_path / "p3" / "x.yaml", "MY-003",
                                                                "host->vm.name")])
    assert rc == 2 and "'host' of a backup_server refers to a host, not a vm (write 'host->host')" in err


def test_an_id_colliding_with_the_catalog_or_another_file_is_refused(tmp_path, capsys):
    mine = _write(tmp_path / "policies" / "boot.yaml", pid="BOOT-001")
    rc, _, err = run(capsys, ["policies", "validate", mine])
    assert rc == 2 and "boot.yaml:1:5 BOOT-001 id: duplicate policy id (also defined at " in err
    assert "boot-001-recent.yaml" in err
    # what `check` says about the same file: exit 2 too, so validate now agrees with it
    rc, _, err_check = run(capsys, ["check", "--facts", tmp_path / "none.json", "--policies", mine])
    assert rc == 2 and "duplicate policy id" in err_check


def test_the_hook_validates_the_whole_set_on_each_run(tmp_path, capsys, monkeypatch):
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "policycheck-validate")
    assert hook["pass_filenames"] is False and hook["entry"] == "policycheck policies validate"
    assert re.search(hook["files"], "team-a/policies/x.yaml") and re.search(hook["files"], "policycheck.yaml")
    # two files with the same id; the commit changes only b.yaml: the hook still sees a.yaml
    _write(tmp_path / "team-a" / "policies" / "a.yaml", pid="MY-001")
    _write(tmp_path / "team-b" / "policies" / "b.yaml", pid="MY-001")
    _write(tmp_path / "team-b" / "policies" / "tests" / "not-a-policy.yaml", pid="MY-009", fact="nonsense")
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(capsys, hook["entry"].split()[1:])
    assert rc == 2 and not out
    assert "team-b/policies/b.yaml:1:5 MY-001 id: duplicate policy id (also defined at team-a/policies/a.yaml:1)" \
        in err, err
    (tmp_path / "team-b" / "policies" / "b.yaml").unlink()
    rc, out, err = run(capsys, hook["entry"].split()[1:])
    assert rc == 0 and "1 policies valid: MY-001" in out, err


def test_the_catalog_and_the_repository_policies_pass_the_model_check(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    rc, out, err = run(capsys, ["policies", "validate"])
    assert rc == 0, err
    checker = model.ModelChecker()
    for p in load_policies([builtin_dir()]):
        assert checker.check(p) == [], p.id


@pytest.mark.parametrize("path,problem", [
    ("latest_bootstrap.time", "is a reference to a bootstrap: write 'latest_bootstrap->bootstrap.time'"),
    ("product.name", "'product' of a backup_server is a plain value; it has no attribute 'name'"),
    ("product->host", "'product' of a backup_server is not a reference"),
    ("vm->vm.disks", None),
    ("bacula_jobdefs", None),   # a plugin's own attribute
    ("@target.host->host.depends_on->host.roles", None),
    ("latest_bootstrap->bootstrap.copies", None),
])
def test_model_paths(path, problem):
    class P:
        target = "backup_server"
        when = None
        require = {"fact": path, "exists": True}
    found = model.ModelChecker().check(P())
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0][1], found


def test_plugin_declared_attributes_are_accepted():
    class P:
        target = "client"
        when = None
        require = {"fact": "retention_days", "exists": True}
    assert model.ModelChecker().check(P())
    assert model.ModelChecker(extra={"client": {"retention_days"}}).check(P()) == []


def test_the_registry_equals_docs_facts_md():
    doc = (ROOT / "docs" / "facts.md").read_text(encoding="utf-8")
    sections = re.split(r"^### ", doc.split("## Kinds and their attributes", 1)[1].split("## Derived facts")[0],
                        flags=re.M)[1:]
    seen = set()
    for sec in sections:
        kind = sec.split()[0]
        seen.add(kind)
        rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]*)\|", sec, re.M)
        documented = {name: typ.strip() for name, typ in rows}
        registry = {n: a for n, a in model.MODEL[kind].items()}
        derived_only = {n for n, a in registry.items() if a.derived and n not in documented}
        assert set(documented) == set(registry) - derived_only, kind
        for name, typ in documented.items():
            m = re.search(r"ref → ([a-z_]+)", typ)
            assert (m.group(1) if m else None) == registry[name].ref, (kind, name, typ)
    assert seen == {k for k in model.MODEL if k not in model.ITEM_SCOPES}
    derived = set(re.findall(r"`([a-z_]+)\.([a-z_]+)`", doc.split("## Derived facts", 1)[1].split("## Joining")[0]))
    for kind, name in derived:
        if kind in model.MODEL:
            assert name in model.MODEL[kind] and model.MODEL[kind][name].derived, (kind, name)
    # the item scopes: each documented key of a structured item is in the registry
    for scope, where in model.ITEM_SCOPES.items():
        kind, attr = where.split(".")
        row = re.search(rf"^\| `{attr}` \|([^\n]*)$", doc, re.M).group(1)
        keys = set(re.findall(r'"([a-z_]+)":', row))
        assert keys and keys <= set(model.MODEL[scope]), (scope, keys)
