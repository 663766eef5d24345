"""The ``sarif`` format: a SARIF 2.1.0 log for GitHub code scanning and other SARIF readers.

One rule per policy (title, rationale, remediation as help, the severity as ``level`` and as GitHub's
``security-severity``), one result per ``fail`` and ``error``. Every result has a logical location
(``source/kind/id`` of the entity the decisive fact was read from); when that entity came from a file
(the ``file`` collector: the config's path, given to the report as ``options["source_files"]``) it
also has a physical location, the file and the line of the entity's ``id``. A failure is
``kind: fail`` with the severity's level; an error (the facts cannot tell) is ``kind: open``
("insufficient information to determine whether the rule is violated", SARIF 3.27.9) with
``level: none``, as the standard requires for a kind other than ``fail``."""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policycheck import hookimpl
from policycheck.api import Reporter
from policycheck.conditions import KINDS
from policycheck.results import ERROR, FAIL

if TYPE_CHECKING:
    from policycheck.policy import Policy
    from policycheck.results import Report, Result

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFO_URI = "https://github.com/policycheck/policycheck"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
#: GitHub's bands: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
_SECTION = re.compile(r"""^\s*["']?(\w+)["']?\s*:\s*(?:\[\s*)?$""")
_ID_LINE = re.compile(r"""^\s*(?:-\s*)?["']?id["']?\s*:\s*["']?([^"'\s,}#]+)""")


class _Lines:
    """The line of each entity's ``id`` in the facts files, each file read once and only when a
    result points into it."""

    def __init__(self, source_files: Mapping[str, Sequence[str]] | None) -> None:
        self.source_files = source_files or {}
        self._index: dict[str, dict[tuple[str | None, str], int]] = {}

    def find(self, source: str, kind: str, entity_id: str) -> tuple[str, int] | None:
        for f in self.source_files.get(source) or ():
            idx = self._index.get(f)
            if idx is None:
                idx = self._index[f] = {}
                section: str | None = None
                try:
                    with open(f, encoding="utf-8", errors="replace") as fh:
                        for n, text in enumerate(fh, 1):
                            m = _SECTION.match(text)
                            if m and m.group(1) in KINDS:
                                section = m.group(1)
                                continue
                            m = _ID_LINE.match(text)
                            if m:
                                idx.setdefault((section, m.group(1)), n)
                                idx.setdefault((None, m.group(1)), n)
                except OSError:
                    pass
            at = idx.get((kind, entity_id)) or idx.get((None, entity_id))
            if at:
                return f, at
        return None


def _uri(path: str) -> str:
    p = Path(path)
    try:
        rel = os.path.relpath(p, Path.cwd())
        if not rel.startswith(".."):
            return Path(rel).as_posix()
    except ValueError:
        pass
    return p.resolve().as_uri()


def _decisive(r: Result) -> dict[str, Any] | None:
    """The evidence that decided the result: the first unknown for an error, the first failing fact
    for a failure (quantifier heads skipped when a fact inside them is known)."""
    ev: list[dict[str, Any]] = r.evidence_dicts()
    want = None if r.status == ERROR else False
    if r.status not in (FAIL, ERROR) and r.waiver:
        want = None if r.waiver.get("was") == ERROR else False
    for e in ev:
        if e.get("ok") is want and e.get("entity") is not None:
            return e
    return ev[0] if ev else None


def _rule(p: Policy) -> dict[str, Any]:
    text = f"{p.rationale}\n\nRemediation: {p.remediation}".strip() if getattr(p, "rationale", "") else \
        (getattr(p, "remediation", "") or p.title)
    return {"id": p.id, "name": re.sub(r"[^A-Za-z0-9]", "", p.id.title()) or p.id,
            "shortDescription": {"text": p.title},
            "fullDescription": {"text": getattr(p, "rationale", "") or p.title},
            "help": {"text": text,
                     "markdown": (f"**{p.title}**\n\n{getattr(p, 'rationale', '')}\n\n**Remediation:** "
                                  f"{getattr(p, 'remediation', '')}").strip()},
            "defaultConfiguration": {"level": LEVEL[p.severity]},
            "properties": {"security-severity": SECURITY_SEVERITY[p.severity], "severity": p.severity,
                           "tags": ["policycheck", p.severity, p.target] + list(p.tags or ()),
                           "target": p.target}}


def sarif_log(report: Report) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for p in report.policies:
        if p.id not in index:
            index[p.id] = len(rules)
            rules.append(_rule(p))
    lines = _Lines(report.options.get("source_files") or {})
    results: list[dict[str, Any]] = []
    for r in report.results:
        if r.status not in (FAIL, ERROR):
            continue
        p = r.policy
        if p.id not in index:
            index[p.id] = len(rules)
            rules.append(_rule(p))
        e = _decisive(r) or {}
        entity = e.get("entity") or r.target_id
        source = e.get("source")
        if not source and isinstance(r.entity, dict):
            source = ", ".join(r.entity.get("_sources") or ())
        if r.target_kind == "source":
            source, entity = r.target_id, r.target_id
        kind = _kind_of(e, r) if e else r.target_kind
        logical = [{"name": str(entity), "kind": "resource",
                    "fullyQualifiedName": f"{source or 'unknown'}/{kind}/{entity}",
                    "properties": {"source": source or None, "entityKind": kind}},
                   {"name": str(r.target_id), "kind": "resource",
                    "fullyQualifiedName": f"{r.target_kind}/{r.target_id}",
                    "properties": {"role": "target", "entityKind": r.target_kind}}]
        if entity == r.target_id and kind == r.target_kind:
            logical = logical[:1]
        loc: dict[str, Any] = {"logicalLocations": logical}
        found = None
        for name in (source or "").split(", "):
            found = found or lines.find(name, kind, str(entity))
        if found is None and isinstance(r.entity, dict):  # a derived fact: where the target is described
            for name in r.entity.get("_sources") or ():
                found = found or lines.find(name, r.target_kind, str(r.target_id))
        if found:
            loc["physicalLocation"] = {"artifactLocation": {"uri": _uri(found[0])},
                                       "region": {"startLine": found[1]}}
        fail = r.status == FAIL
        msg = f"{p.title}: {r.message or r.status} ({r.target_kind} {r.target_id})"
        res: dict[str, Any] = {"ruleId": p.id, "ruleIndex": index[p.id], "kind": "fail" if fail else "open",
               "level": LEVEL[p.severity] if fail else "none", "message": {"text": msg},
               "locations": [loc],
               "partialFingerprints": {"policycheck/v1": hashlib.sha256(
                   f"{p.id}\0{r.target_kind}\0{r.target_id}".encode()).hexdigest()},
               "properties": {"status": r.status, "severity": p.severity, "targetKind": r.target_kind,
                              "targetId": r.target_id, "evidence": r.evidence_dicts()}}
        if r.baseline is not None:
            res["baselineState"] = {"new": "new", "unchanged": "unchanged", "fixed": "absent"}.get(r.baseline, "unchanged")
        if r.waiver:
            res["properties"]["waiver"] = r.waiver
        results.append(res)
    clock = report.clock
    run: dict[str, Any] = {"tool": {"driver": {"name": "policycheck", "version": report.tool_version or "0",
                               "semanticVersion": report.tool_version or "0.0.0",
                               "informationUri": INFO_URI, "rules": rules}},
           "invocations": [{"executionSuccessful": all(s.get("status") == "ok" for s in report.sources),
                            "endTimeUtc": _utc(report.generated_at),
                            "toolExecutionNotifications": [
                                {"level": "error", "message": {"text": f"source {s.get('name')} "
                                                                       f"({s.get('plugin')}) failed: {s.get('error')}"}}
                                for s in report.sources if s.get("status") != "ok"]}],
           "results": results,
           "columnKind": "unicodeCodePoints",
           "properties": {"collectedAt": report.collected_at, "evaluatedAt": clock,
                          "summary": report.summary}}
    if not run["invocations"][0]["toolExecutionNotifications"]:
        del run["invocations"][0]["toolExecutionNotifications"]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _kind_of(e: dict[str, Any], r: Result) -> str:
    fact = str(e.get("fact") or "")
    kinds: list[str] = re.findall(r"->(\w+)", fact)
    target_kind: str = r.target_kind
    return kinds[-1] if kinds else target_kind


def _utc(text: object) -> str:
    from policycheck.timeutil import parse_time

    try:
        return parse_time(text).astimezone(__import__("datetime").timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, TypeError):
        return str(text)


def render_sarif(report: Report) -> str:
    # ASCII with \u escapes: no C1 control or bidi override reaches a terminal that shows the log
    return json.dumps(sarif_log(report), indent=1, ensure_ascii=True, default=str) + "\n"


@hookimpl
def policycheck_reporters() -> list[Reporter]:
    return [Reporter("sarif", render_sarif, "sarif", "SARIF 2.1.0 for GitHub code scanning and other SARIF readers")]
