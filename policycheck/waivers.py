"""Waivers: accepted exceptions with a reason, an owner and an expiry; expired and stale ones reported."""
from __future__ import annotations

import fnmatch
import json
from datetime import timedelta
from pathlib import Path

from policycheck.results import ERROR, FAIL, WAIVED
from policycheck.timeutil import parse_time
from policycheck.yamlsafe import YamlError, load_documents

SCHEMA_FILE = Path(__file__).parent / "schemas" / "waivers.schema.json"
DEFAULT_MAX_DAYS = 365


class WaiverError(ValueError):
    """An invalid waiver file (located)."""


def load_waivers(path, max_days: int | None = None) -> list[dict]:
    """Validated waiver entries, each with ``where`` (file:line) and a parsed ``expires``."""
    import jsonschema

    path = Path(path)
    if not path.is_file():
        raise WaiverError(f"{path}: waiver file not found")
    try:
        docs = load_documents(path)
    except YamlError as exc:
        raise WaiverError(str(exc)) from None
    if len(docs) != 1:
        raise WaiverError(f"{path}:1:1: a waiver file is one YAML document with waivers: [...]")
    doc = docs[0]
    schema = json.loads(SCHEMA_FILE.read_text())
    errs = list(jsonschema.Draft202012Validator(schema).iter_errors(doc.data))
    if errs:
        e = min(errs, key=lambda e: len(list(e.absolute_path)))
        jp = tuple(e.absolute_path)
        line, col = doc.where(jp)
        shown = ".".join(str(x) for x in jp) or "<root>"
        hint = " (each waiver needs policy, target, reason, owner, expires)" if e.validator == "required" else ""
        raise WaiverError(f"{path}:{line}:{col}: {shown}: {e.message}{hint}")
    limit = max_days or doc.data.get("max_days") or DEFAULT_MAX_DAYS
    out = []
    for i, w in enumerate(doc.data["waivers"]):
        line, col = doc.where(("waivers", i))
        try:
            exp = parse_time(w["expires"] if "T" in w["expires"] else w["expires"] + "T23:59:59+00:00")
        except ValueError:
            raise WaiverError(f"{path}:{line}:{col}: waivers[{i}].expires {w['expires']!r} is not a date "
                              "(YYYY-MM-DD)") from None
        out.append(dict(w, where=f"{path}:{line}", _expires=exp, _limit=limit))
    return out


def apply_waivers(results, waivers: list[dict], now_text: str) -> list[dict]:
    """Mark matching fail/error results ``waived`` (in place). Returns each waiver with its state:
    active, expired, too_far (expiry beyond the limit: not applied), stale (matched nothing)."""
    now = parse_time(now_text)
    report = []
    for w in waivers:
        state = "active"
        if w["_expires"] < now:
            state = "expired"
        elif w["_expires"] > now + timedelta(days=w["_limit"]):
            state = "too_far"
        matched = 0
        for r in results:
            if not (fnmatch.fnmatchcase(r.policy.id, w["policy"]) and fnmatch.fnmatchcase(r.target_id, w["target"])):
                continue
            matched += 1
            if state == "active" and r.status in (FAIL, ERROR):
                r.waiver = {"reason": w["reason"], "owner": w["owner"], "expires": w["expires"],
                            "was": r.status, "where": w["where"]}
                r.status = WAIVED
        if state == "active" and matched == 0:
            state = "stale"
        report.append({"policy": w["policy"], "target": w["target"], "reason": w["reason"], "owner": w["owner"],
                       "expires": w["expires"], "state": state, "matched": matched, "where": w["where"]})
    return report
