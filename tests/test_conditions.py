"""The condition language: operators, paths, references, three-valued logic, compile errors."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pchelpers import facts_doc

from policycheck.conditions import OPERATORS, CompileError, Ctx, FactPath, compile_condition
from policycheck.facts import Facts
from policycheck.timeutil import parse_time

NOW = parse_time("2026-11-25T06:00:00+00:00")


def run(cond, entity, entities=None, params=None):
    facts = Facts(facts_doc(entities or {}))
    f = compile_condition(cond, ("require",), params or {})
    ctx = Ctx(facts, NOW, entity)
    return f(entity, ctx), ctx.evidence


@pytest.mark.parametrize("op,value,observed,expected", [
    ("equals", 3, 3, True), ("equals", 3, 4, False), ("not_equals", "a", "b", True),
    ("in", ["a", "b"], "a", True), ("in", ["a"], "z", False), ("not_in", ["a"], "z", True),
    ("lt", 3, 2, True), ("lte", 3, 3, True), ("gt", 3, 3, False), ("gte", 3, 3, True),
    ("gt", 3, None, False), ("exists", True, None, False), ("exists", False, None, True),
    ("empty", True, [], True), ("empty", True, None, True), ("empty", False, ["x"], True),
    ("contains", "nfs", ["nfs", "smb"], True), ("contains", "dns", ["nfs"], False),
    ("subset_of", ["a", "b"], ["a"], True), ("subset_of", ["a"], ["a", "c"], False),
    ("matches", "^nsr", "nsr01", True), ("matches", "^nsr", "bk01", False),
    ("within", "26h", "2026-11-24T06:00:01Z", True), ("within", "26h", "2026-11-24T03:00:00Z", False),
    ("within", "26h", "2026-11-25T05:00:00+01:00", True), ("within", "1d", None, False),
    ("count", {"min": 2}, ["a", "b"], True), ("count", {"min": 2}, ["a"], False),
    ("count", {"max": 1}, [], True), ("count", {"min": 1, "max": 2}, ["a", "b", "c"], False),
])
def test_operator_table(op, value, observed, expected):
    assert run({"fact": "x", op: value}, {"id": "t", "x": observed})[0] is expected


def test_every_operator_is_tested_above():
    import inspect
    src = inspect.getsource(test_operator_table)
    for op in OPERATORS:
        assert f'("{op}"' in src, f"operator {op} has no test row"


def test_schema_operator_list_equals_the_table():
    import json

    from policycheck.policy import SCHEMA_FILE
    schema = json.loads(SCHEMA_FILE.read_text())
    leaf_ops = set(schema["$defs"]["leaf"]["properties"]) - {"fact", "default", "message"}
    assert leaf_ops == set(OPERATORS)


def test_missing_fact_is_unknown_never_false():
    r, ev = run({"fact": "nope", "equals": 1}, {"id": "t"})
    assert r is None
    assert "missing fact 'nope'" in ev[0][1].reason


def test_not_of_missing_is_still_unknown():
    assert run({"not": {"fact": "nope", "equals": 1}}, {"id": "t"})[0] is None


def test_kleene_logic():
    t = {"fact": "a", "equals": 1}
    f = {"fact": "a", "equals": 2}
    u = {"fact": "missing", "equals": 1}
    e = {"id": "x", "a": 1}
    assert run({"all": [t, u]}, e)[0] is None
    assert run({"all": [f, u]}, e)[0] is False
    assert run({"any": [t, u]}, e)[0] is True
    assert run({"any": [f, u]}, e)[0] is None
    assert run({"none": [f]}, e)[0] is True


def test_reference_following_and_quantifiers():
    ents = {"device": [{"id": "d1", "local": True}, {"id": "d2", "local": False}],
            "bootstrap": [{"id": "b1", "copies": [{"device": "d1"}, {"device": "d2"}]}]}
    srv = {"id": "s", "latest": "b1"}
    cond = {"for_any": "latest->bootstrap.copies", "require": {"fact": "device->device.local", "equals": False}}
    assert run(cond, srv, ents)[0] is True
    cond_all = {"for_all": "latest->bootstrap.copies", "require": {"fact": "device->device.local", "equals": False}}
    assert run(cond_all, srv, ents)[0] is False
    cond_none = {"for_none": "latest->bootstrap.copies", "require": {"fact": "device->device.local", "equals": True}}
    assert run(cond_none, srv, ents)[0] is False


def test_dangling_reference_is_unknown_with_reason():
    r, ev = run({"fact": "host->host.roles", "equals": []}, {"id": "s", "host": "ghost"}, {"host": []})
    assert r is None and "refers to host 'ghost'" in ev[0][1].reason


def test_null_reference_propagates_null():
    assert run({"fact": "vm->vm.template", "exists": True}, {"id": "h", "vm": None}, {"vm": []})[0] is False


def test_target_prefix_inside_quantifier():
    e = {"id": "s", "limit": 2, "items": [{"n": 1}, {"n": 3}]}
    cond = {"for_all": "items", "require": {"fact": "n", "lte": 2}}
    assert run(cond, e)[0] is False
    assert run({"for_any": "items", "require": {"fact": "@target.limit", "equals": 2}}, e)[0] is True


def test_parameter_reference():
    assert run({"fact": "x", "within": {"param": "age"}}, {"id": "t", "x": "2026-11-24T06:00:00Z"},
               params={"age": "2d"})[0] is True


@pytest.mark.parametrize("cond,message", [
    ({"fact": "x", "equal": 1}, "unknown operator 'equal' (did you mean 'equals'?)"),
    ({"alll": []}, "unknown condition 'alll' (did you mean 'all'?)"),
    ({"fact": "x", "equals": 1, "in": [1]}, "exactly one operator"),
    ({"fact": "x->hots.y", "equals": 1}, "unknown entity kind 'hots' (did you mean 'host'?)"),
    ({"fact": "x", "within": "26 hours"}, "not a duration"),
    ({"fact": "x", "in": "abc"}, "'in' expects array"),
    ({"fact": "x", "matches": "("}, "invalid regular expression"),
    ({"for_any": "x"}, "needs a 'require:'"),
    ({"fact": "x", "within": {"param": "nope"}}, "unknown parameter 'nope'"),
    ({"all": []}, "non-empty list"),
])
def test_compile_errors_are_precise(cond, message):
    with pytest.raises(CompileError) as exc:
        compile_condition(cond, ("require",), {})
    assert message in exc.value.message


def test_fact_path_kinds_recorded():
    p = FactPath("latest_bootstrap->bootstrap.copies", ())
    assert p.kinds == {"bootstrap"} and p.steps == [("latest_bootstrap", "bootstrap"), ("copies", None)]


scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(observed=scalars, value=scalars)
def test_not_equals_is_the_negation_of_equals(observed, value):
    e = {"id": "t", "x": observed}
    a = run({"fact": "x", "equals": value}, e)[0]
    b = run({"fact": "x", "not_equals": value}, e)[0]
    assert a is (not b)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(st.integers(0, 9), max_size=6), k=st.integers(0, 9))
def test_quantifiers_agree_with_python(items, k):
    e = {"id": "t", "xs": [{"v": i} for i in items]}
    leaf = {"fact": "v", "gte": k}
    assert run({"for_any": "xs", "require": leaf}, e)[0] is any(i >= k for i in items)
    assert run({"for_all": "xs", "require": leaf}, e)[0] is all(i >= k for i in items)
    assert run({"for_none": "xs", "require": leaf}, e)[0] is (not any(i >= k for i in items))


tri = st.sampled_from(["t", "f", "u"])


@settings(max_examples=300, deadline=None)
@given(st.lists(tri, min_size=1, max_size=5))
def test_all_any_match_kleene_truth_tables(vals):
    e = {"id": "x", "t": 1, "f": 0}
    conds = [{"fact": v, "equals": 1} for v in vals]  # 'u' is a missing fact
    got_all = run({"all": conds}, e)[0]
    got_any = run({"any": conds}, e)[0]
    exp_all = False if "f" in vals else (None if "u" in vals else True)
    exp_any = True if "t" in vals else (None if "u" in vals else False)
    assert got_all is exp_all and got_any is exp_any
