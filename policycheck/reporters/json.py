"""The ``json`` format: a versioned envelope (schemas/report.schema.json), pinned by a contract test."""
from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Hashable, Iterator, Sequence
from json.encoder import encode_basestring  # the C string encoder json.dumps(ensure_ascii=False) uses
from typing import TYPE_CHECKING, Any

from policycheck import hookimpl
from policycheck.api import Reporter
from policycheck.conditions import QuantLeaf
from policycheck.missing import Missing
from policycheck.results import ERROR, FAIL, evidence_source, jsonable

if TYPE_CHECKING:
    from policycheck.results import Report, Result

REPORT_SCHEMA_VERSION = 1
BATCH = 2000  # results per chunk handed to the writer

#: a check's texts: the fact up to its observed value (without, with the separator before it), after the
#: value up to the owner for ok true, false and None, and the attribute whose source the evidence names
CheckTexts = tuple[str, str, str, str, str, Any]
_CONTEXT = ("fact", "observed", "expected", "ok", "entity", "source", "observed_at")  # a context fact's keys
_NO_ATTR = object()  # a check without an attribute: no key of an entity's _attr_sources


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


def json_encoder() -> Callable[[Any], str]:
    """``json.dumps(v, ensure_ascii=False, default=str)`` for one value, through json's C encoder made
    once: ``JSONEncoder.encode`` makes one on every call, half its time on an evidence dict. json's own
    ``encode`` where there is no C encoder (or it is made differently)."""
    enc = json.JSONEncoder(ensure_ascii=False, default=str)
    make: Any = getattr(json.encoder, "c_make_encoder", None)  # what JSONEncoder.iterencode uses (None: none)
    try:  # with the arguments iterencode gives it
        c = make({}, enc.default, encode_basestring, enc.indent, enc.key_separator, enc.item_separator,
                 enc.sort_keys, enc.skipkeys, enc.allow_nan)
    except TypeError:
        return enc.encode
    return lambda v: "".join(c(v, 0))


class ResultEncoder:
    """Results as the exact text ``json.dumps(result.to_dict(), ensure_ascii=False, default=str)`` gives,
    written straight from the evidence tuples: what is the same for every result of a policy (the head up
    to the target id, the remediation) or of a check (its fact, expected text and ok) is encoded once, and
    no evidence dict is built. Anything unusual (another dict, a float, a longer list) goes through json."""

    def __init__(self) -> None:
        self.enc = json_encoder()
        self.heads: dict[tuple[int, Any], tuple[str, str, str]] = {}  # (id of the policy, target kind) -> _head()
        self.statuses: dict[Any, str] = {}  # status -> ', "status": ..., "message": '
        self.leaves: dict[int, CheckTexts] = {}  # id of a (compiled) check -> _leaf()
        self.texts: dict[tuple[int, str], CheckTexts] = {}  # (id of its path, its expected text) -> _leaf()
        # a few recurring strings (sources, observation times) -> their JSON; looked up with any value
        self.strs: dict[Hashable, str] = {None: "null"}
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

    def _head(self, pol: Any, kind: Any) -> tuple[str, str, str]:
        """A policy's results: the text from the separator before one up to its target id; after its
        evidence, the end of one without and with the remediation (for a failure or an error)."""
        key = (id(pol), kind)
        hr = self.heads.get(key)
        if hr is None:
            rem = ', "remediation": ' + self._value(pol.remediation)
            hr = self.heads[key] = (
                ',\n  {"policy_id": ' + self._value(pol.id) + ', "title": ' + self._value(pol.title)
                + ', "severity": ' + self._value(pol.severity) + ', "target_kind": ' + self._value(kind)
                + ', "target_id": ', "]", "]" + rem)
        return hr

    def _leaf(self, leaf: Any) -> CheckTexts:
        """A check's texts (see :data:`CheckTexts`). Kept by the check's id, and by its path and expected
        text: a quantifier's check is made anew for each evaluation (with the same path and text)."""
        key = (id(leaf.path), leaf.expected_text())
        lh = self.texts.get(key)
        if lh is None:
            steps = leaf.path.steps
            exp = ', "expected": ' + self._value(key[1]) + ', "ok": '
            fact = '{"fact": ' + self._value(leaf.path.text) + ', "observed": '
            lh = self.texts[key] = (fact, ", " + fact, exp + "true", exp + "false", exp + "null",
                                    (steps[-1][0] or _NO_ATTR) if steps else _NO_ATTR)
        if leaf.__class__ is not QuantLeaf:
            self.leaves[id(leaf)] = lh
        return lh

    def _joined(self, key: tuple[str, ...] | str, owner: dict[str, Any]) -> str:
        """The JSON of an entity's sources joined (``evidence_source`` without an attribute's own)."""
        out = self.joined[key] = self._s(evidence_source(owner, None))
        return out

    def lines(self, results: Sequence[Result], more: bool = False) -> str:
        """The results, one JSON text each, joined by ``",\\n  "`` (``more``: also before the first).

        Speed (at 500k results of about two evidence items each, each call, lookup or copy saved per
        item is a tenth of a second): one loop over the results and their evidence with everything it
        reads in locals, no method per item; the pieces go to one list joined once, so each character
        is copied once, not once per nesting level."""
        ebs, enc, value, strs_get, joined_get = encode_basestring, self.enc, self._value, self.strs.get, self.joined.get
        leaves_get, statuses, s_ = self.leaves.get, self.statuses, self._s
        last_pol: Any = None
        last_kind: Any = None
        head = close = close_rem = oj = atj = ""
        joined: str | None = None
        last_owner: Any = None
        srcs: dict[str, Any] | None = None
        parts: list[str] = []
        for r in results:
            pol, kind, status = r.policy, r.target_kind, r.status
            if pol is not last_pol or kind is not last_kind:  # results come grouped by policy
                last_pol, last_kind = pol, kind
                head, close, close_rem = self._head(pol, kind)
            tid, msg = r.target_id, r.message
            st = statuses.get(status)
            if st is None:
                st = statuses[status] = ', "status": ' + s_(status) + ', "message": '
            tj = ebs(tid) if tid.__class__ is str else value(tid)
            parts += (head, tj, st, (ebs(msg) if msg else '""') if msg.__class__ is str else value(msg),
                      ', "evidence": [')
            first = 0  # the fact's text without the separator, then with it (1)
            for e in r.evidence:
                if e.__class__ is dict:
                    parts.append(", " if first else "")
                    first = 1
                    # a context fact's (policy.context_evidence): strings, observed and ok null or a string
                    if len(e) == 7 and tuple(e) == _CONTEXT:
                        f, o, x, k, n, s, t = e.values()
                        if (k is None and (o is None or o.__class__ is str)
                                and f.__class__ is x.__class__ is n.__class__ is s.__class__ is t.__class__ is str):
                            parts += ('{"fact": ', strs_get(f) or s_(f), ', "observed": ', "null" if o is None else ebs(o),
                                      ', "expected": ', strs_get(x) or s_(x), ', "ok": null, "entity": ', ebs(n),
                                      ', "source": ', strs_get(s) or s_(s), ', "observed_at": ', strs_get(t) or s_(t), "}")
                            continue
                    parts.append(enc(e))
                    continue
                leaf, observed, owner, ok = e
                lh = leaves_get(id(leaf)) or self._leaf(leaf)
                c = observed.__class__
                if c is str:
                    obs = ebs(observed)
                elif observed is None:
                    obs = "null"
                elif c is bool:
                    obs = "true" if observed else "false"
                elif c is int:
                    obs = int.__repr__(observed)
                elif c is list and len(observed) < 2 and (not observed or observed[0].__class__ is str):
                    obs = "[" + ebs(observed[0]) + "]" if observed else "[]"  # most lists: jsonable() keeps strings
                elif c is Missing:
                    obs = "null"
                else:
                    obs = enc(observed if c is float else jsonable(observed))
                if ok is True:
                    mid = lh[2]
                elif ok is False:
                    mid = lh[3]
                elif ok is None:
                    mid = lh[4]
                else:
                    mid = lh[4][:-4] + enc(ok)
                if c is Missing:
                    mid += ', "missing": ' + value(observed.reason)
                if owner.__class__ is not dict:
                    parts += (lh[first], obs, mid, "}")
                    first = 1
                    continue
                # the owner's id, evidence_source(owner, attr) and time; the same owner's again for the
                # next item (a third of them), but for its attribute's own source
                if owner is not last_owner:
                    last_owner = owner
                    oid = owner.get("id")
                    oj = tj if oid is tid else ebs(oid) if oid.__class__ is str else value(oid)  # mostly the target
                    at = owner.get("_observed_at")
                    atj = strs_get(at) or s_(at)
                    srcs = owner.get("_attr_sources")
                    joined = None
                src = srcs.get(lh[5]) if srcs else None
                if src is not None:
                    sj = strs_get(src) or s_(src)
                elif joined is not None:
                    sj = joined
                else:
                    names = owner.get("_sources")
                    if not names:
                        sj = joined = "null"
                    elif len(names) == 1 and names[0].__class__ is str:  # most: one source, joined is itself
                        sj = joined = strs_get(names[0]) or s_(names[0])
                    else:
                        key = tuple(names) if names.__class__ is list else names
                        sj = joined = joined_get(key) or self._joined(key, owner)
                parts += (lh[first], obs, mid, ', "entity": ', oj, ', "source": ', sj, ', "observed_at": ', atj, "}")
                first = 1
            if r.waiver is None and r.baseline is None:
                parts += (close_rem if status in (FAIL, ERROR) else close, "}")
                continue
            parts.append(close_rem if status in (FAIL, ERROR) else close)
            if r.waiver is not None:
                parts += (', "waiver": ', enc(r.waiver))
            if r.baseline is not None:
                parts += (', "baseline": ', enc(r.baseline))
            parts.append("}")
        if parts and not more:
            parts[0] = parts[0][4:]  # the head without the separator: the first result of all
        return "".join(parts)


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
    lines = ResultEncoder().lines
    yield head[:-1].rstrip() + ',\n "results": [\n  '
    results = report.results
    for i in range(0, len(results), BATCH):
        yield lines(results[i:i + BATCH], i > 0)
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
