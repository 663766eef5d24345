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
