"""The error model and the one pipeline (issue 17, items 3 and 4): one root exception, ExitCode against
docs/exit-codes.md, a crash is INTERNAL_ERROR (not 2), no exit outside cli.py's entry, the gate computed
once, each policy compiled once, nothing the caller passed to pipeline.run changed."""
from __future__ import annotations

import ast
import copy
import importlib
import json
import re

import pytest
from test_gate_helpers import ROOT, gate_args, gate_env, host, run, snapshot  # noqa: F401

from policycheck import errors, pipeline
from policycheck.errors import ExitCode, PolicycheckError

PKG = ROOT / "policycheck"

#: every exception class a user can cause, where plugins and tests import it from, and its category
USER_ERRORS = {
    ("policycheck.config", "ConfigError"): errors.ConfigError,
    ("policycheck.policy", "PolicyError"): errors.PolicyError,
    ("policycheck.policy", "PolicyLoadError"): errors.PolicyError,
    ("policycheck.conditions", "CompileError"): errors.PolicyError,
    ("policycheck.policytest", "TestFileError"): errors.PolicyError,
    ("policycheck.waivers", "WaiverError"): errors.WaiverError,
    ("policycheck.facts", "FactsError"): errors.FactsInputError,
    ("policycheck.baseline", "BaselineError"): errors.FactsInputError,
    ("policycheck.merge", "MergeError"): errors.FactsInputError,
    ("policycheck.yamlsafe", "YamlError"): PolicycheckError,
    ("policycheck.secrets", "SecretError"): errors.ConfigError,
    ("policycheck.plugins", "PluginConfigError"): errors.ConfigError,
    ("policycheck.collect", "SourceConfigError"): errors.ConfigError,
    ("policycheck.pipeline", "UsageError"): errors.UsageError,
    ("policycheck.explain", "ExplainError"): errors.UsageError,
    ("policycheck.recovery.whatif", "LoseError"): errors.UsageError,
    ("policycheck.api", "CollectorError"): errors.SourceError,
}


@pytest.mark.parametrize("where,category", USER_ERRORS.items(), ids=lambda v: v[1] if isinstance(v, tuple) else "")
def test_every_user_error_is_a_policycheck_error_and_importable_where_it_was(where, category):
    cls = getattr(importlib.import_module(where[0]), where[1])
    assert issubclass(cls, category) and issubclass(cls, PolicycheckError)


def test_no_error_class_outside_the_model():
    """Every exception class the core defines is below PolicycheckError (or private to its module)."""
    found = []
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and \
                    any(getattr(b, "id", getattr(b, "attr", "")).endswith(("Error", "Exception")) for b in node.bases):
                found.append((path.relative_to(ROOT).with_suffix("").as_posix().replace("/", "."), node.name))
    assert found
    found.remove(("policycheck.cliargs", "ParserExit"))  # not an error: argparse is done (--help, or a usage error)
    for mod, name in found:
        cls = getattr(importlib.import_module(mod), name)
        assert issubclass(cls, PolicycheckError), f"{mod}.{name} is not a PolicycheckError"


def test_exit_codes_doc_lists_every_exit_code_and_nothing_else():
    doc = (ROOT / "docs" / "exit-codes.md").read_text(encoding="utf-8")
    rows = {m.group(2): int(m.group(1)) for m in re.finditer(r"^\| (\d+) \| `([A-Z_]+)` \|", doc, re.M)}
    assert rows == {c.name: c.value for c in ExitCode}
    assert len(set(rows.values())) == len(rows)
    assert ExitCode.INTERNAL_ERROR not in (ExitCode.INVALID_INPUT, ExitCode.FINDINGS, ExitCode.SOURCE_ERROR, 0)


def test_no_exit_outside_the_cli_entry_and_no_literal_exit_code_in_the_cli():
    exits = []

    def visit(node, where):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else where
            if isinstance(child, ast.Call) and ast.unparse(child.func) in ("sys.exit", "os._exit", "exit", "quit"):
                exits.append((path.name, where))
            visit(child, inner)

    for path in PKG.rglob("*.py"):
        visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")
    assert set(exits) == {("cli.py", "entry")}, exits
    cli = ast.parse((PKG / "cli.py").read_text(encoding="utf-8"))
    literal = [ast.unparse(n) for n in ast.walk(cli) if isinstance(n, ast.Return)
               and isinstance(n.value, ast.Constant) and isinstance(n.value.value, int)]
    assert not literal, literal


def test_an_invalid_command_line_returns_2_without_exiting(capsys):
    from policycheck.cli import main

    assert main(["check", "--no-such-option"]) == ExitCode.INVALID_INPUT
    err = capsys.readouterr().err
    assert "usage: policycheck" in err and "unrecognized arguments: --no-such-option" in err
    assert main(["--version"]) == ExitCode.OK
    assert capsys.readouterr().out.startswith("policycheck ")


@pytest.fixture
def facts(tmp_path):
    return snapshot(tmp_path / "facts.json", [host("h1"), host("h2", fail=("high",)), host("h3", missing=("low",))])


def _crash(*args, **kwargs):
    raise RuntimeError("boom in the engine")


def test_a_crash_inside_policycheck_is_internal_error_not_invalid_input(capsys, monkeypatch, facts):
    monkeypatch.setattr("policycheck.engine.evaluate", _crash)
    rc, out, err = run(capsys, ["check", *gate_args(facts)])
    assert rc == ExitCode.INTERNAL_ERROR == 70
    assert "internal error: RuntimeError: boom in the engine" in err and "please report it" in err
    assert "Traceback" not in err
    rc, out, err = run(capsys, ["check", *gate_args(facts), "--debug"])
    assert rc == ExitCode.INTERNAL_ERROR
    assert "Traceback" in err and "boom in the engine" in err and "_crash" in err
    monkeypatch.setenv("POLICYCHECK_DEBUG", "1")
    rc, out, err = run(capsys, ["check", *gate_args(facts)])
    assert rc == ExitCode.INTERNAL_ERROR and "Traceback" in err


def test_an_input_error_is_still_2(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    rc, out, err = run(capsys, ["check", *gate_args(bad)])
    assert rc == ExitCode.INVALID_INPUT and "invalid JSON" in err and "internal error" not in err


def test_the_gate_is_computed_once_for_exit_code_markdown_and_annotations(capsys, monkeypatch, facts, tmp_path):
    import policycheck.gate as gate_mod

    calls = []
    real = gate_mod.compute_gate

    def counting(*a, **kw):
        calls.append(a)
        return real(*a, **kw)

    monkeypatch.setattr(gate_mod, "compute_gate", counting)
    monkeypatch.setattr(pipeline, "compute_gate", counting)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    md = tmp_path / "report.md"
    rc, out, err = run(capsys, ["check", *gate_args(facts), "--fail-on", "high", "--markdown", md])
    assert rc == ExitCode.FINDINGS
    assert len(calls) == 1
    assert "::error title=GATE-004 h2::" in out  # the one failure at or above high
    assert "1 failure(s) at or above high" in md.read_text() and "1 failure(s) at or above high" in summary.read_text()


def test_github_annotations_are_a_registered_reporter(capsys, facts):
    from policycheck.plugins import make_plugins

    assert "github" in make_plugins(load_entry_points=False).reporters
    rc, out, err = run(capsys, ["check", *gate_args(facts), "--format", "github"])
    assert rc == ExitCode.FINDINGS
    assert out.splitlines()[0].startswith("::error title=GATE-004 h2::")
    assert any(line.startswith("::warning title=") for line in out.splitlines())


def test_pipeline_run_changes_nothing_the_caller_passed(facts):
    doc = json.loads(facts.read_text())
    before = copy.deepcopy(doc)
    policies = pipeline.load_all_policies([ROOT / "tests" / "data" / "gate" / "policies"], builtin=False)
    compiled = [(p.when_fn, p.require_fn) for p in policies]
    out = pipeline.run(pipeline.RunInputs(policies=policies, document=doc, fail_on="high"))
    assert doc == before
    assert [(p.when_fn, p.require_fn) for p in policies] == compiled
    assert out.gate.exit_code == ExitCode.FINDINGS and out.report.gate is out.gate
    assert [r.target_id for r in out.gate.blocking] == ["h2"]
    assert out.report.summary["total"] == len(out.report.results) > 0


def test_a_policy_evaluated_before_compile_is_named_not_a_none_call(facts):
    """mypy --strict found it: Policy.require_fn is None until compile(), and the engine called it on each
    target ("'NoneType' object is not callable"); now the engine names the policy (an internal error)."""
    from policycheck.engine import evaluate
    from policycheck.facts import Facts
    from policycheck.policy import Policy

    pol = Policy(id="T-001", title="t", severity="low", target="host", rationale="r", remediation="m",
                 require={"fact": "gate_low", "equals": True})
    with pytest.raises(RuntimeError, match=r"policy T-001 is evaluated before compile\(\)"):
        evaluate([pol], Facts(json.loads(facts.read_text())))
    results = evaluate([pol.compile()], Facts(json.loads(facts.read_text())))
    assert [(r.target_id, r.status) for r in results] == [("h1", "pass"), ("h2", "pass"), ("h3", "error")]


def test_each_policy_is_compiled_once_per_run(monkeypatch, facts):
    from policycheck import conditions

    tops = []
    real = conditions.compile_condition

    def counting(node, jpath, *a, **kw):
        if tuple(jpath) in (("when",), ("require",)):
            tops.append(tuple(jpath))
        return real(node, jpath, *a, **kw)

    monkeypatch.setattr(conditions, "compile_condition", counting)
    policies = pipeline.load_all_policies()
    pipeline.run(pipeline.RunInputs(policies=policies, snapshot=str(facts)))
    assert len(tops) == sum(1 + bool(p.when) for p in policies)
