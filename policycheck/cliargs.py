"""The command-line grammar: every command, option and help text (parsing only; cli.py prints)."""
from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from policycheck import __version__
from policycheck.errors import ExitCode

EXIT_USAGE = ExitCode.INVALID_INPUT  # kept for importers; use ExitCode
SEVERITIES = ("info", "low", "medium", "high", "critical")

EXIT_CODES_HELP = """exit codes:
  0  every evaluated result passed (or was skipped/waived), or --soft-fail
  1  at least one failure at or above --fail-on (default: low)
  2  invalid invocation, config, policy or input file: nothing was evaluated
  3  no such failure, but some results are `error` (facts missing, a source failed);
     --no-fail-on-error turns this into 0
  70 internal error: a bug in policycheck or a plugin (please report it; --debug shows the traceback)
"""

EPILOG = """examples:
  policycheck audit -c examples/datazone/policycheck.yaml     audit a datazone, human report
  policycheck check -c policycheck.yaml --junit report.xml    CI gate, JUnit for Jenkins/GitLab
  policycheck collect -c policycheck.yaml -o facts.json      save the facts once
  policycheck audit --facts facts.json                       judge a saved snapshot, contacting nothing
  policycheck policies list                                  the built-in catalog
  policycheck policies validate my-policies/                 check policy files before committing them
  policycheck explain BOOT-001 nsr01 -c policycheck.yaml     how one verdict was reached, as a tree
  policycheck merge dz1.json dz2.json --html all.html        one report from several datazones' JSON

""" + EXIT_CODES_HELP


class ParserExit(Exception):
    """argparse is done: ``--help``/``--version`` (``status`` 0, the text already written or in
    ``message``), or an invalid command line (``usage`` and ``message``). cli.py prints and exits."""

    def __init__(self, status: int, message: str = "", usage: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.usage = status, message, usage


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting (only cli.py's entry exits), with ``--debug`` everywhere."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="on an internal error, print the traceback (also POLICYCHECK_DEBUG=1)")

    def error(self, message: str) -> NoReturn:
        raise ParserExit(int(ExitCode.INVALID_INPUT), message, self.format_usage())

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise ParserExit(status, message or "")


def version_text() -> str:
    """``policycheck --version``: the core's version, then each installed plugin (an entry point of the
    ``policycheck`` group) with its distribution and version, read from the package metadata without
    importing the plugin, so that the answer stays fast (README's table: under 150 ms).
    ``policycheck plugins`` imports them and shows load errors."""
    import os
    import platform

    lines = [f"policycheck {__version__} (Python {platform.python_version()})"]
    if os.environ.get("POLICYCHECK_NO_ENTRY_POINTS") == "1":
        return "\n".join(lines + ["plugins: not loaded (POLICYCHECK_NO_ENTRY_POINTS=1)"]) + "\n"
    from importlib.metadata import entry_points

    disabled = {d.strip() for d in os.environ.get("POLICYCHECK_DISABLE_PLUGINS", "").split(",") if d.strip()}
    rows = []
    for ep in sorted(entry_points(group="policycheck"), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        name = (dist.metadata["Name"] if dist is not None else "") or "?"
        version = (getattr(dist, "version", "") or "?") if dist is not None else "?"
        rows.append((ep.name, version, name + (" (disabled by POLICYCHECK_DISABLE_PLUGINS)" if ep.name in disabled
                                               else "")))
    if not rows:
        return "\n".join(lines + ["plugins: none installed (the built-in file collector and reporters only)"]) + "\n"
    lines.append("plugins:")
    width = max(len(r[0]) for r in rows)
    lines += [f"  {n:{width}}  {v:10} {d}" for n, v, d in rows]
    return "\n".join(lines) + "\n"


class _Version(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, default: Any = argparse.SUPPRESS,
                 help: str | None = None) -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        parser.exit(int(ExitCode.OK), version_text())


def extra_outputs(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--sarif", metavar="FILE", help="also write a SARIF 2.1.0 log to FILE (GitHub code scanning)")
    sp.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report to FILE")


#: the report files beside -o: (option, args attribute, format)
EXTRA_OUTPUTS = (("--json", "json", "json"), ("--junit", "junit", "junit"), ("--markdown", "markdown", "markdown"),
                 ("--sarif", "sarif", "sarif"), ("--html", "html", "html"))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="policycheck", description="Policy-as-code compliance checking for backup infrastructure: "
                "judge a datazone's backup servers, bootstraps, hypervisors and clients against backup practice.",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action=_Version, help="show the version of policycheck and of each installed "
                   "plugin, and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def common_sources(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("-c", "--config", metavar="FILE",
                        help="config file: sources, policy paths, parameters, waivers (default: ./policycheck.yaml)")
        sp.add_argument("--disable-plugin", action="append", default=[], metavar="NAME",
                        help="do not load this plugin (repeatable; also POLICYCHECK_DISABLE_PLUGINS=a,b)")

    def evaluation(sp: argparse.ArgumentParser, default_format: str) -> None:
        common_sources(sp)
        sp.add_argument("--facts", metavar="FILE", help="evaluate a saved facts snapshot instead of collecting")
        sp.add_argument("--policies", action="append", default=[], metavar="PATH",
                        help="extra policy file or directory (repeatable)")
        sp.add_argument("--no-builtin", action="store_true", help="do not load the built-in policy catalog")
        sp.add_argument("--select", action="append", default=[], metavar="PAT",
                        help="only policies whose id (glob), tag or severity matches (repeatable)")
        sp.add_argument("--skip", action="append", default=[], metavar="PAT",
                        help="leave out policies whose id (glob), tag or severity matches (repeatable)")
        sp.add_argument("--framework", action="append", default=[], metavar="NAME[:ID]",
                        help="only policies mapped to this control framework (nist-800-53, cis-v8, iso-27001, "
                        "nis2, dora, or a site's x-...), or to its controls matching ID (a glob: "
                        "nist-800-53:CP-9*); repeatable; the per-control summary shows only these frameworks")
        sp.add_argument("--param", action="append", default=[], metavar="ID.NAME=VALUE",
                        help="override a policy parameter, e.g. BOOT-001.max_age=48h (value read as YAML)")
        sp.add_argument("--format", default=default_format, metavar="FMT",
                        help="report format on stdout: text, brief, json, junit, markdown, sarif, html, openmetrics "
                        f"(default: {default_format})")
        sp.add_argument("-o", "--output", metavar="FILE", help="write the --format report to FILE instead of stdout")
        sp.add_argument("--json", metavar="FILE", help="also write the JSON report to FILE")
        sp.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report to FILE")
        sp.add_argument("--markdown", metavar="FILE", help="also write a Markdown summary to FILE")
        extra_outputs(sp)
        sp.add_argument("--fail-on", choices=SEVERITIES, metavar="SEVERITY",
                        help="lowest severity whose failures fail the gate (default: low)")
        g = sp.add_mutually_exclusive_group()
        g.add_argument("--fail-on-error", dest="fail_on_error", action="store_true", default=True,
                       help="results in error fail the gate with exit 3 (default)")
        g.add_argument("--no-fail-on-error", dest="fail_on_error", action="store_false",
                       help="results in error do not change the exit code")
        sp.add_argument("--soft-fail", action="store_true", help="report everything but always exit 0 "
                        "(except 2 for an invalid invocation)")
        sp.add_argument("--waivers", metavar="FILE", help="waiver file (overrides the config's waivers:)")
        sp.add_argument("--strict-waivers", action="store_true", help="a stale waiver (matching nothing) is an error")
        sp.add_argument("--baseline", metavar="FILE", help="an earlier JSON report: mark failures new/unchanged/fixed")
        sp.add_argument("--fail-on-new", action="store_true", help="with --baseline: gate only on new failures")
        sp.add_argument("--as-of", metavar="TIME", help="judge ages (within: 26h) as of this ISO 8601 time instead "
                        "of the facts' collection time")
        sp.add_argument("--no-color", action="store_true", help="no colour (also NO_COLOR=1)")
        sp.add_argument("-v", "--verbose", action="store_true", help="show the evidence of passes too")

    a = sub.add_parser("audit", help="judge the datazone and print the full human report",
                       description="Collect facts (or read --facts), evaluate every policy, and print the "
                       "report: problems grouped by severity, each with evidence and remediation.",
                       epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluation(a, "text")
    c = sub.add_parser("check", help="the CI gate: concise output, exit code by --fail-on",
                       description="Like audit, but prints one line per failure or error and the summary.",
                       epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluation(c, "brief")
    co = sub.add_parser("collect", help="collect facts from the config's sources and write the merged document",
                        description="Run every source of the config and write the merged facts (JSON) for "
                        "`--facts` later. Exit 3 if a source failed (its error is recorded in the file).")
    common_sources(co)
    co.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")

    pol = sub.add_parser("policies", help="list, show, validate and test policies")
    psub = pol.add_subparsers(dest="policies_command", metavar="ACTION", parser_class=_Parser)
    pl = psub.add_parser("list", help="list the policies (built-in, plugins', config's)")
    pl.add_argument("--policies", action="append", default=[], metavar="PATH")
    pl.add_argument("--format", choices=("text", "json"), default="text")
    pl.add_argument("--framework", action="append", default=[], metavar="NAME[:ID]",
                    help="only policies mapped to this control framework (or its controls matching ID)")
    ps = psub.add_parser("show", help="show one policy: rationale, parameters, rule")
    ps.add_argument("id")
    ps.add_argument("--policies", action="append", default=[], metavar="PATH")
    for sp in (pl, ps):
        sp.add_argument("-c", "--config", metavar="FILE",
                        help="also the config's policies (policies:), with its parameter values")
        sp.add_argument("--disable-plugin", action="append", default=[], metavar="NAME",
                        help="do not load this plugin (repeatable)")
    pv = psub.add_parser("validate", help="validate policy files as check would load them (exit 2 on any problem)",
                         description="Validate policy files: schema, conditions, parameters, fact paths against "
                         "the facts model (docs/facts.md), ids against the built-in catalog, the plugins' "
                         "policies and every other file given. Without PATH: the config's policies and every "
                         "policies/ directory below the working directory.")
    pv.add_argument("paths", nargs="*", metavar="PATH")
    pv.add_argument("-c", "--config", metavar="FILE", help="also check the config's policies and parameters")
    pv.add_argument("--disable-plugin", action="append", default=[], metavar="NAME")
    pt = psub.add_parser("test", help="run policy test cases (facts in, expected status per target out)")
    pt.add_argument("paths", nargs="*", metavar="PATH", help="test files or directories (default: the built-in tests)")
    pt.add_argument("--policies", action="append", default=[], metavar="PATH",
                    help="policy files the tests refer to, besides the built-in catalog")

    ex = sub.add_parser("explain", help="how one result was reached: every condition, fact, parameter, waiver",
                        description="Evaluate POLICY on TARGET again and print the whole evaluation as a "
                        "tree: every condition with its value (true, false, unknown and why), every fact read "
                        "with its value, source and observation time, the parameter values and where they "
                        "came from, and each waiver considered. Exit 0 when explained (whatever the verdict), "
                        "2 for an invalid invocation or a target the policy does not judge.",
                        epilog="example:\n  policycheck explain BMR-001 db01.corp.example -c "
                        "examples/datazone/policycheck.yaml",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ex.add_argument("policy", metavar="POLICY", help="policy id, e.g. BOOT-001")
    ex.add_argument("target", metavar="TARGET", help="the target's id or one of its aliases")
    common_sources(ex)
    ex.add_argument("--facts", metavar="FILE", help="explain on a saved facts snapshot instead of collecting")
    ex.add_argument("--policies", action="append", default=[], metavar="PATH")
    ex.add_argument("--no-builtin", action="store_true", help="do not load the built-in policy catalog")
    ex.add_argument("--param", action="append", default=[], metavar="ID.NAME=VALUE")
    ex.add_argument("--waivers", metavar="FILE", help="waiver file (overrides the config's waivers:)")
    ex.add_argument("--as-of", metavar="TIME", help="judge ages as of this ISO 8601 time")
    ex.add_argument("--format", choices=("text", "json"), default="text")

    mg = sub.add_parser("merge", help="combine the JSON reports of several runs (datazones) into one report",
                        description="Read JSON reports (`check --json FILE`), one per datazone, and write one "
                        "report in any format. Each input's targets and sources are prefixed by its label "
                        "(default: the file name without .json; LABEL=FILE to choose), so two datazones' "
                        "hosts never merge. Exit codes as for check.",
                        epilog="example:\n  policycheck merge dz-east=east.json dz-west=west.json --html all.html "
                        "--format text\n\n" + EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    mg.add_argument("reports", nargs="+", metavar="[LABEL=]REPORT.json")
    mg.add_argument("--format", default="text", metavar="FMT", help="report format on stdout (default: text)")
    mg.add_argument("-o", "--output", metavar="FILE", help="write the --format report to FILE instead of stdout")
    mg.add_argument("--json", metavar="FILE", help="also write the merged JSON report to FILE")
    mg.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report to FILE")
    mg.add_argument("--markdown", metavar="FILE", help="also write a Markdown summary to FILE")
    extra_outputs(mg)
    mg.add_argument("--fail-on", choices=SEVERITIES, metavar="SEVERITY", default="low",
                    help="lowest severity whose failures fail the gate (default: low)")
    mg.add_argument("--no-fail-on-error", dest="fail_on_error", action="store_false", default=True,
                    help="results in error do not change the exit code")
    mg.add_argument("--soft-fail", action="store_true", help="always exit 0 (except 2)")
    mg.add_argument("--no-color", action="store_true", help="no colour (also NO_COLOR=1)")
    mg.add_argument("-v", "--verbose", action="store_true", help="show the evidence of passes too")
    mg.add_argument("--disable-plugin", action="append", default=[], metavar="NAME")
    _recovery_commands(sub, common_sources)

    pg = sub.add_parser("plugins", help="list plugins, what they provide, and load errors")
    pg.add_argument("--format", choices=("text", "json"), default="text")
    pg.add_argument("--disable-plugin", action="append", default=[], metavar="NAME")
    return p


GUARD_EXIT_HELP = """exit codes:
  0 (or COMMAND's own code)  the restore may go ahead; with COMMAND, its exit code is returned
  2  invalid invocation or snapshot: nothing was checked, COMMAND not run
  4  refused: the restore would land on the wrong machine, or the facts cannot tell (COMMAND not run)

environment: POLICYCHECK_GUARD_HOSTNAME (and _FQDN, _ADDRESSES=a,b, _OS) replace what the local
system says it is (tests, a rescue system booted under another name).
"""


def _recovery_commands(sub: argparse._SubParsersAction[_Parser],
                       common_sources: Callable[[argparse.ArgumentParser], None]) -> None:
    """runbook, what-if, guard (docs/disaster-recovery.md)."""
    def facts_input(sp: argparse.ArgumentParser) -> None:
        common_sources(sp)
        sp.add_argument("--facts", metavar="FILE", help="a saved facts snapshot instead of collecting")
        sp.add_argument("--as-of", metavar="TIME", help="measure ages as of this ISO 8601 time (default: the "
                        "config's as_of, else the facts' collection time)")

    rb = sub.add_parser("runbook", help="the order of recovery after a total loss, per backup server",
                        description="For each backup server: the hosts its recovery needs (in dependency order, "
                        "with how each comes back without it), the server itself with its BMR path and where its "
                        "latest bootstrap copies are, its storage nodes, then its clients in dependency order. "
                        "Deadlocks (BSRV-003) and unknown recovery paths are named. Exit 0 when written, 2 on "
                        "invalid input.", formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="examples:\n  policycheck runbook -c examples/datazone/policycheck.yaml\n"
                        "  policycheck runbook --facts facts.json --format markdown -o runbook.md\n")
    facts_input(rb)
    rb.add_argument("--server", action="append", default=[], metavar="ID",
                    help="only this backup server (repeatable)")
    rb.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    rb.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")

    wi = sub.add_parser("what-if", help="what fails if hosts, datastores, devices ... were lost",
                        description="Judge the facts as they are and as if the named things were gone (the same "
                        "pipeline on transformed facts), and report the results that change: pass -> fail or "
                        "error, with the reason. Exit 0: nothing breaks; 1: something passes now and would "
                        "not; 2: invalid input.", formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="examples:\n  policycheck what-if -c examples/datazone/policycheck.yaml --lose dd01\n"
                        "  policycheck what-if --facts facts.json --lose esx01 --lose datastore:ds-local-esx01\n")
    facts_input(wi)
    wi.add_argument("--lose", action="append", default=[], metavar="NAME", required=True,
                    help="a host, hypervisor host, cluster, datastore, device or storage node (repeatable; "
                    "KIND:NAME to pick one kind, e.g. datastore:ds01)")
    wi.add_argument("--policies", action="append", default=[], metavar="PATH",
                    help="extra policy file or directory (repeatable)")
    wi.add_argument("--format", choices=("text", "json"), default="text")

    gd = sub.add_parser("guard", help="pre-flight for a restore: refuse to restore onto the wrong machine",
                        description="Find which host this runs on (hostname, FQDN, addresses, OS) in a facts "
                        "snapshot, print it, and refuse (exit 4, COMMAND not run) a restore of PATH from CLIENT "
                        "that would land on a backup server, storage node or hypervisor manager, on another OS, "
                        "or on another machine (without --relocate) when PATH is a system location, or when the "
                        "facts cannot tell what this host is. Otherwise run COMMAND and return its exit code.",
                        epilog="example:\n  policycheck guard --facts facts.json --from web01 --path /srv/www "
                        "-- recover -s nsr01 -c web01 -a /srv/www\n\n" + GUARD_EXIT_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    gd.add_argument("--facts", metavar="SNAPSHOT", required=True,
                    help="facts snapshot (`policycheck collect -o`): works when the sources are down")
    gd.add_argument("--from", dest="source", metavar="CLIENT", required=True, help="the client the backup is of")
    gd.add_argument("--path", metavar="PATH", required=True, help="what is restored (/, /etc, C:\\Windows, /srv/data)")
    gd.add_argument("--to", metavar="HOST", help="the host you mean to restore onto (refused if this is not it)")
    gd.add_argument("--relocate", action="store_true",
                    help="a system location may be restored onto another machine of the same OS (not a backup "
                    "server, storage node or hypervisor manager)")
    gd.add_argument("--allow-unknown", action="store_true",
                    help="go ahead although the facts cannot tell what this host is (printed loudly)")
    gd.add_argument("--format", choices=("text", "json"), default="text", help="the verdict on stderr as text or JSON")
    gd.add_argument("restore_command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...",
                    help="the restore command, run only when the guard lets it")
