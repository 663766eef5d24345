"""Policies: the model, loading YAML files, validation in layers (YAML with line, schema, conditions,
duplicate ids) with errors located by file:line:col, policy id and JSON path."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policycheck import conditions, errors
from policycheck.conditions import CompileError, resolve_fast
from policycheck.missing import Missing
from policycheck.results import evidence_source, jsonable
from policycheck.textutil import suggest
from policycheck.timeutil import parse_duration
from policycheck.yamlsafe import Document, YamlError, load_documents

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

    from policycheck.conditions import Ctx, FactPath
    from policycheck.targetparams import TargetParams

#: a compiled ``when``/``require``: ``f(entity, ctx) -> True|False|None``
ConditionFn = Callable[[dict[str, Any], "Ctx"], Any]

SCHEMA_FILE = Path(__file__).parent / "schemas" / "policy.schema.json"
MAX_POLICY_BYTES = 1024 * 1024


class PolicyError(errors.PolicyError):
    """One located problem in a policy file."""

    def __init__(self, path: str | os.PathLike[str], line: int, col: int, policy_id: str | None,
                 jpath: Iterable[Any], message: str) -> None:
        self.path, self.line, self.col = str(path), line, col
        self.policy_id, self.jpath, self.message = policy_id, tuple(jpath), message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}"
        pid = f" {self.policy_id}" if self.policy_id else ""
        jp = f" {format_jpath(self.jpath)}:" if self.jpath else ":"
        return f"{where}{pid}{jp} {self.message}"


class PolicyLoadError(errors.PolicyError):
    """Every problem found while loading a set of policy files."""

    def __init__(self, errors: list[PolicyError]) -> None:
        self.errors = errors
        lines = [str(e) for e in errors[:MAX_PROBLEMS]]
        if len(errors) > MAX_PROBLEMS:
            lines.append(f"... and {len(errors) - MAX_PROBLEMS} more problem(s)")
        super().__init__("\n".join(lines))


def format_jpath(jpath: Iterable[Any]) -> str:
    out = ""
    for p in jpath:
        if p == "<key>":
            continue
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


@dataclass
class Parameter:
    name: str
    type: str
    default: object
    description: str


@dataclass
class Policy:
    """A loaded policy. ``compile(overrides)`` gives the callables the engine runs."""

    id: str
    title: str
    severity: str
    target: str
    rationale: str
    remediation: str
    tags: list[str] = field(default_factory=list)
    references: list[Any] = field(default_factory=list)
    controls: dict[str, list[str]] = field(default_factory=dict)  # {framework: [control id, ...]} (policycheck/controls.py)
    parameters: list[Parameter] = field(default_factory=list)
    when: dict[str, Any] | None = None
    require: dict[str, Any] = field(default_factory=dict)
    context: list[str] = field(default_factory=list)  # fact paths shown in the evidence, never judged
    target_params: TargetParams | None = None  # targetparams.TargetParams: the config's per-target parameter values
    path: str = ""
    line: int = 1
    doc: Document | None = None
    values: dict[str, Any] = field(default_factory=dict)  # parameter values in force
    when_fn: ConditionFn | None = None
    require_fn: ConditionFn | None = None  # None until compile()
    kinds: set[str] = field(default_factory=set)
    attrs: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "title": self.title, "severity": self.severity, "target": self.target,
             "tags": self.tags, "rationale": self.rationale, "remediation": self.remediation,
             "references": self.references, "controls": self.controls,
             "parameters": [{"name": p.name, "type": p.type, "default": p.default,
                             "description": p.description, "value": self.values.get(p.name, p.default),
                             **({"by_target": [{"selector": sel, "value": v} for sel, v in
                                               self.target_params.describe()[p.name]]}
                                if self.target_params and p.name in self.target_params.rules else {})}
                            for p in self.parameters]}
        if self.when is not None:
            d["when"] = self.when
        d["require"] = self.require
        d["source"] = self.path
        return d

    def error(self, jpath: Iterable[Any], message: str) -> PolicyError:
        line, col = self.doc.where(jpath) if self.doc else (self.line, 1)
        return PolicyError(self.path, line, col, self.id, jpath, message)

    def compile(self, overrides: dict[str, Any] | None = None, compiled: dict[str, Any] | None = None) -> Policy:
        """Resolve parameters (defaults, then ``overrides``) and compile ``when``/``require`` once;
        ``compiled``: {"when"/"require": condition} already compiled with the defaults (the load's check)."""
        values = {p.name: p.default for p in self.parameters}
        for name, value in (overrides or {}).items():
            if name not in values:
                raise ValueError(f"{self.id}: unknown parameter '{name}'" + suggest(name, values)
                                 + f" (parameters: {', '.join(values) or 'none'})")
            spec = next(p for p in self.parameters if p.name == name)
            values[name] = check_param_value(spec, value, f"{self.id}.{name}")
        done = compiled if compiled is not None and not overrides else {}
        try:
            self.when_fn = when_fn = (done.get("when") or conditions.compile_condition(self.when, ("when",), values)) \
                if self.when else None
            self.require_fn = require_fn = done.get("require") or conditions.compile_condition(self.require, ("require",), values)
        except CompileError as exc:
            raise self.error(exc.jpath, exc.message) from None
        self.values = values
        self.kinds = {self.target} | require_fn.kinds | (when_fn.kinds if when_fn else set())
        self.attrs = require_fn.attrs | (when_fn.attrs if when_fn else set())
        if self.context:
            try:
                paths = [conditions.FactPath(t, ("context", i)) for i, t in enumerate(self.context)]
            except CompileError as exc:
                raise self.error(exc.jpath, exc.message) from None
            for fp in paths:
                self.kinds |= fp.kinds
            self.require_fn = _with_context(require_fn, paths)
        return self


#: observed values a context dict shows as they are (``jsonable`` would return them unchanged)
_SCALARS = (str, int, float, bool, type(None))


def context_evidence(fp: FactPath, ent: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    """One context fact as evidence: its value (or why it is unknown), never judged (``ok`` null)."""
    obs, owner = resolve_fast(fp, ent, ctx.facts)
    d: dict[str, Any]
    if obs.__class__ is Missing:
        d = {"fact": fp.text, "observed": None, "expected": "context (not judged)", "ok": None, "missing": obs.reason}
    else:
        d = {"fact": fp.text, "observed": obs if obs.__class__ in _SCALARS else jsonable(obs),
             "expected": "context (not judged)", "ok": None}
    if owner.__class__ is dict:
        d["entity"] = owner.get("id")
        d["source"] = evidence_source(owner, fp.steps[-1][0])
        d["observed_at"] = owner.get("_observed_at")
    return d


def _with_context(require_fn: ConditionFn, paths: list[FactPath]) -> ConditionFn:
    if len(paths) == 1:  # the usual one context fact: no generator per target
        fp = paths[0]

        def f1(ent: dict[str, Any], ctx: Ctx) -> Any:
            r = require_fn(ent, ctx)
            ctx.evidence.append(context_evidence(fp, ent, ctx))
            return r
        return f1

    def f(ent: dict[str, Any], ctx: Ctx) -> Any:
        r = require_fn(ent, ctx)
        ctx.evidence.extend(context_evidence(fp, ent, ctx) for fp in paths)
        return r
    return f


def check_param_value(spec: Parameter, value: Any, where: str) -> Any:
    t = spec.type
    ok = {"string": isinstance(value, str), "integer": isinstance(value, int) and not isinstance(value, bool),
          "number": isinstance(value, (int, float)) and not isinstance(value, bool),
          "boolean": isinstance(value, bool), "list": isinstance(value, list),
          "duration": isinstance(value, str)}[t]
    if not ok:
        raise ValueError(f"{where}: expected a {t}, got {type(value).__name__} {value!r}")
    if t == "duration":
        try:
            parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return value


_validator: Draft202012Validator | None = None


def _schema_validator() -> Draft202012Validator:
    global _validator
    if _validator is None:
        import jsonschema

        _validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    return _validator


def _schema_errors(doc: Document, pid: str | None) -> list[PolicyError]:
    """Schema errors outside when/require (the condition compiler reports those more precisely)."""
    errors: list[PolicyError] = []
    data = doc.data
    schema = _schema_validator().schema
    assert not isinstance(schema, bool)  # policy.schema.json is an object schema
    allowed = schema["properties"]
    for key in data:
        if key not in allowed:
            line, col = doc.where((key, "<key>"))
            errors.append(PolicyError(doc.path, line, col, pid, (key,),
                                      f"unknown key '{key}'" + suggest(key, allowed)
                                      + f" (allowed: {', '.join(allowed)})"))
    for err in _schema_validator().iter_errors(data):
        jp = tuple(err.absolute_path)
        if jp and jp[0] in ("when", "require"):
            continue
        if err.validator == "additionalProperties" and not jp:
            continue  # reported above with a suggestion
        line, col = doc.where(jp)
        msg = err.message
        if err.validator == "enum":
            msg = f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}" + \
                suggest(err.instance, err.validator_value)
        elif err.validator == "required":
            msg = f"{err.message} (every policy needs id, title, severity, target, rationale, remediation, require)"
        elif err.validator == "pattern" and jp == ("id",):
            msg = f"id {err.instance!r} must look like BOOT-001 (capitals, a dash, three digits)"
        elif jp[:1] == ("controls",):
            msg = _controls_message(err, jp) or msg
        errors.append(PolicyError(doc.path, line, col, pid, jp, msg))
    return errors


def _controls_message(err: Any, jp: tuple[Any, ...]) -> str | None:
    """A clearer message for a schema error under ``controls`` (``err``: a jsonschema ValidationError
    from iter_errors, typed Any there; the stubs' ``instance: Any | Unset`` is always set on those)."""
    from policycheck.controls import FRAMEWORKS

    if err.validator == "additionalProperties" and len(jp) == 1:
        extra = [k for k in err.instance if k not in FRAMEWORKS and not str(k).startswith("x-")]
        if extra:
            return (f"unknown framework '{extra[0]}'" + suggest(extra[0], FRAMEWORKS)
                    + f" (frameworks: {', '.join(FRAMEWORKS)}; a site's own framework starts with x-)")
    if len(jp) == 3 and jp[1] in FRAMEWORKS:
        title, _, example = FRAMEWORKS[jp[1]]
        if err.validator == "pattern":
            return f"{err.instance!r} is not a {title} control id (write it like {example!r})"
        if err.validator == "type":
            return (f"{err.instance!r} is a {'number' if isinstance(err.instance, (int, float)) else type(err.instance).__name__}: write control ids as quoted strings "
                    f"(\"{err.instance}\"; 11.10 read as a number is 11.1)")
    if err.validator == "type" and len(jp) == 2:
        return f"controls of {jp[1]} must be a list of control ids, e.g. [{FRAMEWORKS.get(jp[1], ('', '', 'ID'))[2]}]"
    return None


MAX_PROBLEMS = 50  # problems listed per policy file (and per run of load_policies)
_OK = {"fact": "id", "exists": True}  # a leaf that always compiles: stands in for a child when checking a node


def condition_errors(node: Any, jpath: Iterable[Any], params: dict[str, Any]) -> list[CompileError]:
    """Every problem of a condition tree, not only the first: the tree is compiled whole, and when that
    fails each node is compiled with its children replaced by a valid leaf, then each child in turn."""
    out: list[CompileError] = []
    _condition_errors(node, tuple(jpath), params, out)
    return out


def _condition_errors(node: Any, jpath: tuple[Any, ...], params: dict[str, Any], out: list[CompileError]) -> None:
    if len(out) >= MAX_PROBLEMS:
        return
    try:
        conditions.compile_condition(node, jpath, params)
        return
    except CompileError as exc:
        first = exc
    if not isinstance(node, dict) or not node or "fact" in node:
        out.append(first)
        return
    skeleton: dict[str, Any] = {}
    children: list[tuple[Any, tuple[Any, ...]]] = []
    for k, v in node.items():
        if k in ("all", "any", "none") and isinstance(v, list) and v:
            skeleton[k] = [_OK] * len(v)
            children += [(c, jpath + (k, i)) for i, c in enumerate(v)]
        elif k in ("not", "require"):
            skeleton[k] = _OK
            children.append((v, jpath + (k,)))
        else:
            skeleton[k] = v
    try:
        conditions.compile_condition(skeleton, jpath, params)
    except CompileError as exc:
        out.append(exc)
    for child, jp in children:
        _condition_errors(child, jp, params, out)


def parse_document(doc: Document) -> tuple[Policy | None, list[PolicyError]]:
    """The policy in ``doc``, or every problem found in it (schema, parameters, conditions)."""
    data = doc.data
    if not isinstance(data, dict):
        return None, [PolicyError(doc.path, doc.line, 1, None, (), "a policy document must be a mapping "
                                                                   "with id, title, severity, target, ...")]
    pid = data.get("id") if isinstance(data.get("id"), str) else None
    errors = _schema_errors(doc, pid)
    params: list[Parameter] = []
    values: dict[str, Any] = {}
    raw_params = data.get("parameters")
    for i, p in enumerate(raw_params if isinstance(raw_params, list) else []):
        if not isinstance(p, dict) or not all(k in p for k in ("name", "type", "default", "description")) \
                or not isinstance(p["name"], str) or p["type"] not in ("string", "integer", "number", "boolean", "list", "duration"):
            continue  # the schema reported it
        spec = Parameter(p["name"], p["type"], p["default"], p["description"])
        try:
            check_param_value(spec, spec.default, "default")
            values[spec.name] = spec.default
        except ValueError as exc:
            line, col = doc.where(("parameters", i, "default"))
            errors.append(PolicyError(doc.path, line, col, pid, ("parameters", i, "default"), str(exc)))
            values[spec.name] = spec.default
        params.append(spec)
    compiled: dict[str, Any] = {}  # each condition compiled once: the compilation that checks it is the one used
    for key in ("when", "require"):
        if data.get(key) is not None or key == "require" and "require" in data:
            try:
                compiled[key] = conditions.compile_condition(data[key], (key,), values)
                continue
            except CompileError:
                pass
            for cerr in condition_errors(data[key], (key,), values):
                line, col = doc.where(cerr.jpath)
                errors.append(PolicyError(doc.path, line, col, pid, cerr.jpath, cerr.message))
    if errors:
        return None, errors
    pol = Policy(id=data["id"], title=data["title"], severity=data["severity"], target=data["target"],
                 rationale=data["rationale"], remediation=data["remediation"], tags=data.get("tags") or [],
                 references=data.get("references") or [], controls=data.get("controls") or {}, parameters=params, when=data.get("when"),
                 require=data["require"], context=data.get("context") or [], path=doc.path, line=doc.line, doc=doc)
    try:
        pol.compile(compiled=compiled)
    except PolicyError as exc:
        return None, [exc]
    return pol, []


def policy_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The policy files in ``paths`` (files, or directories' *.yaml/*.yml), each file once."""
    out: list[Path] = []
    seen: set[Path] = set()
    for arg in paths:
        p = Path(arg)
        found = sorted(x for x in p.glob("*.y*ml") if x.suffix in (".yaml", ".yml")) if p.is_dir() else [p]
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def load_policies(paths: Iterable[str | os.PathLike[str]], display_root: Path | None = None) -> list[Policy]:
    """Load and validate every policy in ``paths`` (files or directories). Raises PolicyLoadError
    listing every problem found (all files are checked, not only the first bad one)."""
    policies: list[Policy] = []
    errors: list[PolicyError] = []
    seen: dict[str, Policy] = {}
    for f in policy_files(paths):
        shown = _shown(f, display_root)
        if not f.exists():
            errors.append(PolicyError(shown, 1, 1, None, (), "no such file or directory"))
            continue
        try:
            docs = load_documents(f, max_bytes=MAX_POLICY_BYTES)
        except YamlError as exc:
            errors.append(PolicyError(shown, exc.line, exc.col, None, (), exc.message))
            continue
        for doc in docs:
            doc.path = shown
            pol, errs = parse_document(doc)
            errors.extend(errs)
            if pol is None:
                continue
            if pol.id in seen:
                other = seen[pol.id]
                line, col = doc.where(("id",))
                errors.append(PolicyError(shown, line, col, pol.id, ("id",),
                                          f"duplicate policy id (also defined at {other.path}:{other.line})"))
                continue
            seen[pol.id] = pol
            policies.append(pol)
    if errors:
        raise PolicyLoadError(errors)
    return policies


def _shown(f: Path, root: Path | None) -> str:
    try:
        return str(f.resolve().relative_to((root or Path.cwd()).resolve()))
    except ValueError:
        return str(f)


def builtin_dir() -> Path:
    # policycheck.catalog is policies/, mapped by [tool.setuptools.package-dir]: mypy cannot find it in
    # the source tree (nor through the editable install's import hook), so the import is unresolved
    import policycheck.catalog as catalog  # type: ignore[import-not-found]

    return Path(catalog.__file__).parent
