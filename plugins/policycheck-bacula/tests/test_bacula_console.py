"""The private bconsole.conf (quoting Bacula reads back exactly) and the missing-package rule (skip, CI fails)."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from bacula_helpers import need_bacula
from policycheck_bacula.client import render_conf

TRICKY = 'a"b\\c d#e;f{g}'


def test_render_conf_uses_the_console_when_named():
    text = render_conf({"address": "dir.example", "port": 9199, "console_name": "audit", "password": "pw"})
    assert 'Name = "audit"' in text and 'Password = "pw"' in text and "DIRport = 9199" in text
    text = render_conf({"address": "dir.example", "password": "pw"})
    assert "Console" not in text and 'Password = "pw"' in text and "DIRport = 9101" in text


@pytest.mark.integration
def test_bacula_reads_the_password_back_exactly(tmp_path):
    need_bacula()
    tool = "/usr/lib/bacula/bbconsjson"
    if not os.access(tool, os.X_OK):
        pytest.skip("bbconsjson is not shipped here")
    conf = tmp_path / "b.conf"
    conf.write_text(render_conf({"address": "127.0.0.1", "console_name": "audit", "password": TRICKY}))
    out = json.loads(subprocess.run([tool, "-c", str(conf)], capture_output=True, text=True, timeout=30).stdout)
    console = next(r["Console"] for r in out if "Console" in r)
    assert console["Password"] == TRICKY


def test_missing_bacula_skips_but_fails_under_ci(monkeypatch):
    import bacula_helpers

    monkeypatch.setattr(bacula_helpers.bs, "missing_binaries", lambda: ["bacula-dir"])
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="bacula-dir.*apt|bacula-dir.*Debian"):
        need_bacula()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="bacula-dir"):
        need_bacula()
