"""The one operator table: each operator's evaluation (observed, expected, ctx) -> True/False/None,
the JSON Schema of its value, how its value is prepared once at compile time, its meaning, what it
makes of null, and which of its answers still stand on a list that a source knows only in part."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from policycheck.timeutil import parse_duration, parse_time

if TYPE_CHECKING:
    from policycheck.conditions import Ctx

#: an operator's evaluation: (observed, expected, ctx) -> True | False | None (unknown)
OpFn = Callable[[Any, Any, "Ctx"], "bool | None"]
#: (ok, observed, expected) -> the answer that stands on a partly known list (None: none stands)
PartialFn = Callable[["bool | None", Any, Any], "bool | None"]


def _cmp(fn: Callable[[Any, Any], bool]) -> OpFn:
    def op(obs: Any, exp: Any, ctx: Ctx) -> bool | None:
        if obs is None:
            return False
        try:
            return fn(obs, exp)
        except TypeError:
            return None
    return op


def _not(r: bool | None) -> bool | None:
    return None if r is None else not r


def _in(obs: Any, exp: Any) -> bool | None:
    try:
        return obs in exp
    except TypeError:
        return None


def _within(obs: Any, exp: float, ctx: Ctx) -> bool | None:
    if obs is None:
        return False
    try:
        return (ctx.now - parse_time(obs)).total_seconds() <= exp
    except (ValueError, TypeError):
        return None


def _count(obs: Any, exp: dict[str, int], ctx: Ctx) -> bool | None:
    n = 0 if obs is None else len(obs) if isinstance(obs, (list, dict, str)) else None
    if n is None:
        return None
    return exp.get("min", 0) <= n and ("max" not in exp or n <= exp["max"])


def _matches(obs: Any, exp: Any, ctx: Ctx) -> bool:
    return obs is not None and exp.search(str(obs)) is not None


def _subset(obs: Any, exp: Any, ctx: Ctx) -> bool | None:
    if obs is None:
        return True
    if not isinstance(obs, list):
        obs = [obs]
    try:
        return set(obs) <= set(exp)
    except TypeError:
        return None


def _contains(obs: Any, exp: Any, ctx: Ctx) -> bool | None:
    if obs is None:
        return False
    try:
        return exp in obs
    except TypeError:
        return None


def _prep_duration(v: Any) -> float:
    return parse_duration(v)


MAX_PATTERN = 2000


def _prep_regex(v: str) -> Any:
    """Compile with RE2 (linear time: no pattern can hang the gate); Python's ``re`` is never used on
    user-supplied patterns. Patterns RE2 cannot run (backreferences, lookaround) are refused."""
    import re2  # type: ignore[import-untyped]  # google-re2 ships neither stubs nor py.typed

    if len(v) > MAX_PATTERN:
        raise ValueError(f"regular expression longer than {MAX_PATTERN} characters")
    try:
        opts = re2.Options()
        opts.log_errors = False
        return re2.compile(v, opts)
    except Exception as exc:  # re2.error, or TypeError from the binding
        arg = exc.args[0] if exc.args else type(exc).__name__
        msg = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
        raise ValueError(f"invalid regular expression {v!r} for RE2 ({msg}); backreferences and "
                         "lookaround are not supported, so no pattern can run for minutes") from None


def _prep_count(v: Any) -> dict[str, int]:
    if not isinstance(v, dict) or not v or set(v) - {"min", "max"} or not all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v.values()):
        raise ValueError("count takes {min: N, max: N} with non-negative integers (one or both)")
    return v


_ANY: dict[str, Any] = {}
_ARRAY: dict[str, Any] = {"type": "array"}
_NUMTIME: dict[str, Any] = {"type": ["number", "string"]}
_BOOL: dict[str, Any] = {"type": "boolean"}


def _partial_none(ok: bool | None, obs: Any, exp: Any) -> bool | None:
    return None


def _partial_true_stands(ok: bool | None, obs: Any, exp: Any) -> bool | None:
    """Finding more items cannot undo a True (contains, a non-empty list)."""
    return True if ok is True else None


def _partial_false_stands(ok: bool | None, obs: Any, exp: Any) -> bool | None:
    """Finding more items cannot undo a False (an item outside the allowed set)."""
    return False if ok is False else None


def _partial_empty(ok: bool | None, obs: Any, exp: Any) -> bool | None:
    nonempty = obs is not None and hasattr(obs, "__len__") and len(obs) > 0
    return ok if nonempty else None  # a partly known list with items is surely not empty


def _partial_count(ok: bool | None, obs: Any, exp: dict[str, int]) -> bool | None:
    n = len(obs) if isinstance(obs, (list, dict, str)) else 0
    if "max" in exp and n > exp["max"]:
        return False
    if n >= exp.get("min", 0) and "max" not in exp:
        return True
    return None


def _partial_exists(ok: bool | None, obs: Any, exp: Any) -> bool | None:
    return ok if obs is not None else None


class Op(NamedTuple):
    """One row of the operator table."""

    fn: OpFn  # (observed, expected, ctx) -> True | False | None
    schema: dict[str, Any]  # JSON Schema of the operator's value in a policy
    prep: Callable[[Any], Any] | None  # value -> prepared value, once at compile time (ValueError: a located error)
    doc: str  # what "true" means
    null: str  # what the operator makes of a null fact (known to have no value); docs/policies.md
    on_partial: PartialFn  # (ok, observed, expected) -> the answer that stands on a partly known list


#: name -> Op. Null is a value (known: there is none); an ABSENT fact is unknown for every operator
#: (the condition is ``error`` unless it gives ``default:``), which the condition compiler handles.
OPERATORS: dict[str, Op] = {
    "equals": Op(lambda o, e, c: o == e, _ANY, None, "the fact equals the value",
                 "true only for `equals: null`", _partial_none),
    "not_equals": Op(lambda o, e, c: o != e, _ANY, None, "the fact differs from the value",
                     "true unless the value is null", _partial_none),
    "in": Op(lambda o, e, c: _in(o, e), _ARRAY, None, "the fact is one of the listed values",
             "true only when null is listed", _partial_none),
    "not_in": Op(lambda o, e, c: _not(_in(o, e)), _ARRAY, None, "the fact is none of the listed values",
                 "true unless null is listed", _partial_none),
    "lt": Op(_cmp(lambda o, e: o < e), _NUMTIME, None, "the fact is less than the value", "false", _partial_none),
    "lte": Op(_cmp(lambda o, e: o <= e), _NUMTIME, None, "the fact is at most the value", "false", _partial_none),
    "gt": Op(_cmp(lambda o, e: o > e), _NUMTIME, None, "the fact is greater than the value", "false",
             _partial_none),
    "gte": Op(_cmp(lambda o, e: o >= e), _NUMTIME, None, "the fact is at least the value", "false",
              _partial_none),
    "exists": Op(lambda o, e, c: (o is not None) == e, _BOOL, None,
                 "true: the fact is present and not null; false: it is null (an absent fact is unknown: "
                 "error, unless the condition gives `default:`)", "`exists: false` is true", _partial_exists),
    "empty": Op(lambda o, e, c: (o is None or (hasattr(o, "__len__") and len(o) == 0)) == e, _BOOL, None,
                "true: the fact is null or an empty list/string/object", "empty (`empty: true` is true)",
                _partial_empty),
    "contains": Op(_contains, _ANY, None, "the list (or string) fact contains the value",
                   "an empty list: false", _partial_true_stands),
    "subset_of": Op(_subset, _ARRAY, None, "every item of the list fact is one of the listed values",
                    "an empty list: true", _partial_false_stands),
    "matches": Op(_matches, {"type": "string"}, _prep_regex,
                  "the fact matches the regular expression (RE2 syntax, search)", "false", _partial_none),
    "within": Op(_within, {"type": "string"}, _prep_duration,
                 "the time fact is no older than the age (26h, 31d) at the evaluation time",
                 "false (never happened is not recent)", _partial_none),
    "count": Op(_count, {"type": "object"}, _prep_count, "the list fact has between min and max items",
                "an empty list: 0 items", _partial_count),
}
