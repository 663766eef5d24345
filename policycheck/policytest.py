"""Policy test cases: facts in, expected status per target out (``policycheck policies test``)."""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policycheck.errors import PolicyError, UsageError
from policycheck.results import STATUSES
from policycheck.yamlsafe import Document, YamlError, load_documents

if TYPE_CHECKING:
    from policycheck.plugins import Plugins
    from policycheck.policy import Policy

#: (policy id, repr of the parameters) -> the policy compiled with them
Variants = dict[tuple[str, str], "Policy"]


class TestFileError(PolicyError):
    """A test file that cannot be used (located)."""


@dataclass
class Outcome:
    file: str
    policy: str
    name: str
    ok: bool
    problems: list[str] = field(default_factory=list)


def builtin_tests_dir() -> Path:
    from policycheck.policy import builtin_dir

    return builtin_dir() / "tests"


def _files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    out: list[Path] = []
    for arg in paths:
        p = Path(arg)
        out.extend(sorted(p.glob("*.y*ml")) if p.is_dir() else [p])
    return out


def run_tests(paths: Iterable[str | os.PathLike[str]], policies: Iterable[Policy],
              plugins: Plugins | None = None) -> list[Outcome]:
    """Each test file: ``policy: ID``, optional shared ``facts:``, and ``cases:`` with ``name``,
    optional ``facts``/``parameters``, and ``expect: {target_id: status}``. Each case goes through
    :func:`policycheck.pipeline.run`, as `check` does: the same derivations (``plugins``' included)."""
    by_id = {p.id: p for p in policies}
    variants: Variants = {}  # (policy id, parameters) -> the policy compiled with them, once per run
    outcomes: list[Outcome] = []
    for f in _files(paths):
        try:
            docs = load_documents(f)
        except (YamlError, OSError) as exc:
            raise TestFileError(str(exc)) from None
        for doc in docs:
            data = doc.data
            if not isinstance(data, dict) or "policy" not in data or not isinstance(data.get("cases"), list):
                line, col = doc.where(())
                raise TestFileError(f"{f}:{line}:{col}: a test file needs policy: ID and cases: [...]")
            pol = by_id.get(data["policy"])
            if pol is None:
                line, col = doc.where(("policy",))
                raise TestFileError(f"{f}:{line}:{col}: unknown policy {data['policy']!r}")
            for i, case in enumerate(data["cases"]):
                outcomes.append(_run_case(f, doc, pol, data, case, i, plugins, variants))
    return outcomes


def _run_case(f: Path, doc: Document, pol: Policy, data: dict[str, Any], case: Any, i: int,
              plugins: Plugins | None = None, variants: Variants | None = None) -> Outcome:
    from policycheck import pipeline

    line, col = doc.where(("cases", i))
    where = f"{f}:{line}:{col}"
    if not isinstance(case, dict):
        raise TestFileError(f"{where}: a case is a mapping with name, facts, parameters and expect")
    name = case.get("name", f"case {i + 1}")
    facts_doc = case.get("facts", data.get("facts"))
    expect = case.get("expect") or {}
    if not isinstance(expect, dict):
        raise TestFileError(f"{where}: expect: maps target ids to one of {', '.join(STATUSES)}")
    bad = [s for s in expect.values() if s not in STATUSES]
    if bad or not expect:
        raise TestFileError(f"{where}: expect: maps target ids to one of {', '.join(STATUSES)}")
    if isinstance(facts_doc, dict):
        facts_doc = dict(facts_doc)  # the run copies it whole; the defaults below are the case's own
        facts_doc.setdefault("schema_version", 1)
        facts_doc.setdefault("collected_at", data.get("collected_at", "2026-11-25T06:00:00+00:00"))
    compiled = _compiled(pol, case.get("parameters"), where, variants if variants is not None else {})
    try:
        outcome = pipeline.run(pipeline.RunInputs(policies=[compiled], document=facts_doc, plugins=plugins,
                                                  where=f"{where}: facts"))
    except UsageError as exc:
        raise TestFileError(str(exc)) from None
    results = {r.target_id: r for r in outcome.report.results}
    problems: list[str] = []
    for target, want in expect.items():
        r = results.get(target)
        if r is None:
            problems.append(f"{target}: expected {want}, but it is not a target ({pol.target}) in the facts")
        elif r.status != want:
            problems.append(f"{target}: expected {want}, got {r.status}" + (f" ({r.message})" if r.message else ""))
    return Outcome(str(f), pol.id, name, not problems, problems)


def _compiled(pol: Policy, parameters: Any, where: str, variants: Variants) -> Policy:
    """``pol`` compiled with a case's ``parameters`` (the loaded policy itself without them), once per run."""
    if not parameters:
        return pol
    import copy

    key = (pol.id, repr(sorted(parameters.items())) if isinstance(parameters, dict) else repr(parameters))
    if key not in variants:
        compiled = copy.copy(pol)
        try:
            compiled.compile(parameters)
        except ValueError as exc:
            raise TestFileError(f"{where}: {exc}") from None
        variants[key] = compiled
    return variants[key]
