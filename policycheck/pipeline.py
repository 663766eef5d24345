"""The one-way pipeline (no printing): config → plugins → policies → facts (collected, a snapshot or a
document) → derived facts → engine → waivers → baseline → Report and its gate. :func:`run` is the one
sequence `check`, `audit`, `collect`, `policies test`, policycheck.testing and the benchmarks share."""
from __future__ import annotations

import copy
import fnmatch
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from policycheck import __version__
from policycheck.controls import policy_matches
from policycheck.derive import DerivationError, derive
from policycheck.errors import UsageError
from policycheck.facts import Facts, FactsError, gc_paused, read_json
from policycheck.gate import Gate, compute_gate
from policycheck.policy import Policy, builtin_dir, load_policies
from policycheck.results import Report
from policycheck.targetparams import TargetParams, check_rules, is_rules
from policycheck.timeutil import format_duration, iso, now_utc, parse_time

if TYPE_CHECKING:
    from policycheck.collect import SourcePlan
    from policycheck.config import Config
    from policycheck.plugins import Plugins
    from policycheck.results import Result
    from policycheck.targetparams import Rule

#: a parsed ``--framework`` value: (framework, control glob or None)
FrameworkSelector = tuple[str, str | None]

__all__ = ["Outcome", "RunInputs", "UsageError", "build_facts", "collect_document", "load_all_policies",
           "load_snapshot", "make_report", "run", "select_policies"]

#: a config's fixed as_of this much older than the facts' collection gets a warning
CONFIG_AS_OF_MAX_LAG_S = 86400


@dataclass(frozen=True)
class RunInputs:
    """What one run judges. The facts come from ``snapshot`` (a file), else ``document`` (a facts document:
    copied, the caller's stays as it was), else the ``config``'s sources (collected)."""

    policies: Sequence[Policy]  #: the compiled, selected policies
    snapshot: str | None = None
    document: dict[str, Any] | None = None
    config: Any = None
    plugins: Any = None  #: policycheck.plugins.Plugins: collectors and the plugins' derivations
    loaded: Sequence[str] | None = None  #: ids of every loaded policy (waivers: unknown vs not selected)
    waivers: list[dict[str, Any]] | None = None  #: loaded waivers (policycheck.waivers.load_waivers)
    baseline: set[tuple[str, str]] | None = None  #: a loaded baseline (policycheck.baseline.load_baseline)
    clock: dict[str, Any] | None = None  #: {"time", "source", "where"} from --as-of / the config's as_of
    fail_on: str = "low"
    fail_on_error: bool = True
    soft_fail: bool = False
    fail_on_new: bool = False
    strict_waivers: bool = False
    frameworks: list[str] | None = None  #: --framework names: the per-control summary shows only these
    options: dict[str, Any] = field(default_factory=dict)  #: reporter options (color, verbose, github, ...)
    where: str | None = None  #: how the facts are named in messages (default: the snapshot path)
    on_event: Callable[[str, str, Any], None] | None = None  #: collection progress
    #: told each warning as it arises (a source's, the clock's), before a later step can fail; the
    #: Outcome lists them all either way
    on_warning: Callable[[str], None] | None = None
    plans: list[SourcePlan] | None = None  #: collection plans already made (policycheck.testing); default from config


@dataclass(frozen=True)
class Outcome:
    """What a run returns: the report (its notes and gate included), the derived facts and their document,
    and warnings for the user (collection, clock) that the caller prints."""

    report: Report
    gate: Gate
    facts: Facts
    document: dict[str, Any]
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)  #: seconds per step: facts_s, derive_s, evaluate_s, judge_s

    @property
    def notes(self) -> list[str]:
        return self.report.notes


def run(inputs: RunInputs) -> Outcome:
    """The run: facts (snapshot, document or collection) → derivation (core and plugins) → evaluation →
    waivers → baseline → report and gate. Nothing the caller passed is changed."""
    warnings: list[str] = []
    doc: dict[str, Any] | None
    t0 = time.perf_counter()
    if inputs.snapshot is not None:
        doc, where = load_snapshot(inputs.snapshot), inputs.where or str(inputs.snapshot)
    elif inputs.document is not None or inputs.config is None:  # (None: a FactsError naming ``where``)
        doc, where = copy.deepcopy(inputs.document), inputs.where or "facts"
    else:
        doc, collected = collect_document(inputs.config, inputs.plugins, inputs.on_event, inputs.plans)
        _tell(inputs, warnings, collected)
        where = inputs.where or "collected facts"
    t1 = time.perf_counter()
    facts = build_facts(doc, inputs.plugins, where)
    doc = cast("dict[str, Any]", doc)  # build_facts raised unless ``doc`` is a facts document (an object)
    t2 = time.perf_counter()
    clock = inputs.clock
    if clock:
        facts.as_of = clock["time"]
        if clock["source"] == "config as_of":
            _tell(inputs, warnings, config_as_of_warnings(clock, facts.collected_at))
    from policycheck.engine import evaluate

    results = evaluate(inputs.policies, facts)
    t3 = time.perf_counter()
    notes: list[str] = []
    waivers_out: list[dict[str, Any]] = []
    stale_error = False
    if inputs.waivers is not None:
        from policycheck import waivers

        loaded = list(inputs.loaded) if inputs.loaded is not None else [p.id for p in inputs.policies]
        waivers_out = waivers.apply_waivers(results, inputs.waivers, facts.as_of or facts.collected_at,
                                            loaded=loaded, evaluated=[p.id for p in inputs.policies])
        notes.extend(waivers.notes(waivers_out))
        stale_error = bool(inputs.strict_waivers and waivers.stale(waivers_out))
    if inputs.baseline is not None:
        from policycheck import baseline

        notes.extend(baseline.apply_baseline(results, inputs.baseline))
    gate = compute_gate(results, inputs.fail_on, inputs.fail_on_error, inputs.soft_fail, inputs.fail_on_new,
                        stale_error)
    report = make_report(results, list(inputs.policies), facts, fail_on=inputs.fail_on, notes=notes,
                         waivers=waivers_out, frameworks=inputs.frameworks,
                         evaluated_at=clock or {"time": facts.collected_at, "source": "collected_at", "where": None},
                         options=dict(inputs.options), gate=gate)
    timings = {"facts_s": t1 - t0, "derive_s": t2 - t1, "evaluate_s": t3 - t2, "judge_s": time.perf_counter() - t3}
    return Outcome(report=report, gate=gate, facts=facts, document=doc, warnings=tuple(warnings), timings=timings)


def _tell(inputs: RunInputs, warnings: list[str], new: list[str]) -> None:
    warnings.extend(new)
    if inputs.on_warning is not None:
        for w in new:
            inputs.on_warning(w)


def collect_document(config: Config, plugins: Plugins, on_event: Callable[[str, str, Any], None] | None = None,
                     plans: list[SourcePlan] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The config's sources collected into one facts document (not derived yet), and the sources'
    warnings as ``source NAME: warning`` lines."""
    from policycheck.collect import collect, plan_sources

    if plans is None:
        plans = plan_sources(config, plugins)
    if not plans:
        raise UsageError(f"{config.path}: no sources configured (add sources:, or use --facts FILE)")
    doc = collect(plans, base_dir=config.base_dir, concurrency=config.concurrency, on_event=on_event)
    warnings = [f"source {s['name']}: {w}" for s in doc["sources"] for w in s.get("warnings") or ()]
    return doc, warnings


def config_as_of_warnings(clock: dict[str, Any], collected_at: Any) -> list[str]:
    """A config's fixed as_of left behind (copied from an example) judges fresh facts by an old clock."""
    try:
        lag = (parse_time(collected_at) - parse_time(clock["time"])).total_seconds()
    except (ValueError, TypeError):
        return []
    if lag <= CONFIG_AS_OF_MAX_LAG_S:
        return []
    return [f"{clock['where']}: as_of {clock['time']} is {format_duration(lag)} older than the facts "
            f"(collected {collected_at}); every age is judged as of {clock['time']}. Remove as_of from "
            "the config to judge live facts, or pass --as-of to mean it"]


def select_policies(policies: Sequence[Policy], select: Sequence[str] = (), skip: Sequence[str] = (),
                    frameworks: Sequence[str] = ()) -> list[Policy]:
    """Keep policies matching any ``select`` (id glob, tag or severity), minus any matching ``skip``;
    with ``frameworks`` (``NAME`` or ``NAME:CONTROL-GLOB``) only those mapped to one of them."""
    def match(p: Policy, pats: Iterable[str]) -> bool:
        return any(fnmatch.fnmatchcase(p.id, pat) or pat in p.tags or pat == p.severity for pat in pats)

    out = [p for p in policies if not select or match(p, select)]
    out = [p for p in out if not match(p, skip)]
    known = {p.id for p in policies} | {t for p in policies for t in p.tags} | {p.severity for p in policies}
    for pat in list(select) + list(skip):
        if not any(fnmatch.fnmatchcase(k, pat) for k in known):
            from policycheck.textutil import suggest

            raise UsageError(f"--select/--skip '{pat}' matches no policy id, tag or severity" + suggest(pat, known))
    if frameworks:
        sel = parse_frameworks(frameworks, policies)
        for text, one in zip(frameworks, sel, strict=True):
            if not any(policy_matches(p, [one]) for p in policies):
                raise UsageError(f"--framework {text!r}: no policy is mapped to it (see `policycheck policies "
                                 "list` for each policy's controls)")
        out = [p for p in out if policy_matches(p, sel)]
    return out


def parse_frameworks(frameworks: Iterable[str], policies: Iterable[Policy] = ()) -> list[FrameworkSelector]:
    """``--framework`` values as (framework, control glob or None); an unknown framework is a UsageError."""
    from policycheck.controls import parse_selector

    seen = sorted({fw for p in policies for fw in (p.controls or {})})
    out: list[FrameworkSelector] = []
    for text in frameworks:
        try:
            out.append(parse_selector(text, seen))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return out


def load_all_policies(extra_paths: Iterable[str | os.PathLike[str]] = (), builtin: bool = True,
                      plugins: Plugins | None = None, parameters: Mapping[str, Any] | None = None,
                      where: str | None = None,
                      origins: Mapping[tuple[str, str | None], str] | None = None) -> list[Policy]:
    """Load every policy and apply ``parameters`` ({policy id: {name: value}}). Every problem with the
    parameters is reported at once (unknown policy or name, a value not of the declared type), each
    located by ``origins[(policy id, name)]`` (the config file's line, or the --param option) or ``where``."""
    from policycheck.policy import MAX_PROBLEMS, PolicyError, check_param_value
    from policycheck.textutil import suggest

    paths = [builtin_dir()] if builtin else []
    if plugins is not None:
        paths += [Path(p) for p in plugins.policy_dirs()]
    paths += [Path(p) for p in extra_paths]
    policies = load_policies(paths)
    params = dict(parameters or {})
    located: Mapping[tuple[str, str | None], str] = origins or {}
    by_id = {p.id: p for p in policies}
    problems: list[str] = []

    def at(pid: str, name: str | None = None) -> str:
        return located.get((pid, name)) or located.get((pid, None)) or where or "parameters"

    good: dict[str, dict[str, Any]] = {}
    by_target: dict[str, dict[str, tuple[list[Rule], Any]]] = {}
    for pid, values in params.items():
        if pid not in by_id:
            problems.append(f"{at(pid)}: parameters for unknown policy '{pid}'" + suggest(pid, by_id))
            continue
        specs = {p.name: p for p in by_id[pid].parameters}
        if not isinstance(values, dict):
            problems.append(f"{at(pid)}: parameters of {pid} must be a mapping of name: value")
            continue
        for name, value in values.items():
            if name not in specs:
                problems.append(f"{at(pid, name)}: {pid}: unknown parameter '{name}'" + suggest(name, specs)
                                + f" (parameters: {', '.join(specs) or 'none'})")
                continue
            if is_rules(value):  # a value per class of target (policycheck/targetparams.py)
                rules, default, errs = check_rules(pid, name, specs[name], value, at(pid, name), check_param_value)
                problems.extend(errs)
                if not errs:
                    by_target.setdefault(pid, {})[name] = (rules, default)
                    good.setdefault(pid, {})[name] = default
                continue
            try:
                check_param_value(specs[name], value, f"{pid}.{name}")
            except ValueError as exc:
                problems.append(f"{at(pid, name)}: {exc} (declared {specs[name].type}, default "
                                f"{specs[name].default!r})")
                continue
            good.setdefault(pid, {})[name] = value
    for p in policies:
        try:
            if good.get(p.id):  # the values in error are reported above; compile with the rest
                p.compile(good[p.id])  # (without overrides, the load's compilation is the one used)
        except PolicyError as exc:
            problems.append(f"{at(p.id)}: {exc}")
            continue
        except ValueError as exc:
            problems.append(f"{at(p.id)}: {exc}")
            continue
        if p.id in by_target:
            rules_by_name = {name: r for name, (r, _) in by_target[p.id].items()}
            defaults = {name: d for name, (_, d) in by_target[p.id].items()}
            try:
                p.target_params = TargetParams(p, rules_by_name, defaults)
                p.target_params.install()
                for values in _rule_values(rules_by_name, defaults, p.values):
                    p.target_params.variant(values)  # every value compiles (a bad one is exit 2, not error)
            except (ValueError, PolicyError) as exc:
                problems.append(str(exc))
    if problems:
        lines = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            lines.append(f"... and {len(problems) - MAX_PROBLEMS} more problem(s)")
        raise UsageError("\n".join(lines))
    return policies


def _rule_values(rules: dict[str, list[Rule]], defaults: dict[str, Any],
                 base: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for name, rs in rules.items():
        for *_, value, _label in rs:
            yield dict(base, **{name: value})
        yield dict(base, **{name: defaults[name]})


def load_snapshot(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{path}: facts snapshot not found (write one with `policycheck collect -o FILE`)")
    try:
        with open(p, "rb") as fh, gc_paused():
            doc = read_json(fh, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path}:1:1: nested too deeply: not a facts snapshot") from None
    except ValueError as exc:  # NaN / Infinity
        raise UsageError(f"{path}: invalid JSON: {exc}") from None
    _check_snapshot_shape(doc, path)
    from policycheck.model import check_document, format_path

    problems = check_document(doc)
    if problems:
        from policycheck.jsonpos import line_col

        text = p.read_text(encoding="utf-8", errors="replace")
        lines: list[str] = []
        for jpath, msg in problems:
            line, col = line_col(text, jpath)
            lines.append(f"{path}:{line}:{col}: {format_path(jpath)} {msg}")
        raise UsageError("\n".join(lines) + f"\n{path}: {len(problems)} problem(s) in the facts snapshot; "
                         "nothing was evaluated (docs/facts.md describes the model)")
    return cast("dict[str, Any]", doc)  # _check_snapshot_shape raised unless it is an object


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _check_snapshot_shape(doc: Any, path: str | os.PathLike[str]) -> None:
    """The envelope a snapshot must have before anything reads it (a located input error instead of a
    crash deeper in): an object, ``sources`` a list of objects with a name, ``entities`` an object of
    lists of objects."""
    def bad(jpath: str, what: str) -> NoReturn:
        raise UsageError(f"{path}: {jpath}: {what} (a snapshot is what `policycheck collect -o FILE` writes)")

    if not isinstance(doc, dict):
        bad("<root>", "expected an object")
    sources = doc.get("sources", [])
    if not isinstance(sources, list):
        bad("sources", "expected a list")
    for i, s in enumerate(sources):
        if not isinstance(s, dict):
            bad(f"sources[{i}]", f"expected an object, found {_json_type(s)}")
        if not isinstance(s.get("name"), str):
            bad(f"sources[{i}].name", "expected a string")
        for key in ("kinds", "warnings"):
            if key in s and not isinstance(s[key], list):
                bad(f"sources[{i}].{key}", "expected a list")
    ents = doc.get("entities")
    if not isinstance(ents, dict):
        bad("entities", "expected an object of kind: [entity, ...]")
    for kind, lst in ents.items():
        if not isinstance(lst, list):
            bad(f"entities.{kind}", f"expected a list, found {_json_type(lst)}")
        for i, e in enumerate(lst):
            if not isinstance(e, dict):
                bad(f"entities.{kind}[{i}]", f"expected an object, found {_json_type(e)}")
    if "conflicts" in doc and not isinstance(doc["conflicts"], list):
        bad("conflicts", "expected a list")


def _json_type(v: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


def build_facts(doc: Any, plugins: Plugins | None = None, where: str = "facts") -> Facts:
    """The one derivation step: index ``doc`` (derived facts are written into it), then every registered
    derivation (the core's and the plugins', ``policycheck_derivations``), in the order of their inputs.
    Bad input is a UsageError naming ``where``."""
    try:
        facts = Facts(doc)
        with gc_paused():
            derive(facts, plugins)
    except DerivationError as exc:
        raise UsageError(f"plugin derivations: {exc}") from None
    except FactsError as exc:
        raise UsageError(f"{where}: {exc}") from None
    except (TypeError, AttributeError, KeyError, ValueError, IndexError, RecursionError) as exc:
        # a value of the wrong shape that validation did not catch: an input error, never a crash
        names = [str(s.get("name")) for s in doc.get("sources") or () if isinstance(s, dict)] \
            if isinstance(doc, dict) else []
        origin = f" (from source {', '.join(names)})" if names and not str(where).endswith(".json") else ""
        raise UsageError(f"{where}{origin}: malformed facts ({type(exc).__name__}: {str(exc)[:200]}); check the "
                         "values against docs/facts.md") from None
    return facts


def make_report(results: list[Result], policies: list[Policy], facts: Facts, **kw: Any) -> Report:
    return Report(results=results, policies=policies, sources=facts.sources, collected_at=facts.collected_at,
                  generated_at=iso(now_utc()), tool_version=__version__, **kw)
