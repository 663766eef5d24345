"""The engine: compiled policies over facts give results with evidence. Pure: no I/O, no clock
(ages are measured against the facts' collection time)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from policycheck.conditions import Ctx
from policycheck.derive import DERIVED_FROM
from policycheck.facts import gc_paused
from policycheck.results import ERROR, FAIL, PASS, SKIP, Result, describe_failure
from policycheck.timeutil import parse_time

if TYPE_CHECKING:
    from policycheck.facts import Facts
    from policycheck.policy import Policy


def touched_kinds(policy: Policy, derived_from: dict[tuple[str, str], set[str]] | None = None) -> set[str]:
    """Entity kinds whose facts a policy's verdict depends on (directly, through references, or
    through derived attributes: ``derived_from`` is the registry's table, the core's by default)."""
    table = DERIVED_FROM if derived_from is None else derived_from
    kinds = set(policy.kinds)
    for attr in policy.attrs:
        kinds |= table.get((policy.target, attr), set())
    return kinds


def evaluate(policies: Iterable[Policy], facts: Facts) -> list[Result]:
    """Evaluate every compiled policy over ``facts`` (a :class:`policycheck.facts.Facts`)."""
    with gc_paused():  # results hold no cycles; the GC would otherwise rescan the whole facts heap
        return _evaluate(policies, facts)


def _evaluate(policies: Iterable[Policy], facts: Facts) -> list[Result]:
    now = parse_time(facts.as_of or facts.collected_at)
    failed = facts.failed_sources()
    table = getattr(facts, "derived_from", None)
    results: list[Result] = []
    append = results.append
    ctx = Ctx(facts, now, None)  # one for the run, its target and evidence set for each target
    for pol in policies:
        bad: list[dict[str, Any]] = []
        if failed:
            kinds = touched_kinds(pol, table)
            bad = [s for s in failed if set(s.get("kinds") or ()) & kinds or not s.get("kinds")]
        bad_note = ""
        if bad:
            bad_note = "; ".join(f"source {s['name']} failed: {s.get('error') or 'unknown error'}" for s in bad)
        when_fn, require_fn, target = pol.when_fn, pol.require_fn, pol.target
        if require_fn is None:  # a programming error: Policy.compile() makes it
            raise RuntimeError(f"policy {pol.id} is evaluated before compile()")
        for ent in facts.entities(target):
            ctx.target = ent
            ctx.evidence = []  # a new list per target: its result keeps it
            if when_fn is not None:
                w = when_fn(ent, ctx)
                if w is False:
                    append(Result(pol, target, ent["id"], SKIP,
                                  "not applicable: " + describe_failure(ctx.evidence, False), ctx.evidence, ent))
                    continue
                if w is None:
                    append(Result(pol, target, ent["id"], ERROR,
                                  "cannot tell whether the policy applies: " + describe_failure(ctx.evidence),
                                  ctx.evidence, ent))
                    continue
                ctx.evidence = []
            r = require_fn(ent, ctx)
            if r is True and not bad:  # the commonest outcome first
                append(Result(pol, target, ent["id"], PASS, "", ctx.evidence, ent))
            elif r is True:
                append(Result(pol, target, ent["id"], ERROR, f"passed on the facts available, but {bad_note}",
                              ctx.evidence, ent))
            elif r is False:
                append(Result(pol, target, ent["id"], FAIL, describe_failure(ctx.evidence, False), ctx.evidence, ent))
            else:
                msg = describe_failure(ctx.evidence) or "facts missing"
                if bad and bad_note not in msg:
                    msg += f" ({bad_note})"
                append(Result(pol, target, ent["id"], ERROR, msg, ctx.evidence, ent))
        for s in bad:
            append(Result(pol, "source", s["name"], ERROR,
                          f"source {s['name']} ({s.get('plugin', '?')}) failed: {s.get('error') or 'unknown error'};"
                          f" its {', '.join(sorted(set(s.get('kinds') or ()) & touched_kinds(pol, table))) or 'facts'}"
                          " may be incomplete", []))
    return results
