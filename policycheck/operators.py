"""The one operator table: each operator's evaluation (observed, expected, ctx) -> True/False/None,
the JSON Schema of its value, how its value is prepared once at compile time, and its meaning."""
from __future__ import annotations

import re

from policycheck.timeutil import parse_duration, parse_time


def _cmp(fn):
    def op(obs, exp, ctx):
        if obs is None:
            return False
        try:
            return fn(obs, exp)
        except TypeError:
            return None
    return op


def _not(r):
    return None if r is None else not r


def _in(obs, exp):
    try:
        return obs in exp
    except TypeError:
        return None


def _within(obs, exp, ctx):
    if obs is None:
        return False
    try:
        return (ctx.now - parse_time(obs)).total_seconds() <= exp
    except (ValueError, TypeError):
        return None


def _count(obs, exp, ctx):
    n = 0 if obs is None else len(obs) if isinstance(obs, (list, dict, str)) else None
    if n is None:
        return None
    return exp.get("min", 0) <= n and ("max" not in exp or n <= exp["max"])


def _matches(obs, exp, ctx):
    return obs is not None and exp.search(str(obs)) is not None


def _subset(obs, exp, ctx):
    if obs is None:
        return True
    if not isinstance(obs, list):
        obs = [obs]
    try:
        return set(obs) <= set(exp)
    except TypeError:
        return None


def _contains(obs, exp, ctx):
    if obs is None:
        return False
    try:
        return exp in obs
    except TypeError:
        return None


def _prep_duration(v):
    return parse_duration(v)


def _prep_regex(v):
    try:
        return re.compile(v)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {v!r}: {exc}") from None


def _prep_count(v):
    if not isinstance(v, dict) or not v or set(v) - {"min", "max"} or not all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v.values()):
        raise ValueError("count takes {min: N, max: N} with non-negative integers (one or both)")
    return v


_ANY = {}
_ARRAY = {"type": "array"}
_NUMTIME = {"type": ["number", "string"]}
_BOOL = {"type": "boolean"}

#: name -> (evaluate(observed, expected, ctx) -> bool|None, JSON Schema of the value, prepare, doc)
OPERATORS = {
    "equals": (lambda o, e, c: o == e, _ANY, None, "the fact equals the value"),
    "not_equals": (lambda o, e, c: o != e, _ANY, None, "the fact differs from the value"),
    "in": (lambda o, e, c: _in(o, e), _ARRAY, None, "the fact is one of the listed values"),
    "not_in": (lambda o, e, c: _not(_in(o, e)), _ARRAY, None, "the fact is none of the listed values"),
    "lt": (_cmp(lambda o, e: o < e), _NUMTIME, None, "the fact is less than the value"),
    "lte": (_cmp(lambda o, e: o <= e), _NUMTIME, None, "the fact is at most the value"),
    "gt": (_cmp(lambda o, e: o > e), _NUMTIME, None, "the fact is greater than the value"),
    "gte": (_cmp(lambda o, e: o >= e), _NUMTIME, None, "the fact is at least the value"),
    "exists": (lambda o, e, c: (o is not None) == e, _BOOL, None,
               "true: the fact is present and not null; false: it is absent or null (an error only when a "
               "source reported it unknown or sources disagree)"),
    "empty": (lambda o, e, c: (o is None or (hasattr(o, "__len__") and len(o) == 0)) == e, _BOOL, None,
              "true: the fact is null or an empty list/string/object"),
    "contains": (_contains, _ANY, None, "the list (or string) fact contains the value"),
    "subset_of": (_subset, _ARRAY, None, "every item of the list fact is one of the listed values"),
    "matches": (_matches, {"type": "string"}, _prep_regex, "the fact matches the regular expression"),
    "within": (_within, {"type": "string"}, _prep_duration,
               "the time fact is no older than the age (26h, 31d) at the facts' collection time"),
    "count": (_count, {"type": "object"}, _prep_count, "the list fact has between min and max items"),
}
