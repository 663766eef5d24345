"""The ``json`` format: a versioned envelope (schemas/report.schema.json), pinned by a contract test."""
from __future__ import annotations

import json

from policycheck import hookimpl
from policycheck.api import Reporter

REPORT_SCHEMA_VERSION = 1


def envelope(report, results: bool = True) -> dict:
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


def json_chunks(report):
    """The report as text chunks: the envelope indented, then each result on one line, encoded one at a
    time (json's C encoder only runs without indent), so no list of every result's dict nor the whole
    document is ever held: at 500k results that was 2 GB."""
    env = envelope(report, results=False)
    del env["results"]
    head = json.dumps(env, indent=1, ensure_ascii=False, default=str)
    if not report.results:
        yield head[:-1].rstrip() + ',\n "results": []\n}\n'
        return
    enc = json.JSONEncoder(ensure_ascii=False, default=str).encode
    yield head[:-1].rstrip() + ',\n "results": [\n  '
    sep = ""
    batch: list = []
    for r in report.results:
        batch.append(sep + enc(r.to_dict()))
        sep = ",\n  "
        if len(batch) >= 2000:
            yield "".join(batch)
            batch = []
    batch.append("\n ]\n}\n")
    yield "".join(batch)


def render_json(report) -> str:
    return "".join(json_chunks(report))


@hookimpl
def policycheck_reporters():
    return [Reporter("json", render_json, "json", "the versioned JSON envelope (schemas/report.schema.json)",
                     chunks=json_chunks)]
