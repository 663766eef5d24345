"""Parameters per class of target: the config gives a parameter's value per target selector, the first
match winning, then the config's ``default`` (if any), then the policy's default::

    parameters:
      RPO-001:
        max_age:
          by_target:
            - {id: "db*", value: 4h}                 # a glob on the target's id (or an alias)
            - {tag: tier1, value: 12h}               # the target's host is tagged (host: its own tags)
            - {role: database, value: 12h}           # the target's host has the role
            - {when: {fact: os, equals: windows}, value: 30h}   # any condition on the target
          default: 26h

Fail closed: a selector that cannot be judged (the host's tags unknown) before one that matches makes
the value unknown, and the result is ``error`` naming why. The value that applied, and which selector
chose it, is in every result's evidence; ``policies show`` lists the selectors."""
from __future__ import annotations

import copy
import fnmatch
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from policycheck.conditions import CompileError, compile_condition

if TYPE_CHECKING:
    from policycheck.conditions import Ctx
    from policycheck.policy import Parameter, Policy

#: a selector or condition judged on one target: True, False, or None (cannot be judged)
Judge = Callable[[dict[str, Any], "Ctx"], "bool | None"]
#: one ``by_target`` entry: (selector key, its argument, the value, where it is written)
Rule = tuple[str, Any, Any, str]
#: (values, evidence dicts, unknown evidence or None) for one target
Choice = tuple[dict[str, Any], list[dict[str, Any]], "list[Any] | None"]


class Condition(Protocol):
    """A compiled ``when``/``require`` (policycheck/conditions.py): a judge with the kinds and attributes
    it reads."""

    kinds: set[str]
    attrs: set[str]

    def __call__(self, ent: dict[str, Any], ctx: Ctx, /) -> bool | None: ...

SELECTORS = ("id", "tag", "role", "when")
#: kinds whose machine is their own ``host`` reference (everything else but host needs ``when:``)
_HOST_REF = ("client", "backup_server", "storage_node", "device", "dr_test")


def is_rules(value: object) -> bool:
    return isinstance(value, dict) and "by_target" in value


def check_rules(pid: str, name: str, spec: Parameter, value: dict[str, Any], where: str,
                check_value: Callable[[Parameter, Any, str], Any]) -> tuple[list[Rule], object, list[str]]:
    """Validate one ``{by_target: [...], default: ...}``: (rules, default or the policy's, problems).
    ``check_value(spec, value, label)`` raises ValueError for a value not of the declared type."""
    problems: list[str] = []
    rules: list[Rule] = []
    extra = [k for k in value if k not in ("by_target", "default")]
    if extra:
        problems.append(f"{where}: {pid}.{name}: unknown key '{extra[0]}' beside by_target (allowed: by_target, "
                        "default)")
    default = spec.default
    if "default" in value:
        try:
            default = check_value(spec, value["default"], f"{pid}.{name}.default")
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    items = value["by_target"]
    if not isinstance(items, list) or not items:
        problems.append(f"{where}: {pid}.{name}.by_target must be a non-empty list of {{SELECTOR: ..., value: ...}} "
                        f"(selectors: {', '.join(SELECTORS)})")
        return rules, default, problems
    for i, rule in enumerate(items):
        label = f"{pid}.{name}.by_target[{i}]"
        if not isinstance(rule, dict) or "value" not in rule:
            problems.append(f"{where}: {label}: write {{SELECTOR: ..., value: VALUE}} (selectors: "
                            f"{', '.join(SELECTORS)})")
            continue
        sels = [k for k in rule if k != "value"]
        if len(sels) != 1 or sels[0] not in SELECTORS:
            from policycheck.textutil import suggest

            bad = next((k for k in sels if k not in SELECTORS), None)
            problems.append(f"{where}: {label}: one selector per entry, one of {', '.join(SELECTORS)}"
                            + (f"; unknown '{bad}'" + suggest(bad, SELECTORS) if bad else f"; found {sels}"))
            continue
        try:
            v = check_value(spec, rule["value"], f"{label}.value")
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        key = sels[0]
        if key in ("id", "tag", "role") and not (isinstance(rule[key], str) and rule[key]):
            problems.append(f"{where}: {label}.{key}: expected a non-empty string")
            continue
        rules.append((key, rule[key], v, f"{where} by_target[{i}] ({key} {_shown(rule[key])})"))
    return rules, default, problems


def _shown(sel: object) -> str:
    import json

    return json.dumps(sel, ensure_ascii=False, default=str) if not isinstance(sel, str) else repr(sel)


def _selector(policy: Policy, key: str, arg: Any, label: str) -> Judge:
    """A callable ``(ent, ctx) -> True|False|None`` for one selector."""
    target = policy.target
    if key == "id":
        pat = arg.lower()

        def by_id(ent: dict[str, Any], ctx: Ctx) -> bool:
            names = [ent.get("id")] + list(ent.get("aliases") or ())
            return any(isinstance(n, str) and fnmatch.fnmatchcase(n.lower(), pat) for n in names)
        return by_id
    if key in ("tag", "role"):
        attr = "tags" if key == "tag" else "roles"
        if target == "host":
            node = {"fact": attr, "contains": arg}
        elif target in _HOST_REF:
            node = {"fact": f"host->host.{attr}", "contains": arg}
        else:
            raise ValueError(f"{label}: a {target} has no host whose {attr} to read: use when: with a fact path")
    else:
        node = arg
    try:
        judge: Judge = compile_condition(node, ("when",), dict(policy.values))
        return judge
    except CompileError as exc:
        raise ValueError(f"{label}: {exc.message}") from None


class TargetParams:
    """Per-target parameter values of one policy: picks the compiled variant for each target."""

    def __init__(self, policy: Policy, rules: dict[str, list[Rule]], defaults: dict[str, Any]) -> None:
        # rules: {name: [(key, arg, value, label)]}; defaults: {name: value}
        self.policy = policy
        self.rules = {name: [(key, arg, value, label, _selector(policy, key, arg, label))
                             for key, arg, value, label in rs] for name, rs in rules.items()}
        self.defaults = defaults
        self.base = policy.values
        self.variants: dict[tuple[tuple[str, str], ...], Policy] = {}
        self.last: tuple[object, Choice | None] = (None, None)

    def describe(self) -> dict[str, list[tuple[str, Any]]]:
        """{name: [(label, value)], ...} with the fallback last, for ``policies show``."""
        return {name: [(f"{key} {_shown(arg)} ({label.rsplit(' by_target', 1)[0]})", value)
                       for key, arg, value, label, _ in rs] + [("otherwise", self.defaults[name])]
                for name, rs in self.rules.items()}

    def choose(self, ent: dict[str, Any], ctx: Ctx) -> Choice:
        """(values, evidence dicts, unknown evidence tuples or None) for one target."""
        last_ent, last_out = self.last
        if last_ent is ent and last_out is not None:
            return last_out
        saved = ctx.evidence
        values = dict(self.base)
        evidence: list[dict[str, Any]] = []
        unknown: list[Any] | None = None
        for name, rs in self.rules.items():
            chosen, how = self.defaults[name], "no selector matched: the default"
            for _key, _arg, value, label, fn in rs:
                ctx.evidence = []
                r = fn(ent, ctx)
                if r is None:
                    unknown = ctx.evidence
                    how = f"{label} cannot be judged"
                    chosen = None
                    break
                if r:
                    chosen, how = value, label
                    break
            ctx.evidence = saved
            if unknown is not None:
                evidence.append({"fact": f"parameter {name}", "observed": None, "ok": None,
                                 "expected": "the value for this target", "entity": ent.get("id"),
                                 "missing": f"which {name} applies is unknown: {how}"})
                break
            values[name] = chosen
            evidence.append({"fact": f"parameter {name}", "observed": chosen, "ok": None,
                             "expected": f"applied: {how}", "entity": ent.get("id")})
        ctx.evidence = saved
        out: Choice = (values, evidence, unknown)
        self.last = (ent, out)
        return out

    def variant(self, values: dict[str, Any]) -> Policy:
        key = tuple(sorted((k, repr(v)) for k, v in values.items()))
        v = self.variants.get(key)
        if v is None:
            v = copy.copy(self.policy)
            v.target_params = None
            v.compile({k: x for k, x in values.items()})
            self.variants[key] = v
        return v

    def install(self) -> None:
        """Replace the policy's when/require by dispatchers to the variant of each target."""
        pol = self.policy
        base_when, base_require = _condition(pol, "when_fn"), _condition(pol, "require_fn")
        tp = self

        def require_fn(ent: dict[str, Any], ctx: Ctx) -> bool | None:
            values, evidence, unknown = tp.choose(ent, ctx)
            if unknown is not None:
                ctx.evidence.extend(unknown)
                ctx.evidence.extend(evidence)
                return None
            r = _compiled(tp.variant(values), "require_fn")(ent, ctx)
            ctx.evidence.extend(evidence)
            return r

        if base_when is not None:
            def when_fn(ent: dict[str, Any], ctx: Ctx) -> bool | None:
                values, _, unknown = tp.choose(ent, ctx)
                if unknown is not None:  # applicability is judged with the defaults; require says unknown
                    return base_when(ent, ctx)
                return _compiled(tp.variant(values), "when_fn")(ent, ctx)

            when_fn.__dict__.update(kinds=base_when.kinds, attrs=base_when.attrs)
            pol.when_fn = when_fn
        require_fn.__dict__.update(kinds=getattr(base_require, "kinds", set()),
                                   attrs=getattr(base_require, "attrs", set()))
        pol.require_fn = require_fn
        for rs in self.rules.values():
            for *_, fn in rs:
                pol.kinds |= getattr(fn, "kinds", set())


def _condition(policy: Policy, name: str) -> Condition | None:
    """The policy's compiled ``when_fn``/``require_fn`` (None before compile(), or without ``when``)."""
    fn: Condition | None = getattr(policy, name)
    return fn


def _compiled(policy: Policy, name: str) -> Condition:
    """A variant's ``when_fn``/``require_fn``: compile() made both (``when_fn`` as the base policy has one)."""
    fn = _condition(policy, name)
    if fn is None:
        raise RuntimeError(f"policy {policy.id}: {name} is used before compile()")
    return fn
