"""Policy test cases: facts in, expected status per target out (``policycheck policies test``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from policycheck.derive import derive
from policycheck.engine import evaluate
from policycheck.facts import Facts, FactsError
from policycheck.results import STATUSES
from policycheck.yamlsafe import YamlError, load_documents


class TestFileError(ValueError):
    """A test file that cannot be used (located)."""


@dataclass
class Outcome:
    file: str
    policy: str
    name: str
    ok: bool
    problems: list = field(default_factory=list)


def builtin_tests_dir() -> Path:
    from policycheck.policy import builtin_dir

    return builtin_dir() / "tests"


def _files(paths):
    out = []
    for p in paths:
        p = Path(p)
        out.extend(sorted(p.glob("*.y*ml")) if p.is_dir() else [p])
    return out


def run_tests(paths, policies, plugins=None) -> list[Outcome]:
    """Each test file: ``policy: ID``, optional shared ``facts:``, and ``cases:`` with ``name``,
    optional ``facts``/``parameters``, and ``expect: {target_id: status}``. Facts are derived as ``check``
    derives them: with ``plugins``, their registered derivations too."""
    by_id = {p.id: p for p in policies}
    outcomes = []
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
                outcomes.append(_run_case(f, doc, pol, data, case, i, plugins))
    return outcomes


def _run_case(f, doc, pol, data, case, i, plugins=None):
    name = case.get("name", f"case {i + 1}")
    facts_doc = case.get("facts", data.get("facts"))
    expect = case.get("expect") or {}
    line, col = doc.where(("cases", i))
    where = f"{f}:{line}:{col}"
    bad = [s for s in expect.values() if s not in STATUSES]
    if bad or not expect:
        raise TestFileError(f"{where}: expect: maps target ids to one of {', '.join(STATUSES)}")
    import copy

    facts_doc = copy.deepcopy(facts_doc)
    if isinstance(facts_doc, dict):
        facts_doc.setdefault("schema_version", 1)
        facts_doc.setdefault("collected_at", data.get("collected_at", "2026-11-25T06:00:00+00:00"))
    try:
        facts = Facts(facts_doc)
    except FactsError as exc:
        raise TestFileError(f"{where}: facts: {exc}") from None
    derive(facts, plugins)
    compiled = copy.copy(pol)
    try:
        compiled.compile(case.get("parameters"))
    except ValueError as exc:
        raise TestFileError(f"{where}: {exc}") from None
    results = {r.target_id: r for r in evaluate([compiled], facts)}
    problems = []
    for target, want in expect.items():
        r = results.get(target)
        if r is None:
            problems.append(f"{target}: expected {want}, but it is not a target ({pol.target}) in the facts")
        elif r.status != want:
            problems.append(f"{target}: expected {want}, got {r.status}" + (f" ({r.message})" if r.message else ""))
    return Outcome(str(f), pol.id, name, not problems, problems)
