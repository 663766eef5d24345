"""The facts-model check of entities (model.check_entities): the shape-cached fast path reports exactly
what the per-value slow path says, in the entity's order, and never crashes on an odd item."""
from __future__ import annotations

import copy

from policycheck.model import check_entities

T = "2026-11-24T22:10:00+01:00"


def _boot(copies: list) -> dict:
    return {"bootstrap": [{"id": "b", "backup_server": "s", "time": T, "copies": copies}]}


def test_empty_item_object_is_valid_not_a_crash() -> None:
    # the former fast predicate of an object raised UnboundLocalError on {}
    assert check_entities(_boot([{}])) == []


def test_unknown_of_an_item_must_be_an_object_wherever_it_stands() -> None:
    # formerly only checked when `_unknown` was the item's last key
    probs = check_entities(_boot([{"_unknown": 5, "clone": True}]))
    assert probs == [(("entities", "bootstrap", 0, "copies", 0, "_unknown"), "must be an object {attribute: reason}")]


def test_problems_in_entity_order_after_a_clean_entity_of_the_same_shape() -> None:
    good = {"id": "h1", "roles": ["db"], "aliases": ["a"], "os": "linux", "_unknown": {"vm": "why"}}
    bad = {"id": "h2", "roles": ["db", 3], "aliases": ["a", 1], "os": "vm", "_unknown": {"vm": 1}}
    probs = check_entities({"host": [good, {**copy.deepcopy(good), "id": "h0"}, bad]})
    assert [p for p, _ in probs] == [("entities", "host", 2, "roles", 1), ("entities", "host", 2, "aliases"),
                                     ("entities", "host", 2, "os"), ("entities", "host", 2, "_unknown")]
    assert probs[0][1] == "is a number; expected a string"


def test_null_list_and_time_without_offset() -> None:
    probs = check_entities({"client": [{"id": "c", "latest_backup_copies": None, "last_bmr_backup": "2026-11-24T22:10:00"},
                                       {"id": "d", "latest_backup_copies": [], "last_bmr_backup": None}]})
    assert [p for p, _ in probs] == [("entities", "client", 0, "latest_backup_copies"),
                                     ("entities", "client", 0, "last_bmr_backup")]
    assert "without a UTC offset" in probs[1][1]


def test_same_shape_different_values_each_checked() -> None:
    ents = [{"id": f"t{i}", "host": "h", "time": T, "result": "success", "kind": "k"} for i in range(3)]
    ents[2]["result"] = "passed"
    probs = check_entities({"dr_test": ents})
    assert probs == [(("entities", "dr_test", 2, "result"),
                      "is \"passed\"; expected one of success, failure (did you mean 'success'?)")]
