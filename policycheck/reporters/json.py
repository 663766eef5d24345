"""The ``json`` format: a versioned envelope (schemas/report.schema.json), pinned by a contract test."""
from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterator
from json.encoder import encode_basestring  # the C string encoder json.dumps(ensure_ascii=False) uses
from typing import TYPE_CHECKING, Any

from policycheck import hookimpl
from policycheck.api import Reporter
from policycheck.missing import Missing
from policycheck.results import ERROR, FAIL, evidence_source, jsonable

if TYPE_CHECKING:
    from policycheck.results import Report

REPORT_SCHEMA_VERSION = 1
BATCH = 2000  # results per chunk handed to the writer


def envelope(report: Report, results: bool = True) -> dict[str, Any]:
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "policycheck", "version": report.tool_version},
        "generated_at": report.generated_at,
        "collected_at": report.collected_at,
        "evaluated_at": report.clock,
        "sources": [{k: s.get(k) for k in ("name", "plugin", "status", "error", "objects", "duration_s")}
                    for s in report.sources],
        "summary": report.summary,
        "policies": [{"id": p.id, "title": p.title, "severity": p.severity, "target": p.target,
                      "tags": p.tags, "controls": getattr(p, "controls", None) or {}, "parameters": p.values}
                     for p in report.policies],
        "controls": report.controls,
        "results": [r.to_dict() for r in report.results] if results else [],
        "waivers": report.waivers,
        "notes": report.notes,
    }


class ResultEncoder:
    """One result as the exact text ``json.dumps(result.to_dict(), ensure_ascii=False, default=str)``
    gives, written straight from the evidence tuples: what is the same for every result of a policy (the
    head up to the target id, the remediation) or of a check (its fact and expected text) is encoded once,
    and no evidence dict is built. Anything unusual (a dict already, an observed list) goes through json."""

    def __init__(self) -> None:
        self.enc: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, default=str).encode
        self.heads: dict[tuple[int, Any], str] = {}   # (id of the policy, target kind) -> '{"policy_id": ..., "target_id": '
        self.tails: dict[int, str] = {}   # id of the policy -> ', "remediation": ...'
        self.leaves: dict[int, tuple[str, str, Any]] = {}  # id of the check (alive as long as its policy) -> ('{"fact": ..., "observed": ', ', "expected": ..., "ok": ')
        # a few recurring strings (sources, observation times) -> their JSON; looked up with any value
        self.strs: dict[Hashable, str] = {}
        self.joined: dict[tuple[str, ...] | str, str] = {}  # an entity's source names -> the JSON of their joined text

    def _s(self, v: Any) -> str:
        """A value that is usually one of a few recurring strings."""
        out = self.strs.get(v) if v.__class__ is str else None
        if out is None:
            out = encode_basestring(v) if v.__class__ is str else self.enc(v)
            if v.__class__ is str and len(self.strs) < 10000:
                self.strs[v] = out
        return out

    def _value(self, v: Any) -> str:
        c = v.__class__
        if c is str:
            return encode_basestring(v)
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if c is int:
            return int.__repr__(v)
        return self.enc(v)

    def _source(self, owner: dict[str, Any], attr: Any) -> str:
        """The JSON of ``evidence_source(owner, attr)``, each distinct source encoded once."""
        srcs = owner.get("_attr_sources")
        src = srcs.get(attr) if srcs and attr else None
        if src is not None:
            return self._s(src)
        names = owner.get("_sources")
        if not names:
            return "null"
        key = tuple(names) if names.__class__ is list else names
        out = self.joined.get(key)
        if out is None:
            out = self.joined[key] = self._s(evidence_source(owner, attr))
        return out

    def evidence(self, e: Any) -> str:
        if e.__class__ is dict:
            return self.enc(e)
        leaf, observed, owner, ok = e
        lh = self.leaves.get(id(leaf))
        if lh is None:
            steps = leaf.path.steps
            lh = self.leaves[id(leaf)] = ('{"fact": ' + self._value(leaf.path.text) + ', "observed": ',
                                          ', "expected": ' + self._value(leaf.expected_text()) + ', "ok": ',
                                          steps[-1][0] if steps else None)
        c = observed.__class__
        if c is str:
            obs = encode_basestring(observed)
        elif observed is None:
            obs = "null"
        elif c is bool:
            obs = "true" if observed else "false"
        elif c is int:
            obs = int.__repr__(observed)
        elif c is Missing:
            obs = "null"
        else:
            obs = self.enc(observed if c is float else jsonable(observed))
        okt = "true" if ok is True else "false" if ok is False else "null" if ok is None else self.enc(ok)
        if c is Missing:
            okt += ', "missing": ' + self._value(observed.reason)
        if owner.__class__ is not dict:
            return lh[0] + obs + lh[1] + okt + "}"
        oid = owner.get("id")
        at = owner.get("_observed_at")
        return (f'{lh[0]}{obs}{lh[1]}{okt}, "entity": {encode_basestring(oid) if oid.__class__ is str else self._value(oid)}'
                f', "source": {self._source(owner, lh[2])}, "observed_at": '
                f'{self.strs.get(at) or self._s(at)}}}')

    def result(self, r: Any) -> str:
        pol = r.policy
        key = (id(pol), r.target_kind)
        head = self.heads.get(key)
        if head is None:
            head = self.heads[key] = ('{"policy_id": ' + self._value(pol.id) + ', "title": ' + self._value(pol.title)
                                      + ', "severity": ' + self._value(pol.severity) + ', "target_kind": '
                                      + self._value(r.target_kind) + ', "target_id": ')
        ev = self.evidence
        tid, msg, status = r.target_id, r.message, r.status
        out = (f'{head}{encode_basestring(tid) if tid.__class__ is str else self._value(tid)}, "status": '
               f'{self.strs.get(status) or self._s(status)}, "message": '
               f'{encode_basestring(msg) if msg.__class__ is str else self._value(msg)}, "evidence": ['
               + ", ".join([ev(e) for e in r.evidence]) + "]")
        if status in (FAIL, ERROR):
            tail = self.tails.get(id(pol))
            if tail is None:
                tail = self.tails[id(pol)] = ', "remediation": ' + self._value(pol.remediation)
            out += tail
        if r.waiver is not None:
            out += ', "waiver": ' + self.enc(r.waiver)
        if r.baseline is not None:
            out += ', "baseline": ' + self.enc(r.baseline)
        return out + "}"


def json_chunks(report: Report) -> Iterator[str]:
    """The report as text chunks: the envelope indented, then each result on one line (encoded by
    :class:`ResultEncoder`, the same text as json's encoder gives for ``to_dict()``), so no list of
    every result's dict nor the whole document is ever held: at 500k results that was 2 GB."""
    env = envelope(report, results=False)
    del env["results"]
    head = json.dumps(env, indent=1, ensure_ascii=False, default=str)
    if not report.results:
        yield head[:-1].rstrip() + ',\n "results": []\n}\n'
        return
    one = ResultEncoder().result
    yield head[:-1].rstrip() + ',\n "results": [\n  '
    results = report.results
    for i in range(0, len(results), BATCH):
        text = ",\n  ".join([one(r) for r in results[i:i + BATCH]])
        yield text if i == 0 else ",\n  " + text
    yield "\n ]\n}\n"


def reference_json(report: Report) -> str:
    """The same document through json's encoder and ``Result.to_dict`` (what the tests compare with)."""
    env = envelope(report, results=False)
    del env["results"]
    head = json.dumps(env, indent=1, ensure_ascii=False, default=str)
    if not report.results:
        return head[:-1].rstrip() + ',\n "results": []\n}\n'
    enc = json.JSONEncoder(ensure_ascii=False, default=str).encode
    return (head[:-1].rstrip() + ',\n "results": [\n  ' + ",\n  ".join(enc(r.to_dict()) for r in report.results)
            + "\n ]\n}\n")


def render_json(report: Report) -> str:
    return "".join(json_chunks(report))


@hookimpl
def policycheck_reporters() -> list[Reporter]:
    return [Reporter("json", render_json, "json", "the versioned JSON envelope (schemas/report.schema.json)",
                     chunks=json_chunks)]
