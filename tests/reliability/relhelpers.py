"""Shared pieces of the reliability suite: a third-party-style plugin found through its entry point, a
healthy upstream server, and the CLI run in-process (fast, for fault and fuzz loops) or as a user runs it."""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN_SITE = HERE / "plugin_site"
ROOT = HERE.parents[1]

# what the healthy server answers: bk01 also serves files (BSRV-001 fails), bk02 is dedicated (passes)
SERVERS = {"count": 2, "items": [
    {"name": "bk01.corp.example", "roles": ["backup_server", "file_server"], "services": ["backup", "nfs"]},
    {"name": "bk02.corp.example", "roles": ["backup_server"], "services": ["backup"]},
]}


def run_main(argv, env=None, cwd=None):
    """``policycheck ARGV`` in this process: (exit code, stdout, stderr)."""
    from policycheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_env = dict(os.environ)
    old_cwd = os.getcwd()
    os.environ.pop("GITHUB_ACTIONS", None)
    os.environ.pop("GITHUB_STEP_SUMMARY", None)
    os.environ["NO_COLOR"] = "1"
    os.environ.update(env or {})
    try:
        if cwd:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main([str(a) for a in argv])
            except SystemExit as exc:  # argparse
                rc = exc.code
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
    return rc, out.getvalue(), err.getvalue()


def run_cli(*args, env=None, cwd=None, timeout=120):
    """``python -m policycheck ARGS`` as a user runs it, with the test plugin installed."""
    import subprocess

    e = dict(os.environ)
    e.pop("GITHUB_ACTIONS", None)
    e.pop("GITHUB_STEP_SUMMARY", None)
    e["NO_COLOR"] = "1"
    e["PYTHONPATH"] = os.pathsep.join([str(PLUGIN_SITE), str(ROOT)] + [p for p in [e.get("PYTHONPATH")] if p])
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "policycheck", *map(str, args)], cwd=cwd or ROOT, env=e,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def write_config(tmp_path, url, timeout=3, **settings):
    cfg = {"version": 1, "builtin_policies": True, "select": ["BSRV-001"],
           "sources": [dict({"name": "rel", "plugin": "relcheck", "url": url, "timeout": timeout,
                             "username": "svc-reader", "passphrase": "not-a-real-one"}, **settings)]}
    p = tmp_path / "policycheck.yaml"
    p.write_text(json.dumps(cfg))
    return p
