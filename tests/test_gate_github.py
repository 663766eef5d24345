"""The GitHub integration files: the composite action's check step run for real with bash, the
workflow's plugin discovery, and the pre-commit hook's file patterns and command."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_gate_helpers import EXAMPLE, GATE_POLICIES, ROOT, host, snapshot

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _action():
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def _step(action, step_id):
    return next(s for s in action["runs"]["steps"] if s.get("id") == step_id)


@pytest.fixture
def runner(tmp_path):
    """A fake runner: $RUNNER_TEMP/policycheck-venv/bin/policycheck runs this checkout's CLI."""
    bindir = tmp_path / "runner" / "policycheck-venv" / "bin"
    bindir.mkdir(parents=True)
    exe = bindir / "policycheck"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} -m policycheck \"$@\"\n", encoding="utf-8")
    exe.chmod(0o755)
    (bindir / "python").symlink_to(sys.executable)
    return tmp_path


def parse_github_output(text: str) -> dict:
    """$GITHUB_OUTPUT's two forms: ``name=value`` and ``name<<DELIM`` ... ``DELIM``."""
    out, lines = {}, iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            value = []
            for more in lines:
                if more == delim:
                    break
                value.append(more)
            out[name] = "\n".join(value)
        else:
            name, value = line.split("=", 1)
            out[name] = value
    return out


def _run_check_step(runner: Path, inputs: dict):
    action = _action()
    step = _step(action, "check")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    defaults = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    values = dict(defaults, **inputs)
    for var, expr in step["env"].items():
        m = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", expr)
        assert m, expr
        env[var] = str(values[m.group(1)])
    out = runner / "github_output"
    summary = runner / "step_summary.md"
    env.update(RUNNER_TEMP=str(runner / "runner"), GITHUB_OUTPUT=str(out), GITHUB_ACTIONS="true",
               GITHUB_STEP_SUMMARY=str(summary), POLICYCHECK_NO_ENTRY_POINTS="1")
    p = subprocess.run(["bash", "-c", step["run"]], cwd=runner, env=env, capture_output=True, text=True,
                       timeout=300)
    outputs = parse_github_output(out.read_text()) if out.exists() else {}
    return p, outputs, summary


def test_action_inputs_are_all_used_and_passed_through_env():
    action = _action()
    step = _step(action, "check")
    used = set(re.findall(r"inputs\.([\w-]+)", json.dumps(action["runs"])))
    assert used == set(action["inputs"]), "every input is used, and only inputs that exist"
    assert "${{" not in step["run"], "inputs reach the script through env only (no script injection)"
    assert action["runs"]["using"] == "composite"


def test_action_check_step_fails_the_gate_and_writes_reports(runner):
    p, outputs, summary = _run_check_step(runner, {"config": str(EXAMPLE), "junit": "out/junit.xml",
                                                   "json": "out/report.json"})
    assert p.returncode == 1, p.stderr
    assert outputs["exit-code"] == "1" and outputs["fail"] == "15"
    assert outputs["reports"].splitlines() == ["out/junit.xml", "out/report.json"]
    assert (runner / "out" / "junit.xml").read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert json.loads((runner / "out" / "report.json").read_text())["summary"]["fail"] == 15
    assert "::error title=BSRV-001 nsr-dir.corp.example::" in p.stdout
    assert summary.read_text().startswith("## policycheck: ❌")


def test_action_check_step_options(runner):
    facts = snapshot(runner / "facts.json", [host("h1.example.org", fail=["medium"]),
                                             host("h2.example.org", missing=["critical"])])
    base = {"facts": str(facts), "config": "absent.yaml", "junit": "",
            "args": f"--no-builtin --policies {GATE_POLICIES}"}
    p, outputs, summary = _run_check_step(runner, base)
    assert (p.returncode, outputs["exit-code"]) == (1, "1"), p.stderr
    assert not (runner / "policycheck-junit.xml").exists()
    p, outputs, _ = _run_check_step(runner, dict(base, **{"fail-on": "high"}))
    assert p.returncode == 3, p.stderr
    p, outputs, _ = _run_check_step(runner, dict(base, **{"fail-on": "high", "fail-on-error": "false"}))
    assert p.returncode == 0, p.stderr
    p, outputs, _ = _run_check_step(runner, dict(base, **{"soft-fail": "true"}))
    assert p.returncode == 0 and outputs["exit-code"] == "0"
    summary.unlink()
    p, outputs, summary = _run_check_step(runner, dict(base, **{"step-summary": "false"}))
    assert p.returncode == 1 and not summary.exists()
    p, outputs, _ = _run_check_step(runner, dict(base, **{"fail-on": "severe"}))
    assert p.returncode == 2 and outputs["exit-code"] == "2"


def test_workflow_has_lint_all_pythons_and_a_job_per_plugin(tmp_path):
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    jobs = wf["jobs"]
    lint = json.dumps(jobs["lint"])
    assert "ruff check" in lint and '"mypy' in lint
    assert jobs["tests"]["strategy"]["matrix"]["python"] == ["3.10", "3.11", "3.12", "3.13"]
    listing = next(s for s in jobs["plugin-list"]["steps"] if s.get("id") == "list")["run"]
    plugin_steps = json.dumps(jobs["plugin"]["steps"])
    assert "bash plugins/${{ matrix.plugin }}/ci/setup.sh" in plugin_steps
    assert "pytest -q plugins/${{ matrix.plugin }}/tests" in plugin_steps
    assert jobs["gate-action"]["steps"][1]["uses"] == "./"
    # the discovery script, run on this checkout, lists every plugin with a ci/setup.sh
    out = tmp_path / "github_output"
    subprocess.run(["bash", "-c", listing], cwd=ROOT, env=dict(os.environ, GITHUB_OUTPUT=str(out)),
                   check=True, capture_output=True, timeout=60)
    found = json.loads(out.read_text().split("=", 1)[1])
    expected = sorted(p.parent.parent.name for p in ROOT.glob("plugins/policycheck-*/ci/setup.sh"))
    assert found == expected


def test_pre_commit_hook_matches_policies_not_their_tests_and_validates(tmp_path):
    hook = next(h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
                if h["id"] == "policycheck-validate")
    files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])

    def selected(path):
        return bool(files.search(path)) and not exclude.search(path)

    assert selected("policies/bsrv-001-dedicated.yaml") and selected("site/policies/x.yml")
    assert selected("policycheck.yaml")  # the config's policies and parameters are validated too
    assert not selected("policies/tests/bmr.yaml") and not selected("examples/datazone/policycheck.yaml")
    assert hook["pass_filenames"] is False  # the whole set each time, not only the changed files
    cmd = hook["entry"].split()
    env = dict(os.environ, POLICYCHECK_NO_ENTRY_POINTS="1")
    exe = [sys.executable, "-m", "policycheck"] + cmd[1:]
    p = subprocess.run(exe, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "15 policies valid" in p.stdout, p.stderr
    bad = tmp_path / "policies" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text("id: BAD-001\ntitle: no severity\n", encoding="utf-8")
    p = subprocess.run(exe, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "bad.yaml" in p.stderr


def test_docs_ci_snippets_parse():
    """Every policycheck command in docs/ci.md is accepted by the real parser, and the YAML snippets load."""
    from policycheck.cli import build_parser

    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
    commands = [m for _, b in blocks for m in re.findall(r"policycheck (?:check|audit) [^'\"\n]*", b)]
    assert len(commands) >= 6
    parser = build_parser()
    for cmd in commands:
        args = parser.parse_args(cmd.split()[1:])
        assert args.command in ("check", "audit")
    yamls = [b for lang, b in blocks if lang == "yaml"]
    assert len(yamls) >= 5
    for b in yamls:
        yaml.safe_load(b.replace("<owner>/policycheck@<tag>", "o/p@v1"))
    gitlab = next(yaml.safe_load(b) for lang, b in blocks if lang == "yaml" and "artifacts:" in b)
    assert gitlab["policycheck"]["artifacts"]["reports"]["junit"] == "policycheck.xml"
    assert "--junit policycheck.xml" in gitlab["policycheck"]["script"][1]
