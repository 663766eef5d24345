"""The compiled fast path of a leaf (conditions._leaf_judge) gives exactly what the general walk
(Leaf.__call__) gives: the verdict, and every evidence item with its observed value or missing reason and
its owner, over items of every shape a collector can hand over (absent, null, list, unknown, partial,
conflicting, dangling references)."""
from hypothesis import given, settings
from hypothesis import strategies as st
from pchelpers import facts_doc

from policycheck.conditions import Ctx, Leaf, _leaf_judge, compile_condition
from policycheck.facts import Facts
from policycheck.missing import Missing
from policycheck.timeutil import parse_time

NOW = parse_time("2026-11-25T06:00:00+00:00")

#: leaves of the three shapes the fast path knows (attr, attr->kind.attr, anything else with a default)
CONDITIONS = [
    {"fact": "x", "equals": 1},
    {"fact": "x", "equals": 1, "default": 1},
    {"fact": "x", "empty": False},
    {"fact": "x", "within": "26h"},
    {"fact": "x", "exists": True},
    {"fact": "r->vm.y", "equals": 1},
    {"fact": "r->vm.y", "equals": 1, "default": 1},
    {"fact": "r->vm.y", "exists": False},
    {"fact": "r->vm.y", "empty": True},
    {"fact": "x.z", "equals": 1, "default": 1},
    {"fact": "@target.x", "equals": 1},
]

VALUES = st.one_of(st.just(1), st.just(2), st.none(), st.just([]), st.just([1]), st.just("s"),
                   st.just("2026-11-25T01:00:00Z"), st.just({"z": 1}), st.just([{"z": 1}]))
REFS = st.one_of(st.just("v1"), st.just("v-unknown"), st.none(), st.just(["v1"]), st.just(3), st.just([]))
MARKS = st.sets(st.sampled_from(["x", "r", "y"]))


def _entity(draw_value, ref, partial, unknown, conflicts, with_x, with_r):
    e = {"id": "t"}
    if with_x:
        e["x"] = draw_value
    if with_r:
        e["r"] = ref
    if partial:
        e["_partial"] = {k: "seen in part" for k in partial}
    if unknown:
        e["_unknown"] = {k: "a source said so" for k in unknown}
    if conflicts:
        e["_conflicts"] = {k: [{"value": 1, "source": "a"}, {"value": 2, "source": "b"}] for k in conflicts}
    return e


def _norm(evidence):
    out = []
    for leaf, obs, owner, ok in evidence:
        shown = ("missing", obs.reason, obs.explicit) if obs.__class__ is Missing else ("value", repr(obs))
        out.append((id(leaf), shown, id(owner), ok))
    return out


@settings(max_examples=300, deadline=None)
@given(value=VALUES, ref=REFS, partial=MARKS, unknown=MARKS, conflicts=MARKS, with_x=st.booleans(),
       with_r=st.booleans(), y=VALUES, with_y=st.booleans(), y_partial=st.booleans(), y_unknown=st.booleans())
def test_the_fast_path_answers_as_the_general_walk(value, ref, partial, unknown, conflicts, with_x, with_r,
                                                   y, with_y, y_partial, y_unknown):
    vm = {"id": "v1"}
    if with_y:
        vm["y"] = y
    if y_partial:
        vm["_partial"] = {"y": "seen in part"}
    if y_unknown:
        vm["_unknown"] = {"y": "a source said so"}
    facts = Facts(facts_doc({"vm": [vm], "host": []}))
    item = _entity(value, ref, partial, unknown, conflicts, with_x, with_r)
    for cond in CONDITIONS:
        compiled = compile_condition(cond, ("require",), {})
        leaf = getattr(compiled, "__self__", None) or compiled
        if not isinstance(leaf, Leaf):  # the fast closure: rebuild the leaf it stands for
            leaf = _the_leaf(cond)
        fast = _leaf_judge(leaf)
        a, b = Ctx(facts, NOW, item), Ctx(facts, NOW, item)
        got, want = fast(item, a), leaf(item, b)
        assert (got, _norm(a.evidence)) == (want, _norm(b.evidence)), (cond, item, vm)


def _the_leaf(cond):
    from policycheck.conditions import _compile_leaf

    return _compile_leaf(cond, ("require",), {})


def test_the_fast_path_is_what_compiling_a_plain_leaf_gives():
    compiled = compile_condition({"fact": "x", "equals": 1}, ("require",), {})
    assert not isinstance(compiled, Leaf)  # a closure, not the Leaf: the case the test above covers
    ctx = Ctx(Facts(facts_doc({})), NOW, {"id": "t", "x": 1})
    assert compiled({"id": "t", "x": 1}, ctx) is True and ctx.evidence[0][1] == 1
