"""Documentation that must not drift: every hook documented, every operator and kind documented."""
import inspect
import re

from pchelpers import ROOT

from policycheck import hookspecs
from policycheck.conditions import KINDS, OPERATORS


def test_every_hook_is_documented_with_an_example():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("policycheck_")]
    assert len(hooks) >= 4
    for name in hooks:
        # the annotations are strings (from __future__ import annotations): show them unquoted, as the doc does
        sig = f"{name}{inspect.signature(getattr(hookspecs, name))}".replace("'", "")
        assert f"### `{sig}`" in doc, f"hook {sig} has no section in docs/plugins.md"
        section = doc.split(f"### `{sig}`", 1)[1].split("\n### ", 1)[0]
        assert "@hookimpl" in section, f"hook {name}'s section has no example"
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"hook {name} has no docstring"


def test_every_kind_is_documented_in_facts_md():
    doc = (ROOT / "docs" / "facts.md").read_text()
    for kind in KINDS:
        assert re.search(rf"^### {kind}\b", doc, re.M), f"kind {kind} missing from docs/facts.md"


def test_every_operator_is_documented_in_policies_md():
    doc = (ROOT / "docs" / "policies.md").read_text()
    for op in OPERATORS:
        assert f"`{op}`" in doc, f"operator {op} missing from docs/policies.md"


def test_readme_layout_names_every_module_and_each_has_its_docstring():
    """README's layout table names every module of the core (a new module gets its place in the flow), and
    every module opens with the one-line docstring that says what it owns."""
    import ast

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout"):readme.index("## Reliability")]
    pkg = ROOT / "policycheck"
    missing, undocumented = [], []
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(pkg)
        if path.name in ("__init__.py", "__main__.py"):
            if len(rel.parts) == 1:
                continue
            rel = rel.parent  # a package is placed by its folder
        nested = len(rel.parts) > 1 or path.name in ("__init__.py", "__main__.py")
        top = rel.parts[0]
        placed = f"`{top}/" in layout if nested else f"`{top}`" in layout  # `kit/` or `collectors/file.py`
        if not placed:
            missing.append(str(rel))
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if not doc or not doc.strip():
            undocumented.append(str(rel))
    assert not missing, f"modules README's layout does not place: {missing}"
    assert not undocumented, f"modules without a docstring saying what they own: {undocumented}"
