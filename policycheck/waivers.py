"""Waivers: accepted exceptions with a reason, an owner and an expiry; a waiver waives no more than its
author named (a pattern matching several targets needs match: many); expired, too-far, too-broad,
mistyped and stale ones reported."""
from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from policycheck.errors import WaiverError
from policycheck.results import ERROR, FAIL, WAIVED
from policycheck.timeutil import parse_time
from policycheck.yamlsafe import YamlError, load_documents

if TYPE_CHECKING:
    from policycheck.results import Result

SCHEMA_FILE = Path(__file__).parent / "schemas" / "waivers.schema.json"
DEFAULT_MAX_DAYS = 365
ACTIVE, EXPIRED, TOO_FAR, STALE = "active", "expired", "too_far", "stale"
TOO_BROAD, UNKNOWN_POLICY, NOT_EVALUATED = "too_broad", "unknown_policy", "not_evaluated"
MAX_LISTED = 50  # targets named in one note (the JSON report lists them all)


MAX_PROBLEMS = 50


def load_waivers(path: str | PathLike[str], max_days: int | None = None) -> list[dict[str, Any]]:
    """Validated waiver entries, each with ``where`` (file:line), its parsed expiry and its day limit.

    ``max_days`` is the configured limit (default 365). The file's own ``max_days`` may lower it,
    never raise it: whoever writes waivers cannot extend how long they may last. Every problem of
    the file is reported at once (up to MAX_PROBLEMS lines), each located ``file:line:col``."""
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
    problems: list[tuple[int, int, str]] = []  # (line, col, message)
    for e in jsonschema.Draft202012Validator(schema).iter_errors(doc.data):
        jp = tuple(e.absolute_path)
        line, col = doc.where(jp)
        shown = ".".join(str(x) for x in jp) or "<root>"
        hint = " (each waiver needs policy, target, reason, owner, expires)" if e.validator == "required" else ""
        if e.validator == "pattern" and jp and jp[-1] == "expires":
            hint = " (write a date, YYYY-MM-DD, or a time, YYYY-MM-DDTHH:MM:SS+00:00)"
        if not jp and e.validator in ("type", "additionalProperties", "required"):
            problems.append((line, col, "a waiver file is a mapping with one key, waivers: a list of "
                                        "{policy, target, reason, owner, expires} (see docs/ci.md)"))
            continue
        problems.append((line, col, f"{shown}: {e.message}{hint}"))
    if not isinstance(doc.data, dict) or not isinstance(doc.data.get("waivers"), list):
        _raise(path, problems)
    limit = int(max_days or DEFAULT_MAX_DAYS)
    if isinstance(doc.data.get("max_days"), int) and doc.data["max_days"] > 0:
        limit = min(limit, int(doc.data["max_days"]))
    out: list[dict[str, Any]] = []
    for i, w in enumerate(doc.data["waivers"]):
        if not isinstance(w, dict):
            continue  # the schema said so
        line, col = doc.where(("waivers", i))
        target = w.get("target")
        if isinstance(target, str) and target.strip() and set(target.strip()) <= {"*"}:
            tline, tcol = doc.where(("waivers", i, "target"))
            problems.append((tline, tcol, f"waivers[{i}].target {target!r} would waive every target of "
                             f"{w.get('policy')!r}; name the target (a host, or a narrower glob such as "
                             "'*.lab.example' with match: many), or use --soft-fail to report only"))
        text = w.get("expires")
        exp = None
        if isinstance(text, str):
            try:
                exp = parse_time(text if "T" in text or " " in text else text + "T23:59:59+00:00")
            except ValueError:
                eline, ecol = doc.where(("waivers", i, "expires"))
                if not any(p[:2] == (eline, ecol) for p in problems):
                    problems.append((eline, ecol, f"waivers[{i}].expires {text!r} is not a date (YYYY-MM-DD)"))
        out.append(dict(w, where=f"{path}:{line}", _expires=exp, _limit=limit))
    if problems:
        _raise(path, problems)
    return out


def _raise(path: Path, problems: Iterable[tuple[int, int, str]]) -> NoReturn:
    ordered = sorted(set(problems), key=lambda p: (p[0], p[1], p[2]))
    lines = [f"{path}:{line}:{col}: {msg}" for line, col, msg in ordered[:MAX_PROBLEMS]]
    if len(ordered) > MAX_PROBLEMS:
        lines.append(f"{path}: ... and {len(ordered) - MAX_PROBLEMS} more problem(s)")
    raise WaiverError("\n".join(lines))


def _matches(w: dict[str, Any], r: Result) -> bool:
    if not fnmatch.fnmatchcase(r.policy.id.upper(), w["policy"].upper()):
        return False
    pat = w["target"].lower()
    names = [r.target_id]
    if isinstance(r.entity, dict):
        names += [a for a in r.entity.get("aliases") or () if isinstance(a, str)]
    return any(fnmatch.fnmatchcase(str(n).lower(), pat) for n in names)


def apply_waivers(results: Sequence[Result], waivers: list[dict[str, Any]], now_text: object,
                  loaded: Iterable[str] | None = None,
                  evaluated: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Mark the fail/error results an active waiver matches ``waived`` (in place; the first matching
    waiver wins). ``loaded`` are the ids of every policy loaded, ``evaluated`` those evaluated this
    run (after --select/--skip); without them every waiver is taken as concerning evaluated policies.
    Returns each waiver with its state:

    - active: in force and waived ``matched`` results (``targets``: each target it waived);
    - expired: its expiry is before ``now_text``; it waives nothing, and the failures it would have
      waived carry it (``result.waiver`` with state expired) so every format can say so;
    - too_far: it expires more than its day limit after ``now_text``; not applied, carried likewise;
    - too_broad: its target pattern matches more than one target and it does not say ``match: many``;
      not applied, carried likewise (its author did not see every target it would waive);
    - unknown_policy: its policy pattern matches no loaded policy (a typo: ``suggestion`` says which);
    - not_evaluated: its policies were loaded but left out of this run by --select/--skip (never stale);
    - stale: in force, its policies were all evaluated, and it matched no failing result.
    """
    import difflib

    now = parse_time(now_text)
    loaded_ids = list(loaded) if loaded is not None else None
    evaluated_ids = set(evaluated) if evaluated is not None else None
    out: list[dict[str, Any]] = []
    for w in waivers:
        pat = w["policy"].upper()
        state = ACTIVE
        suggestion = None
        pols = None
        if loaded_ids is not None:
            pols = [pid for pid in loaded_ids if fnmatch.fnmatchcase(pid.upper(), pat)]
            if not pols:
                state = UNKNOWN_POLICY
                close = difflib.get_close_matches(pat, [p.upper() for p in loaded_ids], n=1, cutoff=0.6)
                suggestion = close[0] if close else None
            elif evaluated_ids is not None and not any(pid in evaluated_ids for pid in pols):
                state = NOT_EVALUATED
        candidates = [r for r in results if _matches(w, r)] if state == ACTIVE else []
        targets: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for r in candidates:
            key = (r.target_kind, r.target_id)
            if key not in seen:
                seen.add(key)
                targets.append(key)
        if state == ACTIVE:
            if w["_expires"] < now:
                state = EXPIRED
            elif w["_expires"] > now + timedelta(days=w["_limit"]):
                state = TOO_FAR
            elif len(targets) > 1 and w.get("match", "one") != "many":
                state = TOO_BROAD
        info = {"reason": w["reason"], "owner": w["owner"], "expires": w["expires"], "where": w["where"]}
        matched = other = 0
        waived: list[str] = []
        for r in candidates:
            if r.status not in (FAIL, ERROR):
                other += r.status != WAIVED
                continue
            matched += 1
            if state == ACTIVE:
                r.waiver = dict(info, was=r.status, state=ACTIVE)
                r.status = WAIVED
                if r.target_id not in waived:
                    waived.append(r.target_id)
            elif r.waiver is None:
                r.waiver = dict(info, was=r.status, state=state)
        partly_left_out = evaluated_ids is not None and pols is not None and \
            any(pid not in evaluated_ids for pid in pols)
        if state == ACTIVE and matched == 0:
            state = NOT_EVALUATED if partly_left_out else STALE
        entry: dict[str, Any] = {"policy": w["policy"], "target": w["target"], "match": w.get("match", "one"),
                 "reason": w["reason"], "owner": w["owner"], "expires": w["expires"], "state": state,
                 "matched": matched, "other_matches": other, "targets": waived,
                 "max_days": w["_limit"], "where": w["where"]}
        if state == TOO_BROAD:
            entry["matching_targets"] = [t for _, t in targets]
        if state == UNKNOWN_POLICY:
            entry["suggestion"] = suggestion
        out.append(entry)
    return out


def _names(items: Sequence[object], cap: int = MAX_LISTED) -> str:
    shown = ", ".join(str(x) for x in items[:cap])
    return shown + (f" and {len(items) - cap} more" if len(items) > cap else "")


def notes(waiver_states: list[dict[str, Any]]) -> list[str]:
    """One line per waiver that is not simply active on one target (a waiver that waived several
    targets lists them)."""
    lines: list[str] = []
    for w in waiver_states:
        head = f"{w['where']}: waiver {w['policy']} {w['target']} ({w['reason']}; owner {w['owner']})"
        if w["state"] == EXPIRED:
            lines.append(f"{head} expired on {w['expires']} and no longer applies"
                         + (f": {w['matched']} result(s) fail again" if w["matched"] else ""))
        elif w["state"] == TOO_FAR:
            lines.append(f"{head} expires {w['expires']}, more than {w['max_days']} days ahead: not applied "
                         "(shorten it, or raise the limit in the config)")
        elif w["state"] == TOO_BROAD:
            t = w.get("matching_targets") or []
            lines.append(f"{head} matches {len(t)} targets ({_names(t)}): not applied; name one target, "
                         "or add 'match: many' to waive each of them")
        elif w["state"] == UNKNOWN_POLICY:
            hint = f"did you mean '{w['suggestion']}'?" if w.get("suggestion") else \
                "check the id (policies list shows the loaded ones)"
            lines.append(f"{head} names no loaded policy: {hint}")
        elif w["state"] == NOT_EVALUATED:
            lines.append(f"{head} not evaluated this run: its policies were left out by --select/--skip")
        elif w["state"] == STALE:
            why = (f"its {w['other_matches']} matching result(s) no longer fail" if w.get("other_matches")
                   else "it matches no result")
            lines.append(f"{head} is stale: {why}; remove it")
        elif w["state"] == ACTIVE and len(w.get("targets") or ()) > 1:
            lines.append(f"{head} (match: many) waived {len(w['targets'])} targets: {_names(w['targets'])}")
    return lines


def stale(waiver_states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The waivers --strict-waivers refuses: stale ones and those naming no loaded policy (never one
    whose policies were merely left out of this run)."""
    return [w for w in waiver_states if w["state"] in (STALE, UNKNOWN_POLICY)]
