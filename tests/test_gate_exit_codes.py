"""Every row of docs/exit-codes.md, run through the real CLI (check and audit) on generated facts."""
from __future__ import annotations

import re
import shlex

import pytest
from test_gate_helpers import POLICY_OF, ROOT, gate_args, gate_env, host, run, snapshot, waiver, waiver_file  # noqa: F401

from policycheck.results import SEVERITIES

TABLE = ROOT / "docs" / "exit-codes.md"
ROW = re.compile(r"^\|\s*(\(none\)|`[^`]*`)\s*\|\s*([^|]+?)\s*\|\s*(\d)\s*\|\s*$")


def rows():
    out = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            opts = [] if m.group(1) == "(none)" else shlex.split(m.group(1).strip("`"))
            out.append((opts, m.group(2), int(m.group(3))))
    return out


ROWS = rows()


def test_the_table_is_read():
    assert len(ROWS) >= 70
    outcomes = {o for _, o, _ in ROWS}
    for needed in ("all pass", "failure below threshold", "failure at or above threshold", "errors only",
                   "failure + errors", "invalid config"):
        assert needed in outcomes
    for opts in ([], ["--fail-on", "high"], ["--fail-on-error"], ["--no-fail-on-error"], ["--soft-fail"]):
        assert len([o for op, o, _ in ROWS if op == opts]) >= 6, opts
    assert len({(tuple(o), c) for o, c, _ in ROWS}) == len(ROWS), "a row is repeated"


def _threshold(opts):
    return opts[opts.index("--fail-on") + 1] if "--fail-on" in opts else "low"


def _scenario(outcome: str, fail_on: str):
    """(current hosts, failed sources, baseline hosts or None, waiver entries or None, breakage)."""
    i = SEVERITIES.index(fail_on)
    at = SEVERITIES[i]
    below = SEVERITIES[i - 1] if i else None
    ok = [host("h1.example.org")]
    failing = [host("h1.example.org", fail=[at])]
    erroring = [host("h2.example.org", missing=["critical"])]
    at_policy = POLICY_OF[at]
    active, expired, far = "2026-12-31", "2026-11-01", "2028-06-30"
    table = {
        "all pass": (ok, (), None, None, None),
        "failure below threshold": ([host("h1.example.org", fail=[below])], (), None, None, None),
        "failure at or above threshold": (failing, (), None, None, None),
        "errors only": (ok + erroring, (), None, None, None),
        "error below threshold": ([host("h1.example.org", missing=[below])], (), None, None, None),
        "source failed": (ok, [("cmdb", "connection refused")], None, None, None),
        "failure + errors": (failing + erroring, (), None, None, None),
        "invalid config": (ok, (), None, None, "config"),
        "new failure": (failing, (), ok, None, None),
        "new failure below threshold": ([host("h1.example.org", fail=[below])], (), ok, None, None),
        "unchanged failure": (failing, (), failing, None, None),
        "fixed failure": (ok, (), failing, None, None),
        "unchanged failure + errors": (failing + erroring, (), failing, None, None),
        "invalid baseline": (failing, (), None, None, "baseline"),
        "waived failure": (failing, (), None, [waiver(at_policy, "h1.example.org", active)], None),
        "waived error": (ok + erroring, (), None, [waiver("GATE-005", "h2.*", active)], None),
        "expired waiver": (failing, (), failing, [waiver(at_policy, "h1.example.org", expired)], None),
        "waiver too far ahead": (failing, (), None, [waiver(at_policy, "h1.example.org", far)], None),
        "stale waiver": (ok, (), None, [waiver(at_policy, "h1.example.org", active)], None),
        "invalid waiver file": (failing, (), None, [{"policy": at_policy, "target": "h1.example.org",
                                                     "reason": "no owner, no expiry"}], None),
        "waiver with a bare * target": (failing, (), None, [waiver(at_policy, "*", active)], None),
        "waiver over several targets": (failing + [host("h3.example.org", fail=[at])], (), None,
                                        [waiver(at_policy, "h*.example.org", active)], None),
        "waiver over several targets with match many": (failing + [host("h3.example.org", fail=[at])], (), None,
                                                        [waiver(at_policy, "h*.example.org", active, match="many")],
                                                        None),
        "waiver naming no policy": (failing, (), None, [waiver(at_policy[:-1] + "9", "h1.example.org", active)], None),
        "waiver naming no policy, all pass": (ok, (), None, [waiver("GATE-09", "h1.example.org", active)], None),
        "waiver on a policy not selected": ([host("h1.example.org", fail=["high"])], (), None,
                                            [waiver("GATE-004", "h1.example.org", active)], None),
    }
    return table[outcome]


def _prepare(tmp_path, capsys, opts, outcome):
    hosts, failed, base_hosts, waivers, broken = _scenario(outcome, _threshold(opts))
    facts = snapshot(tmp_path / "facts.json", hosts, failed)
    argv = list(opts)
    if "BASE.json" in argv:
        base = tmp_path / "BASE.json"
        if broken == "baseline":
            base.write_text("{not json", encoding="utf-8")
        else:
            before = snapshot(tmp_path / "before.json", base_hosts if base_hosts is not None else hosts)
            extra = []
            if waivers:  # the baseline was written while the waivers were in force
                extra = ["--waivers", waiver_file(tmp_path / "then.yaml",
                                                  [dict(w, expires="2026-12-31") for w in waivers])]
            rc, _, err = run(capsys, ["check", *gate_args(before, "--json", base, "--soft-fail", *extra)])
            assert rc == 0 and base.is_file(), err
        argv[argv.index("BASE.json")] = str(base)
    if "WAIVERS.yaml" in argv:
        argv[argv.index("WAIVERS.yaml")] = str(waiver_file(tmp_path / "waivers.yaml", waivers or []))
    if broken == "config":
        bad = tmp_path / "policycheck.yaml"
        bad.write_text("version: 1\nsorces: []\n", encoding="utf-8")
        argv += ["-c", str(bad)]
    return gate_args(facts, *argv)


@pytest.mark.parametrize("command", ["check", "audit"])
@pytest.mark.parametrize("opts,outcome,code", ROWS, ids=[f"{' '.join(o) or '(none)'} | {c}" for o, c, _ in ROWS])
def test_exit_code_row(tmp_path, capsys, command, opts, outcome, code):
    argv = _prepare(tmp_path, capsys, opts, outcome)
    rc, out, err = run(capsys, [command, *argv])
    assert rc == code, f"{command} {' '.join(argv)}\nstdout:\n{out}\nstderr:\n{err}"
    if code == 2:
        assert "error:" in err and not out.strip(), "exit 2 means nothing was evaluated or printed"
    else:
        assert "results)" in out, "every evaluated run prints its summary line, soft-fail or not"


def test_exit_code_help_names_every_code(capsys):
    rc, out, _ = run(capsys, ["check", "--help"])
    assert rc == 0
    for c in ("0 ", "1 ", "2 ", "3 "):
        assert f"\n  {c}" in out


def test_console_script_exit_code_matches_in_process(tmp_path):
    """The installed entry point gives the same code as main(): once, through a real process."""
    import os
    import subprocess
    import sys

    facts = snapshot(tmp_path / "facts.json", [host("h1.example.org", fail=["high"])])
    env = dict(os.environ, POLICYCHECK_NO_ENTRY_POINTS="1")
    env.pop("GITHUB_ACTIONS", None)
    cmd = [sys.executable, "-m", "policycheck", "check", *gate_args(facts)]
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=120).returncode == 1
    assert subprocess.run(cmd + ["--fail-on", "critical"], env=env, capture_output=True,
                          timeout=120).returncode == 0
