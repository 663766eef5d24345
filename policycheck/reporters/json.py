"""The ``json`` format: a versioned envelope (schemas/report.schema.json), pinned by a contract test."""
from __future__ import annotations

import json

from policycheck import hookimpl
from policycheck.api import Reporter

REPORT_SCHEMA_VERSION = 1


def envelope(report) -> dict:
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
        "results": [r.to_dict() for r in report.results],
        "waivers": report.waivers,
        "notes": report.notes,
    }


def render_json(report) -> str:
    """The envelope indented, each result on one line: json's C encoder only runs without indent,
    and at 100k results the indented pure-Python encoder took seconds and most of the memory."""
    env = envelope(report)
    results = env.pop("results")
    head = json.dumps(env, indent=1, ensure_ascii=False, default=str)
    if not results:
        return head[:-1].rstrip() + ',\n "results": []\n}\n'
    enc = json.JSONEncoder(ensure_ascii=False, default=str).encode
    body = ",\n  ".join(enc(r) for r in results)
    return head[:-1].rstrip() + ',\n "results": [\n  ' + body + "\n ]\n}\n"


@hookimpl
def policycheck_reporters():
    return [Reporter("json", render_json, "json", "the versioned JSON envelope (schemas/report.schema.json)")]
