"""The condition language's additions (issue 17): another fact as an operand, reverse references
(KIND<-ATTR) and ``latest``; each fails closed like the other operators (absent or unknown: error, a list
seen in part: error unless an item decides)."""
import pytest
from pchelpers import facts_doc

from policycheck.conditions import CompileError, Ctx, Missing, compile_condition
from policycheck.explain import _node
from policycheck.facts import Facts
from policycheck.model import ModelChecker
from policycheck.results import describe_failure
from policycheck.timeutil import parse_time

NOW = parse_time("2026-11-25T06:00:00+00:00")
OK = [{"name": "nw", "plugin": "networker", "status": "ok", "kinds": ["backup_server", "bootstrap", "client"]}]


def run(cond, entity, entities=None, sources=OK, incomplete=None):
    doc = facts_doc(entities or {}, sources=sources)
    if incomplete:
        doc["incomplete"] = incomplete
    facts = Facts(doc)
    f = compile_condition(cond, ("require",), {})
    target = facts.get("backup_server", entity) if isinstance(entity, str) else entity
    ctx = Ctx(facts, NOW, target)
    return f(target, ctx), ctx.evidence


def why(evidence):
    return describe_failure(evidence)


# ---- another fact as the operand ------------------------------------------------------------------
@pytest.mark.parametrize("op,a,b,expected", [
    ("lt", "2026-11-24T10:00:00+02:00", "2026-11-24T09:00:00Z", True),  # instants, not strings
    ("gt", "2026-11-24T10:00:00+02:00", "2026-11-24T09:00:00Z", False),
    ("equals", "2026-11-24T10:00:00+02:00", "2026-11-24T08:00:00Z", True),
    ("not_equals", "a", "b", True), ("gte", 3, 3, True), ("lte", 4, 3, False),
    ("lt", None, "2026-11-24T09:00:00Z", False), ("gt", "2026-11-24T09:00:00Z", None, False),  # null: false
    ("equals", None, None, True), ("lt", 3, "x", None),  # mismatched types: unknown
])
def test_a_fact_compared_with_another(op, a, b, expected):
    r, ev = run({"fact": "a", op: {"fact": "b"}}, {"id": "t", "a": a, "b": b})
    assert r is expected


def test_the_other_fact_absent_or_unknown_is_unknown():
    r, ev = run({"fact": "a", "lt": {"fact": "b"}}, {"id": "t", "a": 1})
    assert r is None and "missing fact 'b'" in why(ev)
    r, ev = run({"fact": "a", "lt": {"fact": "b"}}, {"id": "t", "a": 1, "_unknown": {"b": "vault locked"}})
    assert r is None and "vault locked" in why(ev)
    r, ev = run({"fact": "a", "lt": {"fact": "b"}}, {"id": "t", "b": 1})
    assert r is None and "missing fact 'a'" in why(ev)
    # a default stands for an absent fact, never for an unknown other
    assert run({"fact": "a", "lt": {"fact": "b"}, "default": 0}, {"id": "t", "b": 1})[0] is True
    assert run({"fact": "a", "lt": {"fact": "b"}, "default": 0}, {"id": "t"})[0] is None


def test_the_other_fact_read_in_part_is_unknown():
    e = {"id": "t", "a": ["x"], "b": ["x", "y"], "_partial": {"b": "page 2 failed"}}
    r, ev = run({"fact": "a", "equals": {"fact": "b"}}, e)
    assert r is None and "page 2 failed" in why(ev)


def test_the_other_fact_from_the_target():
    ents = {"client": [{"id": "c1", "backup_server": "s", "last": "2026-11-24T00:00:00Z"}],
            "backup_server": [{"id": "s", "since": "2026-11-20T00:00:00Z"}]}
    cond = {"for_all": "client<-backup_server", "require": {"fact": "last", "gt": {"fact": "@target.since"}}}
    assert run(cond, "s", ents)[0] is True
    ents["backup_server"][0]["since"] = "2026-11-25T00:00:00Z"
    r, ev = run(cond, "s", ents)
    assert r is False and "expected gt the fact @target.since" in why(ev)


def test_a_fact_operand_only_where_it_compares():
    with pytest.raises(CompileError, match="compared with equals, not_equals, lt"):
        compile_condition({"fact": "a", "in": {"fact": "b"}}, ("require",), {})
    with pytest.raises(CompileError, match="bad fact path"):
        compile_condition({"fact": "a", "lt": {"fact": "b..c"}}, ("require",), {})


# ---- reverse references ---------------------------------------------------------------------------
ENTS = {"backup_server": [{"id": "s"}, {"id": "t", "aliases": ["t.corp"]}],
        "client": [{"id": "c1", "backup_server": "s"}, {"id": "c2", "backup_server": "s"},
                   {"id": "c3", "backup_server": "t.corp"}]}


def test_reverse_reference_lists_the_entities_that_point_here():
    r, ev = run({"fact": "client<-backup_server", "count": {"min": 2}}, "s", ENTS)
    assert r is True and [c["id"] for c in ev[0][1]] == ["c1", "c2"]
    r, ev = run({"fact": "client<-backup_server", "count": {"min": 1}}, "t", ENTS)  # by an alias too
    assert r is True and [c["id"] for c in ev[0][1]] == ["c3"]


def test_reverse_reference_fails_closed():
    cond = {"fact": "client<-backup_server", "empty": True}
    failed = [{"name": "nw", "plugin": "networker", "status": "error", "error": "timeout", "kinds": ["client"]}]
    r, ev = run(cond, "s", ENTS, sources=failed)
    assert r is None and "timeout" in why(ev)
    r, ev = run(cond, "s", {"backup_server": [{"id": "s"}]}, sources=[])
    assert r is None and "no source describes any client" in why(ev)
    ents = {**ENTS, "client": ENTS["client"] + [{"id": "c9", "_unknown": {"backup_server": "not readable"}}]}
    r, ev = run(cond, "s", ents)
    assert r is None and "client c9: not readable" in why(ev)
    r, ev = run(cond, "s", ENTS, incomplete=[{"kind": "client", "backup_server": "s", "source": "nw",
                                              "reason": "3 clients unreadable"}])
    assert r is None and "3 clients unreadable" in why(ev)


def test_quantifier_over_a_reverse_reference_names_the_item():
    ents = {"backup_server": [{"id": "s"}],
            "client": [{"id": "c1", "backup_server": "s", "ok": True}, {"id": "c2", "backup_server": "s", "ok": False}]}
    r, ev = run({"for_all": "client<-backup_server", "require": {"fact": "ok", "equals": True}}, "s", ents)
    assert r is False
    assert why(ev) == ("client<-backup_server: every item passes is not met (2 items); e.g. ok is false, "
                       "expected equals true (on c2)")


# ---- latest ---------------------------------------------------------------------------------------
def _boots(*times, **extra):
    return {"backup_server": [{"id": "s"}],
            "bootstrap": [{"id": f"b{i}", "backup_server": "s", "time": t, **extra} for i, t in enumerate(times)]}


LATEST = {"latest": "bootstrap<-backup_server", "by": "time", "require": {"fact": "time", "within": "26h"}}


def test_latest_takes_the_item_with_the_latest_time_as_instants():
    # b1 reads later as a string but is earlier as an instant
    r, ev = run(LATEST, "s", _boots("2026-11-25T01:00:00Z", "2026-11-25T04:00:00+05:00"))
    assert r is True and ev[0][0].items[0]["id"] == "b0"
    r, ev = run(LATEST, "s", _boots("2026-11-20T01:00:00Z", "2026-11-25T01:00:00Z"))
    assert r is True
    r, ev = run(LATEST, "s", _boots("2026-11-25T01:00:00Z", "2026-11-20T01:00:00Z"))  # order does not matter
    assert r is True


def test_latest_fails_on_an_old_latest_item_naming_it():
    r, ev = run(LATEST, "s", _boots("2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z"))
    assert r is False
    assert why(ev) == ("the latest of bootstrap<-backup_server by time is b1 (of 2): time is 2026-11-21T01:00:00Z, "
                       "expected within 26h")


def test_latest_of_nothing_is_false():
    r, ev = run(LATEST, "s", _boots())
    assert r is False
    assert why(ev) == "bootstrap<-backup_server has no item (expected the latest item by time passes)"


def test_latest_with_an_unreadable_or_missing_field_is_unknown():
    r, ev = run(LATEST, "s", _boots("2026-11-25T01:00:00Z", "yesterday"))
    assert r is None and "b1 has an unreadable time 'yesterday'" in why(ev)
    ents = _boots("2026-11-25T01:00:00Z")
    ents["bootstrap"].append({"id": "bx", "backup_server": "s", "_unknown": {"time": "catalog offline"}})
    r, ev = run(LATEST, "s", ents)
    assert r is None and "bx: catalog offline" in why(ev)


def test_latest_of_a_list_seen_in_part_or_unknown_is_unknown():
    e = {"id": "x", "tests": [{"time": "2026-11-25T01:00:00Z"}], "_partial": {"tests": "page 2 failed"}}
    cond = {"latest": "tests", "by": "time", "require": {"fact": "time", "within": "26h"}}
    r, ev = run(cond, e)
    assert r is None and "page 2 failed" in why(ev)
    r, ev = run(cond, {"id": "x", "_unknown": {"tests": "no access"}})
    assert r is None and "no access" in why(ev)
    r, ev = run(cond, {"id": "x"})
    assert r is None and "missing fact 'tests'" in why(ev)


def test_latest_by_a_number_and_a_mixed_list():
    cond = {"latest": "xs", "by": "n", "require": {"fact": "v", "equals": "top"}}
    assert run(cond, {"id": "x", "xs": [{"n": 1, "v": "low"}, {"n": 5, "v": "top"}, {"n": 5, "v": "tie"}]})[0] is True
    r, ev = run(cond, {"id": "x", "xs": [{"n": 1, "v": "a"}, {"n": "2026-11-25T01:00:00Z", "v": "b"}]})
    assert r is None and "mixes times and numbers" in why(ev)


def test_latest_compile_errors():
    for cond, msg in (({"latest": "xs", "require": {"fact": "v", "exists": True}}, "needs by: FIELD"),
                      ({"latest": "xs", "by": "time"}, "needs a 'require:'"),
                      ({"latest": "xs", "by": "time", "require": {"fact": "v", "exists": True}, "bye": 1},
                       "not 'bye'"),
                      ({"for_any": "xs", "by": "time", "require": {"fact": "v", "exists": True}}, "unknown condition 'by'")):
        with pytest.raises(CompileError, match=msg):
            compile_condition(cond, ("require",), {})


def test_model_checker_knows_reverse_references_and_latest():
    class P:
        target = "backup_server"
        when = None
        require = {"latest": "bootstrap<-backup_server", "by": "time", "require": {"fact": "copies", "empty": False}}
    assert ModelChecker().check(P()) == []
    P.require = {"latest": "bootstrap<-backup_server", "by": "tim", "require": {"fact": "copies", "empty": False}}
    assert "has no attribute 'tim'" in ModelChecker().check(P())[0][1]
    P.require = {"fact": "bootstrap<-host", "empty": True}
    assert "has no attribute 'host'" in ModelChecker().check(P())[0][1]
    P.require = {"fact": "device<-host", "empty": True}  # device.host refers to a host, not a backup server
    assert "refers to host, not to a backup_server" in ModelChecker().check(P())[0][1]
    P.require = {"fact": "last_dr_test", "lt": {"fact": "latst_bootstrap"}}
    assert "has no attribute 'latst_bootstrap'" in ModelChecker().check(P())[0][1]


def test_explain_shows_the_latest_item():
    facts = Facts(facts_doc(_boots("2026-11-20T01:00:00Z", "2026-11-25T01:00:00Z"), sources=OK))
    s = facts.get("backup_server", "s")
    v, tree = _node(LATEST, ("require",), s, Ctx(facts, NOW, s), {})
    assert v is True and tree["node"] == "latest" and tree["items"][0]["item"] == "b1"
    from policycheck.explain import _text_node
    out = []
    _text_node(tree, 0, out)
    assert out[0].startswith("✓ latest bootstrap<-backup_server (2 item(s); the latest item by time passes): true")
    assert out[1].strip() == "latest item b1: true"
    facts = Facts(facts_doc(_boots("2026-11-20T01:00:00Z", "soon"), sources=OK))
    s = facts.get("backup_server", "s")
    v, tree = _node(LATEST, ("require",), s, Ctx(facts, NOW, s), {})
    assert v is None and "unreadable time" in tree["why"]


def test_missing_is_never_false_for_the_new_forms():
    for cond in (LATEST, {"fact": "bootstrap<-backup_server", "empty": False},
                 {"fact": "nope", "lt": {"fact": "time"}}):
        r, ev = run(cond, "s", _boots("2026-11-25T01:00:00Z"), sources=[
            {"name": "nw", "status": "error", "error": "down", "kinds": ["bootstrap"]}])
        assert r is None and any(isinstance(e[1], Missing) for e in ev)
