"""Waivers: accepted exceptions with a reason, an owner and an expiry; expired, too-far and stale ones reported."""
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
ACTIVE, EXPIRED, TOO_FAR, STALE = "active", "expired", "too_far", "stale"


class WaiverError(ValueError):
    """An invalid waiver file (located: ``file:line:col: message``)."""


def load_waivers(path, max_days: int | None = None) -> list[dict]:
    """Validated waiver entries, each with ``where`` (file:line), its parsed expiry and its day limit.

    ``max_days`` is the configured limit (default 365). The file's own ``max_days`` may lower it,
    never raise it: whoever writes waivers cannot extend how long they may last."""
    import jsonschema

    path = Path(path)
    try:  # show it relative to the working directory when it lies below it
        rel = path.resolve().relative_to(Path.cwd().resolve())
        path = rel
    except ValueError:
        pass
    if not path.is_file():
        raise WaiverError(f"{path}: waiver file not found")
    try:
        docs = load_documents(path)
    except YamlError as exc:
        raise WaiverError(str(exc)) from None
    if len(docs) != 1 or docs[0].data is None:
        raise WaiverError(f"{path}:1:1: a waiver file is one YAML document with waivers: [...]")
    doc = docs[0]
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    errs = list(jsonschema.Draft202012Validator(schema).iter_errors(doc.data))
    if errs:
        e = min(errs, key=lambda e: (len(list(e.absolute_path)), list(map(str, e.absolute_path))))
        jp = tuple(e.absolute_path)
        line, col = doc.where(jp)
        shown = ".".join(str(x) for x in jp) or "<root>"
        hint = " (each waiver needs policy, target, reason, owner, expires)" if e.validator == "required" else ""
        if e.validator == "pattern" and jp and jp[-1] == "expires":
            hint = " (write a date, YYYY-MM-DD, or a time, YYYY-MM-DDTHH:MM:SS+00:00)"
        raise WaiverError(f"{path}:{line}:{col}: {shown}: {e.message}{hint}")
    limit = int(max_days or DEFAULT_MAX_DAYS)
    if doc.data.get("max_days"):
        limit = min(limit, int(doc.data["max_days"]))
    out = []
    for i, w in enumerate(doc.data["waivers"]):
        line, col = doc.where(("waivers", i))
        if w["policy"].strip() == "*" and w["target"].strip() == "*":
            raise WaiverError(f"{path}:{line}:{col}: waivers[{i}]: policy '*' with target '*' would waive "
                              "everything; name the policies or the targets (use --soft-fail to report only)")
        text = w["expires"]
        try:
            exp = parse_time(text if "T" in text else text + "T23:59:59+00:00")
        except ValueError:
            eline, ecol = doc.where(("waivers", i, "expires"))
            raise WaiverError(f"{path}:{eline}:{ecol}: waivers[{i}].expires {text!r} is not a date "
                              "(YYYY-MM-DD)") from None
        out.append(dict(w, where=f"{path}:{line}", _expires=exp, _limit=limit))
    return out


def _matches(w: dict, r) -> bool:
    if not fnmatch.fnmatchcase(r.policy.id.upper(), w["policy"].upper()):
        return False
    pat = w["target"].lower()
    names = [r.target_id]
    if isinstance(r.entity, dict):
        names += [a for a in r.entity.get("aliases") or () if isinstance(a, str)]
    return any(fnmatch.fnmatchcase(str(n).lower(), pat) for n in names)


def apply_waivers(results, waivers: list[dict], now_text) -> list[dict]:
    """Mark the fail/error results an active waiver matches ``waived`` (in place; the first matching
    waiver wins). Returns each waiver with its state:

    - active: in force and waived ``matched`` results;
    - expired: its expiry is before ``now_text``; it waives nothing, and the failures it would have
      waived carry it (``result.waiver`` with state expired) so every format can say so;
    - too_far: it expires more than its day limit after ``now_text``; not applied, carried likewise;
    - stale: in force but matched no failing result (the problem was fixed or the pattern is wrong).
    """
    now = parse_time(now_text)
    out = []
    for w in waivers:
        state = ACTIVE
        if w["_expires"] < now:
            state = EXPIRED
        elif w["_expires"] > now + timedelta(days=w["_limit"]):
            state = TOO_FAR
        info = {"reason": w["reason"], "owner": w["owner"], "expires": w["expires"], "where": w["where"]}
        matched = other = 0
        for r in results:
            if not _matches(w, r):
                continue
            if r.status not in (FAIL, ERROR):
                other += r.status != WAIVED
                continue
            matched += 1
            if state == ACTIVE:
                r.waiver = dict(info, was=r.status, state=ACTIVE)
                r.status = WAIVED
            elif r.waiver is None:
                r.waiver = dict(info, was=r.status, state=state)
        if state == ACTIVE and matched == 0:
            state = STALE
        out.append({"policy": w["policy"], "target": w["target"], "reason": w["reason"], "owner": w["owner"],
                    "expires": w["expires"], "state": state, "matched": matched, "other_matches": other,
                    "max_days": w["_limit"], "where": w["where"]})
    return out


def notes(waiver_states: list[dict]) -> list[str]:
    """One warning line per waiver that is not simply active."""
    lines = []
    for w in waiver_states:
        head = f"{w['where']}: waiver {w['policy']} {w['target']} ({w['reason']}; owner {w['owner']})"
        if w["state"] == EXPIRED:
            lines.append(f"{head} expired on {w['expires']} and no longer applies"
                         + (f": {w['matched']} result(s) fail again" if w["matched"] else ""))
        elif w["state"] == TOO_FAR:
            lines.append(f"{head} expires {w['expires']}, more than {w['max_days']} days ahead: not applied "
                         "(shorten it, or raise the limit in the config)")
        elif w["state"] == STALE:
            why = (f"its {w['other_matches']} matching result(s) no longer fail" if w.get("other_matches")
                   else "it matches no result")
            lines.append(f"{head} is stale: {why}; remove it")
    return lines


def stale(waiver_states: list[dict]) -> list[dict]:
    return [w for w in waiver_states if w["state"] == STALE]
