"""The kit's documentation must not drift: every public name of policycheck.kit and of the kit half of
policycheck.testing is documented in docs/plugins.md, with an example."""
from __future__ import annotations

import importlib

import pytest
from pchelpers import ROOT

DOC = (ROOT / "docs" / "plugins.md").read_text()
KIT = DOC.split("## Collector kit", 1)[1].split("\n## ", 1)[0]
TESTING = DOC.split("## Testing a collector", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("module", ["http", "proc", "names"])
def test_every_public_name_of_the_kit_is_documented_with_an_example(module):
    mod = importlib.import_module(f"policycheck.kit.{module}")
    assert (mod.__doc__ or "").strip(), f"policycheck.kit.{module} has no docstring"
    section = KIT.split(f"### `policycheck.kit.{module}`", 1)[1].split("\n### ", 1)[0]
    for name in mod.__all__:
        assert f"`{name}" in section, f"policycheck.kit.{module}.{name} is not documented"
        assert (getattr(mod, name).__doc__ or "").strip() or name.isupper(), f"{name} has no docstring"
    assert "```python" in section and f"policycheck.kit.{module} import" in section


def test_every_testing_helper_of_the_kit_is_documented():
    for name in ("collect_context", "run_cli", "CliResult", "FakeHTTPServer", "Answer", "Request", "json_answer",
                 "make_cert", "Certs", "need", "free_port"):
        assert f"`{name}" in TESTING, f"policycheck.testing.{name} is not documented"
    assert "```python" in TESTING
