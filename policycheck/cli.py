"""The command line: argparse, everything printed to the terminal, and every exit code."""
from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from policycheck.cliargs import EXIT_CODES_HELP, SEVERITIES, ParserExit, build_parser  # noqa: F401
from policycheck.errors import ExitCode, PolicycheckError, UsageError, WaiverError

if TYPE_CHECKING:
    import argparse

    from policycheck.api import Reporter
    from policycheck.collect import EventFn
    from policycheck.config import Config
    from policycheck.facts import Facts
    from policycheck.plugins import Plugins
    from policycheck.policy import Policy
    from policycheck.results import Report

#: a (parameter value's) origin: (policy id, parameter name or None for the policy's block) -> where given
Origins = dict[tuple[str, str | None], str]

NO_CONFIG = ("no config file: pass -c FILE (or put policycheck.yaml here), or --facts FILE to evaluate a saved "
             "snapshot")

#: the old names of the exit codes, kept for importers (use ExitCode)
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_ERROR = (ExitCode.OK, ExitCode.FINDINGS, ExitCode.INVALID_INPUT,
                                              ExitCode.SOURCE_ERROR)


def __getattr__(name: str) -> int:
    """``ANNOTATION_LIMIT`` stays importable from here, without loading the reporters at start-up."""
    if name == "ANNOTATION_LIMIT":
        from policycheck.reporters.github import ANNOTATION_LIMIT

        return ANNOTATION_LIMIT
    raise AttributeError(name)


def _color(stream: TextIO) -> bool:
    return bool(stream.isatty()) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"

def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # a TextIOWrapper's; a replaced stream may lack it
        with contextlib.suppress(AttributeError, ValueError):
            if reconfigure is not None:
                reconfigure(errors="backslashreplace")
    debug = bool(os.environ.get("POLICYCHECK_DEBUG"))
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        debug = debug or bool(getattr(args, "debug", False))
        return _dispatch(parser, args)
    except ParserExit as exc:  # --help, --version, or an invalid command line
        if exc.usage:
            sys.stderr.write(exc.usage)
            sys.stderr.write(f"policycheck: error: {exc.message}\n")
        elif exc.message:
            try:
                sys.stdout.write(exc.message)
                sys.stdout.flush()
            except BrokenPipeError:
                return ExitCode.OK
            except OSError as err:
                _err(f"cannot write to standard output: {err.strerror or err}")
                return ExitCode.INVALID_INPUT
        return ExitCode(exc.status)
    except KeyboardInterrupt:
        _err("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except PolicycheckError as exc:  # every error a user can cause (policycheck/errors.py)
        _err(str(exc))
        return exc.exit_code
    except Exception as exc:  # a bug, not a verdict and not bad input: its own code (docs/exit-codes.md)
        _err(f"internal error: {type(exc).__name__}: {exc}")
        if debug:
            import traceback

            sys.stderr.write(_safe("".join(traceback.format_exception(exc))))
        else:
            _err("this is a bug in policycheck or a plugin, please report it; run again with --debug (or "
                 "POLICYCHECK_DEBUG=1) for the traceback")
        return ExitCode.INTERNAL_ERROR


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the command ``args`` names; its exit code."""
    if not args.command:
        parser.print_help()
        return ExitCode.INVALID_INPUT
    commands: dict[str, Callable[[], int]] = {
        "audit": lambda: cmd_evaluate(args), "check": lambda: cmd_evaluate(args),
        "collect": lambda: cmd_collect(args), "policies": lambda: cmd_policies(args, parser),
        "plugins": lambda: cmd_plugins(args), "explain": lambda: cmd_explain(args),
        "merge": lambda: cmd_merge(args), "runbook": lambda: cmd_runbook(args),
        "what-if": lambda: cmd_whatif(args), "guard": lambda: cmd_guard(args),
    }
    run = commands.get(args.command)
    return run() if run else ExitCode.INVALID_INPUT


def _safe(text: str) -> str:
    """The last step before anything is printed: every secret masked (in every encoding), control
    characters made visible, no line a CI runner would execute."""
    from policycheck.secrets import redact_all
    from policycheck.textsafe import block

    return block(redact_all(text))


def _one_line(text: str) -> str:
    from policycheck.secrets import redact_all
    from policycheck.textsafe import line

    return line(redact_all(text))


def _emit(text: str, stream: TextIO | None = None, trusted_escapes: bool = False) -> None:
    """Write ``text`` to stdout (or ``stream``): secrets masked, controls visible, runner commands
    escaped. ``trusted_escapes``: the text is a report whose reporter already neutralised every value
    and may carry its own colour codes; only secrets and command lines are handled."""
    from policycheck.secrets import redact_all
    from policycheck.textsafe import guard

    stream = stream or sys.stdout
    try:
        stream.write(guard(redact_all(text)) if trusted_escapes else _safe(text))
    except BrokenPipeError:
        raise  # the reader went away: main() ends quietly
    except OSError as exc:  # a full disk under a redirection, say: the report would be incomplete
        raise UsageError(f"cannot write to standard output: {exc.strerror or exc}") from None


def _err(msg: str) -> None:
    for line in _safe(msg).splitlines():
        sys.stderr.write(f"policycheck: error: {line}\n" if not line.startswith("policycheck:") else line + "\n")


def _warn(msg: str) -> None:
    sys.stderr.write(f"policycheck: warning: {_one_line(msg)}\n")


# ---- shared steps ---------------------------------------------------------------------------------
def _config(args: argparse.Namespace, required: bool) -> Config | None:
    from policycheck.config import find_default, load_config

    path = getattr(args, "config", None) or find_default()
    if path is None:
        if required:
            from policycheck.pipeline import UsageError

            raise UsageError(NO_CONFIG)
        return None
    return load_config(path)


def _plugins(args: argparse.Namespace) -> Plugins:
    from policycheck.plugins import make_plugins

    plugins = make_plugins(disabled=getattr(args, "disable_plugin", []) or [])
    for info in plugins.errors():
        if info.error != "disabled":
            _warn(f"plugin '{info.name}' ({info.module}) not loaded: {info.error}")
    return plugins


def _progress() -> EventFn | None:
    """A progress line per source on stderr, only on a terminal and never in CI."""
    if not sys.stderr.isatty() or os.environ.get("CI"):
        return None
    state: dict[str, tuple[str, Any]] = {}

    def on_event(source: str, st: str, detail: Any) -> None:
        state[source] = (st, detail)
        parts: list[str] = []
        for name, (s, d) in state.items():
            parts.append(f"{_one_line(name)}: {s}" + (f" ({d} objects)" if isinstance(d, int) and d else ""))
        sys.stderr.write("\r\033[K" + "  ".join(parts)[:200])
        sys.stderr.flush()
        if all(s != "running" for s, _ in state.values()):
            sys.stderr.write("\n")
    return on_event


def _collect_doc(config: Config | None, plugins: Plugins) -> dict[str, Any]:
    from policycheck.pipeline import UsageError, collect_document

    if config is None:  # callers ask _config for one unless --facts: only a snapshot goes without
        raise UsageError(NO_CONFIG)

    doc, warnings = collect_document(config, plugins, on_event=_progress())
    for w in warnings:
        _warn(w)
    return doc


def _params(args: argparse.Namespace, config: Config | None) -> tuple[dict[str, Any], Origins]:
    """The parameter values in force (config, then --param) and where each was given."""
    import yaml

    from policycheck.pipeline import UsageError

    params: dict[str, Any] = {}
    origins: Origins = {}
    if config:
        params = {k: dict(v) if isinstance(v, dict) else v for k, v in config.parameters.items()}
        for pid, values in params.items():
            origins[(pid, None)] = config.where(("parameters", pid, "<key>"))
            for name in values if isinstance(values, dict) else ():
                origins[(pid, name)] = config.where(("parameters", pid, name, "<key>"))
    bad: list[str] = []
    for item in args.param:
        key, sep, value = item.partition("=")
        pid, dot, name = key.partition(".")
        if not sep or not dot:
            bad.append(f"--param {item!r}: write ID.NAME=VALUE, e.g. BOOT-001.max_age=48h")
            continue
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            bad.append(f"--param {item!r}: the value is not valid YAML ({str(exc).splitlines()[0]})")
            continue
        params.setdefault(pid, {})[name] = parsed
        origins[(pid, name)] = f"--param {item}"
        origins.setdefault((pid, None), f"--param {item}")
    if bad:
        raise UsageError("\n".join(bad))
    return params, origins


def _write(path: str | os.PathLike[str], text: str | Iterable[str]) -> None:
    """Write an output file atomically: secrets masked, then a temporary file in the same directory,
    flushed to disk, renamed into place. A run killed mid-write leaves the previous file intact.
    ``text`` is a string or an iterable of chunks (each masked on its own: a chunk holds whole lines)."""
    import tempfile

    from policycheck.pipeline import UsageError
    from policycheck.secrets import redact_all

    chunks = (text,) if isinstance(text, str) else text
    p = Path(path)
    tmp: str | None = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=str(p.parent))
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(redact_all(chunk).encode("utf-8", errors="backslashreplace"))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = p.stat().st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, p)
        tmp = None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_outputs(outputs: Sequence[tuple[str, str | None]], inputs: Iterable[tuple[str, str | None]] = ()) -> None:
    """Every output path checked before the first is written (exit 2 means nothing was produced):
    not a directory, its directory can be created and written, no two outputs on one file, no output
    on one of the run's input files (``inputs``: (option, path), e.g. the --facts snapshot)."""
    from policycheck.pipeline import UsageError

    seen: dict[str, tuple[str, str]] = {}
    ins = {os.path.realpath(p): (o, p) for o, p in inputs if p}
    for option, path in outputs:
        if path and os.path.realpath(path) in ins:
            o, given = ins[os.path.realpath(path)]
            raise UsageError(f"{option} {path} would overwrite the input {o} {given}: write the report elsewhere")
    for option, path in outputs:
        if not path:
            continue
        p = Path(path)
        key = os.path.realpath(p)
        if key in seen:
            raise UsageError(f"{option} {path} and {seen[key][0]} {seen[key][1]} name the same file: give each "
                             "output its own path")
        seen[key] = (option, path)
        if p.is_dir():
            raise UsageError(f"{option} {path}: is a directory (give a file name, e.g. {p / 'report'})")
        parent = p.parent
        while not parent.exists() and parent != parent.parent:
            if parent.is_symlink():
                raise UsageError(f"{option} {path}: {parent} is a broken link")
            parent = parent.parent
        if not parent.is_dir():
            raise UsageError(f"{option} {path}: {parent} is not a directory")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {path}: cannot write in {parent} (permission denied)")


# ---- commands -------------------------------------------------------------------------------------
def cmd_evaluate(args: argparse.Namespace) -> int:
    from policycheck.facts import gc_paused

    with gc_paused():  # a big facts heap has no cycles: the cyclic GC only rescans it, seconds at 100k
        return _evaluate(args)


def _evaluate(args: argparse.Namespace) -> int:
    from policycheck import pipeline

    # Every input is validated before the first source is contacted (or the snapshot read).
    config = _config(args, required=not args.facts)
    plugins = _plugins(args)
    reporters = plugins.reporters
    _check_formats(args, reporters)
    where = str(config.path) if config else "--param"
    problems: list[str] = []  # every input problem at once, then exit 2 before any source is contacted
    loaded: list[Policy] = []
    policies: list[Policy] = []
    try:
        params, origins = _params(args, config)
        loaded = pipeline.load_all_policies(list(config.policies if config else []) + args.policies,
                                            builtin=not args.no_builtin and (config.builtin_policies if config else True),
                                            plugins=plugins, parameters=params, where=where, origins=origins)
        policies = pipeline.select_policies(loaded, (config.select if config else []) + args.select,
                                            (config.skip if config else []) + args.skip, args.framework)
    except PolicycheckError as exc:
        problems.append(str(exc))
    clock = wlist = base = None
    try:
        clock = _as_of(args, config)
    except PolicycheckError as exc:
        problems.append(str(exc))
    waiver_path = args.waivers or (config.waivers if config else None)
    if waiver_path:
        from policycheck import waivers

        try:
            wlist = waivers.load_waivers(waiver_path, max_days=config.waiver_max_days if config else None)
        except WaiverError as exc:
            problems.append(str(exc))
    if args.baseline:
        from policycheck import baseline

        try:
            base = baseline.load_baseline(args.baseline)
        except baseline.BaselineError as exc:
            problems.append(str(exc))
    elif args.fail_on_new:
        problems.append("--fail-on-new needs --baseline FILE (an earlier JSON report)")
    if problems:
        raise pipeline.UsageError("\n".join(problems))

    fail_on = args.fail_on or (config.fail_on if config else None) or "low"
    github = os.environ.get("GITHUB_ACTIONS") == "true"
    outcome = pipeline.run(pipeline.RunInputs(
        policies=policies, snapshot=args.facts, config=config, plugins=plugins, loaded=[p.id for p in loaded],
        waivers=wlist, baseline=base, clock=clock, fail_on=fail_on, fail_on_error=args.fail_on_error,
        soft_fail=args.soft_fail, fail_on_new=args.fail_on_new, strict_waivers=args.strict_waivers,
        frameworks=sorted({fw for fw, _ in pipeline.parse_frameworks(args.framework)}) or None,
        options={"color": _color(sys.stdout) and not args.no_color and not args.output, "verbose": args.verbose,
                 "github": github, "source_files": _source_files(config)},
        on_event=None if args.facts else _progress(), on_warning=_warn))
    if _EXIT_HARD:
        _KEPT.append(outcome)  # freed by the process's end, not object by object (see entry)
    report = outcome.report
    _write_outputs(args, report, reporters)
    for n in outcome.notes:
        _warn(n)
    if github:
        _github(args, report, reporters)
    return outcome.gate.exit_code


def _github(args: argparse.Namespace, report: Report, reporters: dict[str, Reporter]) -> None:
    """Under GitHub Actions: the ``github`` reporter's annotations (on stderr when stdout carries
    JSON/XML/Markdown), and the Markdown report appended to $GITHUB_STEP_SUMMARY."""
    from policycheck.reporters.github import step_summary

    if "github" in reporters and args.format != "github":
        machine = args.format not in ("text", "brief") and not args.output
        # workflow commands on purpose: the reporter escaped every value (never through _emit's guard)
        (sys.stderr if machine else sys.stdout).write(reporters["github"].render(report))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    text = step_summary(report, reporters) if summary_file else None
    if text is not None and summary_file:
        try:
            from policycheck.secrets import redact_all

            with open(summary_file, "a", encoding="utf-8") as fh:
                fh.write(redact_all(text))
        except OSError as exc:
            _warn(f"cannot append to GITHUB_STEP_SUMMARY: {exc.strerror}")


def _check_formats(args: argparse.Namespace, reporters: dict[str, Reporter]) -> None:
    """Every format asked for exists and every output path can be written, before anything runs."""
    from policycheck.cliargs import EXTRA_OUTPUTS
    from policycheck.pipeline import UsageError

    for fmt in [args.format] + [f for _, attr, f in EXTRA_OUTPUTS if getattr(args, attr, None)]:
        if fmt not in reporters:
            from policycheck.textutil import suggest

            raise UsageError(f"unknown format '{fmt}'" + suggest(fmt, reporters)
                             + f" (formats: {', '.join(sorted(reporters))})")
    inputs = [(o, getattr(args, a, None)) for o, a in (("--facts", "facts"), ("--baseline", "baseline"),
                                                         ("--waivers", "waivers"))]
    inputs += [("REPORT", spec.partition("=")[2] if "=" in spec and not os.path.exists(spec) else spec)
               for spec in getattr(args, "reports", None) or ()]
    check_outputs([(opt, getattr(args, attr, None)) for opt, attr, _ in EXTRA_OUTPUTS]
                  + [("-o/--output", args.output)], inputs)


def _write_outputs(args: argparse.Namespace, report: Report, reporters: dict[str, Reporter]) -> None:
    from policycheck.cliargs import EXTRA_OUTPUTS

    def rendered(fmt: str, rep: Report) -> str | Iterable[str]:
        rend = reporters[fmt]
        return rend.chunks(rep) if rend.chunks is not None else rend.render(rep)

    for _, attr, fmt in EXTRA_OUTPUTS:
        if getattr(args, attr, None):
            _write(getattr(args, attr), rendered(fmt, _plain(report)))
    if args.output:
        _write(args.output, rendered(args.format, _plain(report)))
        return
    if args.format == "github":  # workflow commands on purpose: the reporter escaped every value
        sys.stdout.write(reporters["github"].render(report))
        return
    _emit(reporters[args.format].render(report), trusted_escapes=True)


def _source_files(config: Config | None) -> dict[str, list[str]]:
    """{source name: [file, ...]} for the config's `file` sources (SARIF's physical locations)."""
    out: dict[str, list[str]] = {}
    if config is None:
        return out
    for s in config.sources:
        if isinstance(s, dict) and s.get("plugin") == "file":
            files = s.get("paths") or ([s["path"]] if s.get("path") else [])
            out[str(s.get("name"))] = [str(config.base_dir / f) for f in files if isinstance(f, str)]
    return out


def _as_of(args: argparse.Namespace, config: Config | None) -> dict[str, Any] | None:
    """The evaluation clock asked for (--as-of, else the config's as_of), validated; None: collected_at."""
    from policycheck.pipeline import UsageError
    from policycheck.timeutil import parse_time

    if args.as_of:
        text, source, where = args.as_of, "--as-of", None
    elif config is not None and config.as_of:
        text, source, where = config.as_of, "config as_of", config.where(("as_of",))
    else:
        return None
    import re

    try:
        parse_time(text)
        if not re.search(r"(Z|z|[+-]\d{2}:?\d{2})$", str(text).strip()):
            raise ValueError("no UTC offset")
    except (ValueError, TypeError):
        raise UsageError(f"{where or '--as-of'}: {text!r} is not an ISO 8601 time with an offset "
                         "(e.g. 2026-11-25T06:00:00Z)") from None
    return {"time": str(text), "source": source, "where": where}


def _plain(report: Report) -> Report:
    import copy

    r = copy.copy(report)
    r.options = dict(report.options, color=False)
    return r


def cmd_collect(args: argparse.Namespace) -> int:
    from policycheck import pipeline

    config = _config(args, required=True)
    check_outputs((("-o/--output", args.output),))
    plugins = _plugins(args)
    outcome = pipeline.run(pipeline.RunInputs(policies=(), config=config, plugins=plugins, on_event=_progress(),
                                              on_warning=_warn))
    doc = outcome.document  # derived facts go into the snapshot too
    text = json.dumps(doc, indent=1, ensure_ascii=False, default=str) + "\n"
    if args.output:
        _write(args.output, text)
    else:
        _emit(text, trusted_escapes=True)  # JSON: every control character is escaped already
    failed = [s for s in doc["sources"] if s["status"] != "ok"]
    for s in doc["sources"]:
        line = (f"{_one_line(s['name'])} ({_one_line(s['plugin'])}): {s['status']}, {s['objects']} objects "
                f"in {s['duration_s']}s")
        sys.stderr.write(line + (f": {_one_line(s['error'])}" if s["error"] else "") + "\n")
    return ExitCode.SOURCE_ERROR if failed else ExitCode.OK


def cmd_policies(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from policycheck.pipeline import UsageError, load_all_policies

    action = args.policies_command
    if action is None:
        parser.parse_args(["policies", "--help"])
        return ExitCode.INVALID_INPUT
    if action == "validate":
        return _validate(args)
    if action == "test":
        from policycheck import policytest

        paths = [Path(p) for p in args.paths] or [policytest.builtin_tests_dir()]
        plugins = _plugins(args)
        policies = load_all_policies(args.policies, plugins=plugins)
        outcomes = policytest.run_tests(paths, policies, plugins)  # a TestFileError is exit 2
        failed = 0
        for o in outcomes:
            mark = "ok  " if o.ok else "FAIL"
            _emit(f"{mark} {o.file}: {o.policy} — {o.name}\n")
            for line in o.problems:
                _emit(f"       {line}\n")
            failed += not o.ok
        _emit(f"{len(outcomes) - failed} passed, {failed} failed\n")
        return ExitCode.FINDINGS if failed else ExitCode.OK
    config = _config(args, required=False)  # -c FILE, else ./policycheck.yaml when there is one
    plugins = _plugins(args)
    params, origins = _params(argparse_ns(param=[]), config) if config else ({}, {})
    policies = load_all_policies(args.policies + (config.policies if config else []), plugins=plugins,
                                 parameters=params, origins=origins, where=str(config.path) if config else None)
    if action == "list":
        if args.framework:
            from policycheck.pipeline import select_policies

            policies = select_policies(policies, frameworks=args.framework)
        if args.format == "json":
            _emit(json.dumps([p.to_dict() for p in policies], indent=1) + "\n")
        else:
            from policycheck.controls import controls_text

            for p in sorted(policies, key=lambda p: p.id):
                ctl = f"  [{controls_text(p.controls)}]" if p.controls else ""
                _emit(f"{p.id:10} {p.severity:8} {p.target:14} {p.title}{ctl}\n")
        return ExitCode.OK
    if action == "show":
        match = [p for p in policies if p.id == args.id.upper()]
        if not match:
            from policycheck.textutil import suggest

            hint = "" if config else " (a site policy? pass -c CONFIG or --policies PATH)"
            raise UsageError(f"no policy '{args.id}'" + suggest(args.id.upper(), [p.id for p in policies]) + hint)
        import textwrap

        import yaml

        p = match[0]
        from policycheck.controls import controls_text

        out = [f"{p.id}  {p.title}", f"severity: {p.severity}   target: {p.target}   tags: {', '.join(p.tags)}",
               f"file: {p.path}"] + ([f"controls: {controls_text(p.controls)}"] if p.controls else [])
        out += ["", "rationale:", textwrap.indent(textwrap.fill(p.rationale, 96), "  "), "",
                "remediation:", textwrap.indent(textwrap.fill(p.remediation, 96), "  ")]
        if p.parameters:
            out += ["", f"parameters (override in the config under parameters: {{{p.id}: {{...}}}}):"]
            rules = p.target_params.describe() if p.target_params else {}
            given = ((config.parameters or {}).get(p.id) or {}) if config else {}
            for prm in p.parameters:
                value = (f", {config.path}: {given[prm.name]!r}"
                         if config and isinstance(given, dict) and prm.name in given else "")
                out.append(f"  {prm.name} ({prm.type}, default {prm.default!r}{value}): {prm.description}")
                if prm.name in rules:
                    out.append("    per target (the config's by_target, first match wins):")
                    out += [f"      {i}. {sel} -> {v!r}" if sel != "otherwise" else f"      otherwise -> {v!r}"
                            for i, (sel, v) in enumerate(rules[prm.name], 1)]
        if p.when:
            out += ["", "applies when:", textwrap.indent(yaml.safe_dump(p.when, sort_keys=False), "  ").rstrip()]
        out += ["", "requires:", textwrap.indent(yaml.safe_dump(p.require, sort_keys=False), "  ").rstrip()]
        from policycheck.derive import registry
        from policycheck.explain import derivation_lines

        out += derivation_lines(p, registry(plugins))
        _emit("\n".join(out) + "\n")
        return ExitCode.OK
    return ExitCode.INVALID_INPUT


def _validate(args: argparse.Namespace) -> int:
    """Validate policy files as `check` would load them: beside the built-in catalog and every plugin's
    policies (a colliding id is an error), fact paths checked against the facts model, parameters
    against the config's values. Without PATH: the config's policies and every policies/ directory
    below the working directory (the pre-commit hook validates the whole set on each commit)."""
    from policycheck.model import ModelChecker
    from policycheck.pipeline import UsageError, load_all_policies
    from policycheck.policy import PolicyLoadError, policy_files

    paths = [Path(p) for p in args.paths]
    config = _config(args, required=False) if args.config or not paths else None
    if not paths:
        paths = [Path(p) for p in (config.policies if config else [])] + _policy_dirs(Path.cwd())
        if not paths:
            raise UsageError("no policy files: pass PATH (a file or directory), or -c CONFIG with policies:")
    plugins = _plugins(args)
    mine = {f.resolve() for f in policy_files(paths)}
    params, origins = _params(argparse_ns(param=[]), config) if config else ({}, {})
    policies = load_all_policies(paths, builtin=True, plugins=plugins, parameters=params,
                                 where=str(config.path) if config else None, origins=origins)
    prefixes = [i.name for i in plugins.infos if not i.builtin] + list(plugins.collectors)
    extra: dict[str, set[str]] = {}
    for c in plugins.collectors.values():
        for kind, names in (getattr(c, "attributes", None) or {}).items():
            extra.setdefault(kind, set()).update(names)
    checker = ModelChecker(prefixes, extra)
    ours = [p for p in policies if Path(p.path).resolve() in mine or Path(p.path) in mine]
    errors = []
    for p in ours:
        for jpath, message in checker.check(p):
            errors.append(p.error(jpath, message))
    if errors:
        raise PolicyLoadError(errors)
    sys.stdout.write(f"{len(ours)} policies valid: {', '.join(p.id for p in ours)}\n")
    return ExitCode.OK


def argparse_ns(**kw: Any) -> argparse.Namespace:
    import argparse

    return argparse.Namespace(**kw)


_SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", "tests", "build", "dist",
              ".tox", ".nox"}


def _policy_dirs(root: Path) -> list[Path]:
    """Every directory named policies/ below ``root`` (not under tests/, hidden or build directories)."""
    out: list[Path] = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")
                             and not d.endswith(".egg-info"))
        if Path(dirpath).name == "policies":
            out.append(Path(dirpath))
    return out


def cmd_explain(args: argparse.Namespace) -> int:
    """``explain POLICY TARGET``: the evaluation of one result as a tree (policycheck/explain.py)."""
    from policycheck import explain
    from policycheck.engine import evaluate
    from policycheck.pipeline import UsageError, build_facts, load_all_policies, load_snapshot

    config = _config(args, required=not args.facts)
    plugins = _plugins(args)
    params, origins = _params(args, config)
    loaded = load_all_policies(list(config.policies if config else []) + args.policies,
                               builtin=not args.no_builtin and (config.builtin_policies if config else True),
                               plugins=plugins, parameters=params, where=str(config.path) if config else "--param",
                               origins=origins)
    match = [p for p in loaded if p.id == args.policy.upper()]
    if not match:
        from policycheck.textutil import suggest

        raise UsageError(f"no policy '{args.policy}'" + suggest(args.policy.upper(), [p.id for p in loaded]))
    policy = match[0]
    clock = _as_of(args, config)
    wlist = None
    waiver_path = args.waivers or (config.waivers if config else None)
    if waiver_path:
        from policycheck import waivers

        try:
            wlist = waivers.load_waivers(waiver_path, max_days=config.waiver_max_days if config else None)
        except WaiverError as exc:
            raise UsageError(str(exc)) from None
    doc = load_snapshot(args.facts) if args.facts else _collect_doc(config, plugins)
    facts = build_facts(doc, plugins, args.facts or "collected facts")
    if clock:
        facts.as_of = clock["time"]
    try:
        ent = explain.find_target(facts, policy, args.target)
    except explain.ExplainError as exc:
        raise UsageError(str(exc)) from None
    results = [r for r in evaluate([policy], facts) if r.target_kind == policy.target]
    states: list[dict[str, Any]] = []
    if wlist is not None:
        from policycheck import waivers

        states = waivers.apply_waivers(results, wlist, facts.as_of or facts.collected_at,
                                       loaded=[p.id for p in loaded], evaluated=[policy.id])
    result = next((r for r in results if r.target_id == ent["id"]), None)
    tree = explain.explain(policy, facts, ent["id"], result=result, origins=origins, waivers=states,
                           clock=clock or {"time": facts.collected_at, "source": "collected_at", "where": None})
    if args.format == "json":
        _emit(json.dumps(tree, indent=1, ensure_ascii=True, default=str) + "\n", trusted_escapes=True)
    else:
        _emit(explain.render_text(tree))
    return ExitCode.OK


def cmd_merge(args: argparse.Namespace) -> int:
    """``merge REPORT.json...``: one report from several runs' JSON reports (policycheck/merge.py)."""
    from policycheck import merge

    plugins = _plugins(args)
    _check_formats(args, plugins.reporters)
    from policycheck.gate import compute_gate

    report = merge.merge_files(args.reports)  # a MergeError is an input error (exit 2)
    report.fail_on = args.fail_on
    gate = report.gate = compute_gate(report.results, args.fail_on, args.fail_on_error, args.soft_fail)
    report.options = {"color": _color(sys.stdout) and not args.no_color and not args.output,
                      "verbose": args.verbose, "github": False}
    _write_outputs(args, report, plugins.reporters)
    for n in report.notes:
        _warn(n)
    return gate.exit_code


def cmd_plugins(args: argparse.Namespace) -> int:
    from policycheck.plugins import make_plugins

    plugins = make_plugins(disabled=args.disable_plugin)
    if args.format == "json":
        _emit(json.dumps([i.__dict__ for i in plugins.infos], indent=1) + "\n")
        return ExitCode.OK
    for i in plugins.infos:
        status = "ok" if not i.error else ("disabled" if i.error == "disabled" else "ERROR")
        _emit(f"{i.name:22} {i.version or '-':10} {status:8} {i.module}\n")
        if i.collectors:
            _emit(f"{'':22} collectors: {', '.join(i.collectors)}\n")
        if i.reporters:
            _emit(f"{'':22} reporters: {', '.join(i.reporters)}\n")
        if i.derivations:
            shown = ", ".join(i.derivations) if len(i.derivations) <= 4 else \
                f"{len(i.derivations)} ({', '.join(i.derivations[:3])}, ...; `policycheck policies show ID` names them)"
            _emit(f"{'':22} derivations: {shown}\n")
        if i.error and i.error != "disabled":
            _emit(f"{'':22} error: {i.error}\n")
    return ExitCode.OK


# ---- disaster recovery: runbook, what-if, guard (policycheck/recovery/, docs/disaster-recovery.md) ----
EXIT_REFUSED = ExitCode.RESTORE_REFUSED  # kept for importers: guard refused the restore


def _recovery_doc(args: argparse.Namespace) -> tuple[dict[str, Any], Config | None, Plugins, dict[str, Any] | None]:
    """(the facts document before derivation, config, plugins, clock) from --facts or the config's sources."""
    config = _config(args, required=not args.facts)
    plugins = _plugins(args)
    clock = _as_of(args, config)
    doc = load_snapshot_or_collect(args, config, plugins)
    return doc, config, plugins, clock


def load_snapshot_or_collect(args: argparse.Namespace, config: Config | None, plugins: Plugins) -> dict[str, Any]:
    from policycheck.pipeline import load_snapshot

    return load_snapshot(args.facts) if args.facts else _collect_doc(config, plugins)


def _recovery_facts(doc: dict[str, Any], plugins: Plugins | None, where: str,
                    clock: dict[str, Any] | None) -> Facts:
    from policycheck.pipeline import build_facts

    facts = build_facts(doc, plugins, where)
    if clock:
        facts.as_of = clock["time"]
    return facts


def cmd_runbook(args: argparse.Namespace) -> int:
    from policycheck.engine import evaluate
    from policycheck.pipeline import UsageError, load_all_policies, select_policies
    from policycheck.recovery import runbook

    check_outputs((("-o/--output", args.output),))
    doc, config, plugins, clock = _recovery_doc(args)
    facts = _recovery_facts(doc, plugins, args.facts or "collected facts", clock)
    params, origins = _params(argparse_ns(param=[]), config)
    policies = select_policies(load_all_policies(plugins=plugins, parameters=params, origins=origins,
                                                 where=str(config.path) if config else None),
                               list(runbook.POLICIES))
    results = {(r.policy.id, r.target_id): (r.status, r.message) for r in evaluate(policies, facts)
               if r.target_kind == "backup_server"}
    book = runbook.build(facts, results)
    if args.server:
        wanted = {(facts.get("backup_server", n) or {}).get("id") for n in args.server}
        unknown = [n for n in args.server if facts.get("backup_server", n) is None]
        if unknown:
            from policycheck.textutil import suggest

            raise UsageError(f"--server {unknown[0]}: no such backup server" + suggest(
                unknown[0], [s["id"] for s in facts.entities("backup_server")]))
        book["servers"] = [s for s in book["servers"] if s["server"] in wanted]
    if args.format == "json":
        text = json.dumps(book, indent=1, ensure_ascii=False, default=str) + "\n"
    elif args.format == "markdown":
        text = runbook.render_markdown(book)
    else:
        text = runbook.render_text(book)
    if args.output:
        _write(args.output, text)
    else:
        _emit(text, trusted_escapes=args.format == "json")
    return ExitCode.OK


def cmd_whatif(args: argparse.Namespace) -> int:
    import copy

    from policycheck.engine import evaluate
    from policycheck.pipeline import UsageError, load_all_policies
    from policycheck.recovery import whatif

    doc, config, plugins, clock = _recovery_doc(args)
    try:
        targets = whatif.resolve_names(doc, args.lose)
    except whatif.LoseError as exc:
        raise UsageError(str(exc)) from None
    lost_doc, loss = whatif.lose(doc, targets)
    params, origins = _params(argparse_ns(param=[]), config)
    policies = load_all_policies(list(config.policies if config else []) + args.policies, plugins=plugins,
                                 parameters=params, origins=origins, where=str(config.path) if config else None)
    where = args.facts or "collected facts"
    before = evaluate(policies, _recovery_facts(copy.deepcopy(doc), plugins, where, clock))
    after = evaluate(policies, _recovery_facts(lost_doc, plugins, where + " (what-if)", clock))
    changes = whatif.compare(before, after)
    if args.format == "json":
        out = {"lose": args.lose, "lost": [{"kind": k, "id": i, "why": w} for k, i, w in loss.lost],
               "copies_lost": [{"bootstrap": b, "copy": c, "why": w} for b, c, w in loss.copies],
               **{k: [c.to_dict() for c in v] for k, v in changes.items()}}
        _emit(json.dumps(out, indent=1, ensure_ascii=False) + "\n", trusted_escapes=True)
    else:
        lines = [f"What if {', '.join(args.lose)} were lost (as of {clock['time'] if clock else 'the facts collection'}):"]
        lines += ["  lost: " + d for d in loss.describe()]
        titles = (("broken", "Passes now, would not"), ("worse", "Already failing, the reason would change"),
                  ("other", "Other changes"))
        for key, title in titles:
            if changes[key]:
                lines += ["", title + ":"]
                for c in changes[key]:
                    lines.append(f"  {c.policy} {c.severity} {c.target}: {c.before} -> {c.after}")
                    if c.after_message:
                        lines.append(f"      now: {c.after_message}")
                    if key == "worse" and c.before_message:
                        lines.append(f"      was: {c.before_message}")
        if not any(changes.values()):
            lines += ["", "No result changes."]
        else:
            lines += ["", f"{len(changes['broken'])} result(s) would break, {len(changes['worse'])} already failing "
                      f"would fail otherwise, {len(changes['other'])} other change(s)."]
        _emit("\n".join(lines) + "\n")
    return ExitCode.FINDINGS if changes["broken"] else ExitCode.OK


def cmd_guard(args: argparse.Namespace) -> int:
    import subprocess

    from policycheck.pipeline import UsageError, build_facts, load_snapshot
    from policycheck.recovery import guard

    command = list(args.restore_command or [])
    if command and command[0] == "--":
        command = command[1:]
    facts = build_facts(load_snapshot(args.facts), None, args.facts)
    if not guard.client_known(facts, args.source):
        from policycheck.textutil import suggest

        raise UsageError(f"--from {args.source}: no host or client in the facts has this name" + suggest(
            args.source, [h["id"] for h in facts.entities("host")]))
    me = guard.local()
    v = guard.check(facts, me, args.source, args.path, to=args.to, relocate=args.relocate,
                    allow_unknown=args.allow_unknown)

    def say(text: str) -> None:
        sys.stderr.write(f"policycheck guard: {_one_line(text)}\n")

    local_desc = f"{me.fqdn or me.hostname} ({me.os or 'os unknown'}" + (
        f", {', '.join(me.addresses[:4])}" if me.addresses else "") + (", from POLICYCHECK_GUARD_*" if me.overridden else "") + ")"
    if args.format == "json":
        sys.stderr.write(json.dumps({"local": me.__dict__, **v.to_dict()}, ensure_ascii=False) + "\n")
    if v.here.host is not None:
        say(f"you are on {guard.describe(facts, v.here.host)}")
    else:
        say(f"you are on {local_desc}: THE FACTS CANNOT TELL WHAT THIS HOST IS ({v.here.why})")
    say(f"restore of {args.path} from {args.source}"
        + (f" onto {v.destination['id']}" if v.destination else "") + (" (a system location)" if v.system_path else ""))
    for code, why in v.overridden:
        say(f"WARNING: --allow-unknown overrides '{code}': {why}. PROCEEDING ON A HOST THE FACTS DO NOT KNOW")
    if v.refused:
        for code, why in v.reasons:
            say(f"REFUSED ({code}): {why}")
        say("nothing was run" + (f": {' '.join(command)}" if command else ""))
        return ExitCode.RESTORE_REFUSED
    if not command:
        say("ok: no reason to refuse (no command given)")
        return ExitCode.OK
    say(f"ok: running {' '.join(command)}")
    sys.stderr.flush()
    sys.stdout.flush()
    try:
        rc = subprocess.run(command).returncode
    except FileNotFoundError:
        _err(f"guard: command not found: {command[0]}")
        return ExitCode.COMMAND_NOT_FOUND
    except PermissionError:
        _err(f"guard: command not executable: {command[0]}")
        return ExitCode.COMMAND_NOT_EXECUTABLE
    return 128 - rc if rc < 0 else rc


#: set by :func:`entry` (the console script), never by an in-process caller of :func:`main`: the process
#: ends right after the run, so its facts and results are not freed one object at a time
_EXIT_HARD = False
_KEPT: list[Any] = []


def entry(argv: Sequence[str] | None = None) -> None:
    """The console script and ``python -m policycheck``: run, then make sure nothing a collector
    started outlives the run (a subprocess, a pool thread still waiting on a source past its
    deadline): the process ends as soon as its report is written.

    It ends with ``os._exit`` once the output is flushed and the exit handlers have run (a plugin's
    clean-up of its temporary files included): freeing a 100k-client run's facts and results object by
    object, as the interpreter's shutdown would, costs half a second of CPU for nothing (mypy does the same).
    Under a profiler or a coverage tracer it exits normally, so that they can write what they measured."""
    global _EXIT_HARD
    _EXIT_HARD = True
    from policycheck import facts

    facts.FREEZE_AFTER_PAUSE = True  # the run's objects are not scanned again by the GC either
    rc = main(argv)
    from policycheck.collect import end_children

    end_children()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # the reader went away: what was written is all it wanted
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        except (OSError, ValueError) as exc:  # a full disk, say: the report is incomplete, as for -o FILE
            if stream is sys.stdout:
                _err(f"cannot write to standard output: {getattr(exc, 'strerror', None) or exc}")
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.flush()
                rc = ExitCode.INVALID_INPUT
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(rc)  # under a profiler or coverage, which write their data at the interpreter's exit
    import atexit

    atexit._run_exitfuncs()  # what the interpreter's shutdown would run: plugins' atexit clean-ups, logging
    os._exit(int(rc))


if __name__ == "__main__":  # pragma: no cover
    entry()
