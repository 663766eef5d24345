"""The command-line grammar: every command, option and help text (parsing only; cli.py prints)."""
from __future__ import annotations

import argparse
import sys

from policycheck import __version__

EXIT_USAGE = 2
SEVERITIES = ("info", "low", "medium", "high", "critical")

EXIT_CODES_HELP = """exit codes:
  0  every evaluated result passed (or was skipped/waived), or --soft-fail
  1  at least one failure at or above --fail-on (default: low)
  2  invalid invocation, config, policy or input file: nothing was evaluated
  3  no such failure, but some results are `error` (facts missing, a source failed);
     --no-fail-on-error turns this into 0
"""

EPILOG = """examples:
  policycheck audit -c examples/datazone/policycheck.yaml     audit a datazone, human report
  policycheck check -c policycheck.yaml --junit report.xml    CI gate, JUnit for Jenkins/GitLab
  policycheck collect -c policycheck.yaml -o facts.json      save the facts once
  policycheck audit --facts facts.json                       judge a saved snapshot, contacting nothing
  policycheck policies list                                  the built-in catalog
  policycheck policies validate my-policies/                 check policy files before committing them

""" + EXIT_CODES_HELP


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write(f"policycheck: error: {message}\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="policycheck", description="Policy-as-code compliance checking for backup infrastructure: "
                "judge a datazone's backup servers, bootstraps, hypervisors and clients against backup practice.",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"policycheck {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def common_sources(sp):
        sp.add_argument("-c", "--config", metavar="FILE",
                        help="config file: sources, policy paths, parameters, waivers (default: ./policycheck.yaml)")
        sp.add_argument("--disable-plugin", action="append", default=[], metavar="NAME",
                        help="do not load this plugin (repeatable; also POLICYCHECK_DISABLE_PLUGINS=a,b)")

    def evaluation(sp, default_format):
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
                        help=f"report format on stdout: text, brief, json, junit, markdown (default: {default_format})")
        sp.add_argument("-o", "--output", metavar="FILE", help="write the --format report to FILE instead of stdout")
        sp.add_argument("--json", metavar="FILE", help="also write the JSON report to FILE")
        sp.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report to FILE")
        sp.add_argument("--markdown", metavar="FILE", help="also write a Markdown summary to FILE")
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
    pl.add_argument("-c", "--config", metavar="FILE")
    pl.add_argument("--format", choices=("text", "json"), default="text")
    pl.add_argument("--framework", action="append", default=[], metavar="NAME[:ID]",
                    help="only policies mapped to this control framework (or its controls matching ID)")
    ps = psub.add_parser("show", help="show one policy: rationale, parameters, rule")
    ps.add_argument("id")
    ps.add_argument("--policies", action="append", default=[], metavar="PATH")
    ps.add_argument("-c", "--config", metavar="FILE", help="show the parameter values (and per-target values) "
                    "this config gives")
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

    pg = sub.add_parser("plugins", help="list plugins, what they provide, and load errors")
    pg.add_argument("--format", choices=("text", "json"), default="text")
    pg.add_argument("--disable-plugin", action="append", default=[], metavar="NAME")
    return p
