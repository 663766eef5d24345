"""``policycheck explain POLICY TARGET``: how one verdict was reached, as a tree.

Pure (no I/O, no clock): the one policy is evaluated again on the one target, walking its condition
tree node by node with the compiled leaves the engine uses, but without short-circuiting, so every
condition shows its value (true, false or unknown with the reason), every fact read its value, source
and observation time, every quantifier each item it ranged over. The engine's own verdict for the
target is reported beside the tree (the two agree: the same Kleene logic, see conditions.py), with
the parameter values in force and where each came from, and every waiver that was considered."""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from policycheck.conditions import (
    QUANTIFIERS,
    Ctx,
    FactPath,
    Missing,
    QuantLeaf,
    _resolve,
    compile_condition,
    describe,
    suggest,
)
from policycheck.errors import UsageError
from policycheck.results import evidence_dict
from policycheck.timeutil import parse_time

if TYPE_CHECKING:
    from policycheck.conditions import Entity, JPath, Leaf
    from policycheck.derivations import Derivation
    from policycheck.facts import Facts
    from policycheck.policy import Policy
    from policycheck.results import Result

#: (value, tree) of one condition node: true, false or None (unknown), and its JSON-ready explanation
Explained = tuple["bool | None", dict[str, Any]]

MAX_ITEMS = 50  # items of a quantifier shown in full; the rest are counted


class ExplainError(UsageError):
    """No such target for the policy (the CLI turns it into exit 2)."""


def _value_word(v: bool | None) -> str:
    return {True: "true", False: "false", None: "unknown"}[v]


def _leaf(node: dict[str, Any], jpath: JPath, item: Any, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    fn = compile_condition(node, jpath, params)
    ctx.evidence = []
    ok = fn(item, ctx)
    leaf, observed, owner, _ = ctx.evidence[-1]
    ev = evidence_dict((leaf, observed, owner, ok))
    out: dict[str, Any] = {"node": "fact", "path": _jp(jpath), "value": _value_word(ok), "fact": ev["fact"],
           "expected": ev["expected"], "observed": ev.get("observed"),
           "entity": ev.get("entity"), "source": ev.get("source"), "observed_at": ev.get("observed_at")}
    if isinstance(observed, Missing):
        out["why"] = observed.reason
        out["observed"] = None
        if leaf.has_default and not observed.explicit:
            out["default_used"] = True
    elif leaf.has_default and ok is not None and _absent(item, ctx, leaf):
        out["default_used"] = True
        out["why"] = f"'{leaf.path.text}' is absent; the policy's default {describe(leaf.default)} is used"
    if ok is False and getattr(leaf, "message", None):
        out["message"] = leaf.message
    return out


def _absent(item: Any, ctx: Ctx, leaf: Leaf) -> bool:
    root = ctx.target if leaf.path.from_target else item
    obs, _ = _resolve(root, leaf.path.steps, 0, root, ctx.facts, leaf.path.text)
    return isinstance(obs, Missing)


def _jp(jpath: Iterable[Any]) -> str:
    out = ""
    for p in jpath:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _kleene(head: str, values: list[bool | None]) -> bool | None:
    if head == "all":
        return False if False in values else (None if None in values else True)
    any_ = True if True in values else (None if None in values else False)
    if head == "any":
        return any_
    return None if any_ is None else not any_  # none


def _node(node: dict[str, Any], jpath: JPath, item: Any, ctx: Ctx, params: dict[str, Any]) -> Explained:
    """(value, tree) of one condition node, every child evaluated."""
    if "fact" in node:
        t = _leaf(node, jpath, item, ctx, params)
        return {"true": True, "false": False, "unknown": None}[t["value"]], t
    if "latest" in node:
        return _latest(node, jpath, item, ctx, params)
    head = next(k for k in node if k != "require")
    body = node[head]
    if head == "not":
        v, child = _node(body, jpath + ("not",), item, ctx, params)
        v = None if v is None else not v
        return v, {"node": "not", "path": _jp(jpath), "value": _value_word(v), "children": [child]}
    if head in QUANTIFIERS:
        return _quantifier(head, node, jpath, item, ctx, params)
    values: list[bool | None] = []
    children: list[dict[str, Any]] = []
    for i, c in enumerate(body):
        v, t = _node(c, jpath + (head, i), item, ctx, params)
        values.append(v)
        children.append(t)
    v = _kleene(head, values)
    tree: dict[str, Any] = {"node": head, "path": _jp(jpath), "value": _value_word(v), "children": children}
    if head == "any" and v is not True:
        tree["why"] = ("no branch holds" if v is False else "no branch holds and some cannot be decided")
    elif head == "all" and v is not True:
        bad = [c["path"] for c, x in zip(children, values, strict=True) if x is not True]
        tree["why"] = ("fails at " if v is False else "undecided at ") + ", ".join(bad)
    return v, tree


def _quantifier(head: str, node: dict[str, Any], jpath: JPath, item: Any, ctx: Ctx, params: dict[str, Any]
                ) -> Explained:
    path = FactPath(node[head], jpath + (head,))
    root = ctx.target if path.from_target else item
    items, owner = _resolve(root, path.steps, 0, root, ctx.facts, path.text)
    ql = QuantLeaf(head, path)
    tree: dict[str, Any] = {"node": head, "path": _jp(jpath), "fact": path.text, "expected": ql.expected_text(),
            "entity": owner.get("id") if isinstance(owner, dict) else None}
    if isinstance(items, Missing):
        tree.update(value="unknown", why=items.reason, items=[])
        return None, tree
    if items is None:
        items = []
    if not isinstance(items, list):
        items = [items]
    want = head != "for_all"
    values: list[bool | None] = []
    shown: list[dict[str, Any]] = []
    for n, it in enumerate(items):
        v, t = _node(node["require"], jpath + ("require",), it, ctx, params)
        values.append(v)
        if n < MAX_ITEMS:
            shown.append({"item": it.get("id") if isinstance(it, dict) and "id" in it else describe(it, 120),
                          "value": _value_word(v), "condition": t})
    if want in values:
        res = head == "for_any"
    elif None in values:
        res = None
    else:
        res = head != "for_any"
    part = owner.get("_partial") if isinstance(owner, dict) else None
    part = part.get(path.steps[-1][0]) if part else None
    tree.update(observed=len(items), items=shown)
    if len(items) > MAX_ITEMS:
        tree["items_not_shown"] = len(items) - MAX_ITEMS
    if part and res is not None and want not in values:
        res = None
        tree["why"] = (f"'{path.text}' is only partly known on {owner.get('id', '?')} ({part}): {len(items)} "
                       f"item(s) seen, so '{ql.expected_text()}' cannot be decided")
    elif res is None:
        tree["why"] = "some items cannot be decided and none decides"
    tree["value"] = _value_word(res)
    return res, tree


def _latest(node: dict[str, Any], jpath: JPath, item: Any, ctx: Ctx, params: dict[str, Any]) -> Explained:
    """``latest``: the list, the item chosen by its ``by`` field, and the condition on it."""
    from policycheck.conditions import latest_item

    path = FactPath(node["latest"], jpath + ("latest",))
    by = node["by"]
    root = ctx.target if path.from_target else item
    items, owner = _resolve(root, path.steps, 0, root, ctx.facts, path.text)
    ql = QuantLeaf("latest", path, by)
    tree: dict[str, Any] = {"node": "latest", "path": _jp(jpath), "fact": path.text, "by": by, "expected": ql.expected_text(),
            "entity": owner.get("id") if isinstance(owner, dict) else None}
    if isinstance(items, Missing):
        tree.update(value="unknown", why=items.reason, items=[])
        return None, tree
    items = [] if items is None else items if isinstance(items, list) else [items]
    part = (owner.get("_partial") or {}).get(path.steps[-1][0]) if isinstance(owner, dict) else None
    best, why = latest_item(items, by)
    if part or why:
        why = why or f"'{path.text}' is only partly known on {owner.get('id', '?')} ({part})"
        tree.update(value="unknown", why=why, observed=len(items), items=[])
        return None, tree
    if best is None:
        tree.update(value="false", why="there is no item", observed=0, items=[])
        return False, tree
    v, t = _node(node["require"], jpath + ("require",), best, ctx, params)
    tree.update(value=_value_word(v), observed=len(items),
                items=[{"item": best.get("id") or describe(best, 120), "value": _value_word(v), "condition": t}])
    return v, tree


def find_target(facts: Facts, policy: Policy, target_id: str) -> Entity:
    """The target entity ``target_id`` names (an id or an alias), or ExplainError with a suggestion."""
    ent: Entity | None = facts.get(policy.target, target_id)
    if ent is None:
        ids = [e["id"] for e in facts.entities(policy.target)]
        raise ExplainError(f"no {policy.target} '{target_id}' in the facts" + suggest(target_id, ids)
                           + f" ({policy.id} judges {policy.target}s: {', '.join(ids[:10]) or 'none'}"
                           + (", ..." if len(ids) > 10 else "") + ")")
    return ent


def explain(policy: Policy, facts: Facts, target_id: str, result: Result | None = None,
            origins: dict[tuple[str, str | None], str] | None = None,
            waivers: Iterable[dict[str, Any]] | None = None, clock: dict[str, Any] | None = None) -> dict[str, Any]:
    """The evaluation of ``policy`` on the target ``target_id`` as a JSON-ready tree.

    ``result``: the engine's :class:`~policycheck.results.Result` for this target (after waivers);
    ``origins``: {(policy id, name): where a parameter value was given} (config line, --param);
    ``waivers``: the waiver states apply_waivers returned for this run (those concerning this
    policy and target are listed); ``clock``: the report clock dict (time and where it came from)."""
    ent = find_target(facts, policy, target_id)
    now = parse_time(facts.as_of or facts.collected_at)
    ctx = Ctx(facts, now, ent)
    params = policy.values
    origins = origins or {}
    out: dict[str, Any] = {"policy": {"id": policy.id, "title": policy.title, "severity": policy.severity,
                      "target": policy.target, "file": str(policy.path)},
           "target": {"kind": policy.target, "id": ent["id"], "sources": list(ent.get("_sources") or []),
                      "observed_at": ent.get("_observed_at")},
           "evaluated_at": clock or {"time": facts.as_of or facts.collected_at,
                                     "source": "as_of" if facts.as_of else "collected_at", "where": None},
           "parameters": []}
    specs = {p.name: p for p in policy.parameters}
    for name, value in params.items():
        where = origins.get((policy.id, name))
        given = where is not None or (specs.get(name) is not None and value != specs[name].default)
        out["parameters"].append({"name": name, "value": value,
                                  "from": where or ("configuration" if given else "default"),
                                  "default": specs[name].default if name in specs else None})
    applies: bool | None = True
    if policy.when:
        v, tree = _node(policy.when, ("when",), ent, ctx, params)
        out["when"] = tree
        applies = v
    if applies is True:
        v, tree = _node(policy.require, ("require",), ent, ctx, params)
        out["require"] = tree
        status = {True: "pass", False: "fail", None: "error"}[v]
    else:
        status = "skip" if applies is False else "error"
    out["tree_status"] = status
    if result is not None:
        out["status"] = result.status
        out["message"] = result.message
        if result.waiver:
            out["waiver"] = result.waiver
        if result.status == "error" and status == "pass":
            out["why_error"] = result.message  # a failed source that feeds this policy
    else:
        out["status"] = status
    out["waivers_considered"] = [w for w in (waivers or ()) if _concerns(w, policy.id, ent)]
    return out


def _concerns(w: dict[str, Any], pid: str, ent: Entity) -> bool:
    import fnmatch

    if not fnmatch.fnmatchcase(pid.upper(), str(w.get("policy", "")).upper()):
        return False
    pat = str(w.get("target", "")).lower()
    names = [ent["id"]] + [a for a in ent.get("aliases") or () if isinstance(a, str)]
    return any(fnmatch.fnmatchcase(str(n).lower(), pat) for n in names)


# ---- text -----------------------------------------------------------------------------------------
MARK = {"true": "✓", "false": "✗", "unknown": "?"}


def render_text(tree: dict[str, Any]) -> str:
    """The tree as indented text; every value on one line (textsafe.line)."""
    from policycheck.textsafe import line

    p, t = tree["policy"], tree["target"]
    out = [line(f"{p['id']} on {t['kind']} {t['id']}: {tree['status'].upper()}"
                + (f" — {tree['message']}" if tree.get("message") else "")),
           line(f"  {p['title']} (severity {p['severity']}, {p['file']})"),
           line(f"  judged as of {tree['evaluated_at'].get('time')} (from {tree['evaluated_at'].get('source')}"
                + (f", {tree['evaluated_at']['where']}" if tree['evaluated_at'].get('where') else "") + ")"),
           line(f"  target described by {', '.join(t['sources']) or 'no source'}, observed {t['observed_at']}")]
    if tree.get("why_error"):
        out.append(line(f"  error although the conditions hold: {tree['why_error']}"))
    out.append("parameters:" if tree["parameters"] else "parameters: none")
    for prm in tree["parameters"]:
        out.append(line(f"  {prm['name']} = {describe(prm['value'])} (from {prm['from']}; default "
                        f"{describe(prm['default'])})"))
    if "when" in tree:
        out.append(f"applies when: {tree['when']['value']}")
        _text_node(tree["when"], 1, out)
    if "require" in tree:
        out.append(f"requires: {tree['require']['value']}")
        _text_node(tree["require"], 1, out)
    if tree.get("waiver"):
        w = tree["waiver"]
        out.append(line(f"waiver: {w.get('state')} (was {w.get('was')}), owner {w.get('owner')}, expires "
                        f"{w.get('expires')}: {w.get('reason')} ({w.get('where')})"))
    considered = tree.get("waivers_considered") or []
    out.append("waivers considered:" if considered else "waivers considered: none")
    for w in considered:
        out.append(line(f"  {w['policy']} {w['target']}: {w['state']}, expires {w['expires']}, owner "
                        f"{w['owner']} ({w['where']})"))
    return "\n".join(out) + "\n"


def _text_node(n: dict[str, Any], depth: int, out: list[str]) -> None:
    from policycheck.textsafe import line

    pad = "  " * depth
    mark = MARK[n["value"]]
    if n["node"] == "fact":
        obs = describe(n["observed"], 200) if n.get("observed") is not None or "why" not in n else "(unknown)"
        where = ", ".join(x for x in (n.get("entity") and f"on {n['entity']}",
                                      n.get("source") and f"source {n['source']}",
                                      n.get("observed_at") and f"observed {n['observed_at']}") if x)
        out.append(line(f"{pad}{mark} {n['fact']} {n['expected']}: {n['value']}"))
        out.append(line(f"{pad}    value {obs}" + (f" ({where})" if where else "")))
        if n.get("why"):
            out.append(line(f"{pad}    why: {n['why']}"))
        if n.get("message"):
            out.append(line(f"{pad}    message: {n['message']}"))
        return
    if n["node"] in QUANTIFIERS or n["node"] == "latest":
        cnt = f"{n.get('observed')} item(s)" if n.get("observed") is not None else "no list"
        out.append(line(f"{pad}{mark} {n['node']} {n['fact']} ({cnt}; {n['expected']}): {n['value']}"
                        + (f" — {n['why']}" if n.get("why") else "")))
        for it in n.get("items") or ():
            out.append(line(f"{pad}  {'latest item' if n['node'] == 'latest' else 'item'} {it['item']}: {it['value']}"))
            _text_node(it["condition"], depth + 2, out)
        if n.get("items_not_shown"):
            out.append(f"{pad}  ... {n['items_not_shown']} more item(s)")
        return
    out.append(line(f"{pad}{mark} {n['node']}: {n['value']}" + (f" — {n['why']}" if n.get("why") else "")))
    for c in n.get("children") or ():
        _text_node(c, depth + 1, out)


def derivation_lines(policy: Any, derivations: list[Derivation]) -> list[str]:
    """``policies show``: for each derived fact the policy reads, the derivation behind it (who registers
    it, its doc, inputs and example), then the derivations behind those inputs, indented."""
    import textwrap

    from policycheck.model import fact_reads

    by_key = {d.key: d for d in derivations}
    out: list[str] = []
    shown: set[tuple[str, str]] = set()

    def add(key: tuple[str, str], depth: int) -> None:
        d = by_key[key]
        pad = "  " * depth
        if key in shown:
            out.append(f"{pad}{d.name} (see above)")
            return
        shown.add(key)
        out.append(f"{pad}{d.name}  [derivation: {d.plugin}, {d.fn.__module__}.{d.fn.__name__}]")
        out.extend(textwrap.wrap(d.doc, 96, initial_indent=pad + "  ", subsequent_indent=pad + "  "))
        out.append(f"{pad}  inputs: {', '.join(f'{k}.{a}' for k, a in d.inputs) or 'none'}")
        if d.example:
            out.append(f"{pad}  example: {d.example}")
        for inp in d.inputs:
            if inp in by_key and inp != key:
                add(inp, depth + 1)

    for key in fact_reads(policy):
        if key in by_key and key not in shown:
            add(key, 1)
    return (["", "derived facts it reads (computed after merging; docs/facts.md):"] + out) if out else []
