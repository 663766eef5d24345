"""``policycheck merge [LABEL=]REPORT.json...``: the JSON reports of several runs (one CI job per
datazone) combined into one :class:`~policycheck.results.Report` that every writer renders.

Each input keeps its identity: its label (the file name without ``.json`` unless given as
``LABEL=FILE``) prefixes its targets (``east/nsr01.corp.example``), its sources (``east/networker``),
the entities and sources named in its evidence, its waivers and its notes, so the same host name in
two datazones stays two targets. Pure apart from reading the files."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any

from policycheck import __version__
from policycheck.errors import FactsInputError
from policycheck.policy import Policy
from policycheck.results import SEVERITIES, STATUSES, Report, Result
from policycheck.timeutil import iso, now_utc, parse_time

LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class MergeError(FactsInputError):
    """An input that is not a policycheck JSON report, or labels that collide (exit 2)."""


def parse_specs(specs: Iterable[str | PathLike[str]]) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    seen: dict[str, str] = {}
    for spec in specs:
        label, sep, path = str(spec).partition("=")
        if not sep or not LABEL.match(label) or Path(spec).exists():
            label, path = Path(spec).stem, str(spec)
            label = re.sub(r"[^A-Za-z0-9_.-]", "_", label).lstrip("._-") or "report"
        if label in seen:
            raise MergeError(f"{path} and {seen[label]} both have the label '{label}': name them, e.g. "
                             f"east={seen[label]} west={path}")
        seen[label] = path
        out.append((label, Path(path)))
    return out


def load_report(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise MergeError(f"{path}: no such report (write one with `policycheck check --json FILE`)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MergeError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MergeError(f"{path}: cannot read: {exc}") from None
    if not isinstance(doc, dict):
        raise MergeError(f"{path}: not a policycheck JSON report (expected an object)")
    if "entities" in doc and "results" not in doc:
        raise MergeError(f"{path}: is a facts snapshot, not a report (merge takes `check --json FILE` output)")
    if doc.get("schema_version") != 1:
        raise MergeError(f"{path}: schema_version {doc.get('schema_version')!r}: this policycheck reads report "
                         "schema_version 1")
    for key in ("results", "policies", "sources"):
        if not isinstance(doc.get(key), list):
            raise MergeError(f"{path}: {key}: expected a list")
    if not isinstance(doc.get("collected_at"), str) or not doc["collected_at"]:
        raise MergeError(f"{path}: collected_at: expected the time its facts were collected (a string)")
    clock = doc.get("evaluated_at")
    if clock is not None and (not isinstance(clock, dict) or not isinstance(clock.get("time"), str)):
        raise MergeError(f"{path}: evaluated_at: expected an object with the time (a string) ages were judged at")
    for i, r in enumerate(doc["results"]):
        if not isinstance(r, dict):
            raise MergeError(f"{path}: results[{i}]: expected an object")
        for key in ("policy_id", "target_kind", "target_id", "status", "severity"):
            if not isinstance(r.get(key), str):
                raise MergeError(f"{path}: results[{i}].{key}: expected a string")
        if r["status"] not in STATUSES:
            raise MergeError(f"{path}: results[{i}].status: {r['status']!r} is not one of {', '.join(STATUSES)}")
        if r["severity"] not in SEVERITIES:
            raise MergeError(f"{path}: results[{i}].severity: {r['severity']!r} is not a severity")
    return doc


def _src(label: str, name: object) -> object:
    if not name:
        return name
    name = str(name)
    if name.startswith("derived"):  # "derived", "derived from a, b", "derived: ..." (a derivation's own text)
        head, sep, rest = name.partition("derived from ")
        if head or not sep or rest.startswith("client records"):
            return name
        return "derived from " + ", ".join(f"{label}/{n}" for n in rest.split(", "))
    return ", ".join(f"{label}/{n}" for n in name.split(", "))


def merge_files(specs: Iterable[str | PathLike[str]]) -> Report:
    inputs = [(label, path, load_report(path)) for label, path in parse_specs(specs)]
    return merge_reports(inputs)


def merge_reports(inputs: Sequence[tuple[str, Path, dict[str, Any]]]) -> Report:
    """``inputs``: [(label, path, report dict)] in order."""
    policies: dict[str, tuple[str, Policy]] = {}
    results: list[Result] = []
    sources: list[dict[str, Any]] = []
    waivers: list[dict[str, Any]] = []
    notes: list[str] = []
    collected: list[tuple[str, str]] = []
    clocks: list[tuple[str, str]] = []
    for label, _path, doc in inputs:
        own: dict[str, Policy] = {}
        remediation = {r["policy_id"]: r.get("remediation") for r in doc["results"] if r.get("remediation")}
        for p in doc["policies"]:
            pol = Policy(id=p["id"], title=p.get("title", ""), severity=p.get("severity", "info"),
                         target=p.get("target", ""), rationale="", remediation=remediation.get(p["id"], ""),
                         tags=list(p.get("tags") or []), values=dict(p.get("parameters") or {}))
            own[p["id"]] = pol
            first = policies.setdefault(p["id"], (label, pol))
            if first[1] is not pol and (first[1].severity, first[1].title, first[1].values) != \
                    (pol.severity, pol.title, pol.values):
                notes.append(f"{p['id']} differs between {first[0]} and {label} (severity, title or parameters); "
                             f"each result keeps its own")
        for r in doc["results"]:
            found = own.get(r["policy_id"])
            if found is not None:
                pol = found
            else:  # a result whose policy the envelope does not list: rebuilt from the result
                pol = own[r["policy_id"]] = Policy(id=r["policy_id"], title=r.get("title", ""),
                                                   severity=r["severity"], target=r["target_kind"], rationale="",
                                                   remediation=r.get("remediation") or "")
                policies.setdefault(r["policy_id"], (label, pol))
            ev: list[dict[str, Any]] = []
            for e in r.get("evidence") or ():
                if isinstance(e, dict):
                    e = dict(e)
                    if e.get("entity") is not None:
                        e["entity"] = f"{label}/{e['entity']}"
                    if e.get("source"):
                        e["source"] = _src(label, e["source"])
                    ev.append(e)
            tid = f"{label}/{r['target_id']}"
            res = Result(pol, r["target_kind"], tid, r["status"], r.get("message") or "", ev,
                         entity={"id": tid, "_datazone": label})
            res.waiver = r.get("waiver")
            res.baseline = r.get("baseline")
            results.append(res)
        for s in doc["sources"]:
            s = dict(s)
            s["name"] = f"{label}/{s.get('name')}"
            s["datazone"] = label
            sources.append(s)
        for w in doc.get("waivers") or ():
            if isinstance(w, dict):
                w = dict(w, datazone=label, target=f"{label}/{w.get('target')}")
                waivers.append(w)
        notes.extend(f"{label}: {n}" for n in doc.get("notes") or ())
        if doc.get("collected_at"):
            collected.append((doc["collected_at"], label))
        clock = doc.get("evaluated_at") or {}
        if clock.get("time"):
            clocks.append((clock["time"], label))
    if not inputs:
        raise MergeError("no reports to merge")
    if not collected:  # load_report refuses a report without collected_at
        raise MergeError("no report says when its facts were collected (collected_at)")
    oldest = min(collected, key=lambda c: _t(c[0]))
    times = {c for c, _ in clocks}
    firsts = [doc.get("evaluated_at") for _, _, doc in inputs]
    clock0 = firsts[0]
    if len(times) == 1 and clock0 is not None and all(c == clock0 for c in firsts):
        evaluated = dict(clock0)
    else:  # several clocks: the earliest, and each input's
        evaluated = {"time": min(times, key=_t) if times else oldest[0], "source": "merged",
                     "where": "; ".join(f"{lab} as of {t}" for t, lab in clocks)}
    if len({c for c, _ in collected}) > 1:
        notes.append("facts collected at different times: " + ", ".join(f"{lab} {c}" for c, lab in collected)
                     + f"; collected_at is the oldest ({oldest[1]})")
    return Report(results=results, policies=[p for _, p in policies.values()], sources=sources,
                  collected_at=oldest[0], generated_at=iso(now_utc()), notes=notes, waivers=waivers,
                  tool_version=__version__, evaluated_at=evaluated)


def _t(text: object) -> datetime:
    try:
        return parse_time(text)
    except (ValueError, TypeError):
        return parse_time("9999-01-01T00:00:00Z")
