"""Issue 16 item 7: fact values, source errors, collector warnings and waiver fields carrying workflow
commands, terminal escapes and markup go through every format, and come out inert."""
from __future__ import annotations

import json
import re

import pytest
from relhelpers import run_main

PAYLOADS = ["x\n::error::pwned-nl", "x\r\n::add-mask::pwned-crlf", "x\r::warning title=t::pwned-cr",
            "\x1b]0;title\x07\x1b[2J\x1b[31mred", "\x9b31mc1", "x\n##[error]pwned-azure",
            "```<img src=x onerror=alert(1)>```", "`` ` <script>alert(1)</script>", "\u202eevil\u202c",
            "x\n  ::stop-commands::tok"]
BAD_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _snapshot(tmp_path):
    payload = " ".join(PAYLOADS)
    doc = {"schema_version": 1, "collected_at": "2026-11-25T06:00:00+00:00",
           "sources": [{"name": "inv", "plugin": "file", "status": "ok", "kinds": ["host", "backup_server"]},
                       {"name": "bad", "plugin": "file", "status": "error", "kinds": ["vm"],
                        "error": "server said: " + payload}],
           "entities": {"host": [{"id": "bk01.corp.example", "roles": ["backup_server"] + PAYLOADS,
                                  "services": ["backup"], "_sources": ["inv"]}],
                        "backup_server": [{"id": "bk01.corp.example", "host": "bk01.corp.example",
                                           "_sources": ["inv"]}]},
           "conflicts": []}
    p = tmp_path / "facts.json"
    p.write_text(json.dumps(doc))
    w = tmp_path / "waivers.yaml"
    w.write_text(json.dumps({"waivers": [{"policy": "BSRV-002", "target": "bk01.corp.example",
                                          "reason": "because " + payload, "owner": "ops\n::error::owner",
                                          "expires": "2026-12-31"}]}))
    return p, w


def _check_terminal_text(text, allow_annotations=False):
    for line in text.splitlines():
        assert not BAD_CHARS.search(line), f"raw control character in {line!r}"
        assert "\u202e" not in line
        s = line.lstrip()
        if s.startswith("::") and allow_annotations:
            # our own annotation: properties without "::", the data after it cannot start a line
            assert re.match(r"^::(error|warning) title=[^:\n]*::", s), line
        else:
            assert not s.startswith(("::", "##[")), f"a workflow command line: {line!r}"


def _strip_code_spans(md: str) -> str:
    return re.sub(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", "", md)


@pytest.mark.parametrize("github", [False, True])
def test_payloads_come_out_inert_in_every_format(tmp_path, github):
    facts, waivers = _snapshot(tmp_path)
    env = {}
    summary = tmp_path / "summary.md"
    if github:
        env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    for fmt in ("text", "brief", "json", "junit", "markdown"):
        for cmd in ("check", "audit"):
            rc, out, err = run_main([cmd, "--facts", facts, "--waivers", waivers, "--format", fmt, "-v",
                                     "--as-of", "2026-11-25T06:00:00Z"], env=env)
            assert rc in (1, 3), err
            assert "pwned" in out or fmt == "json" and "pwned" in json.dumps(json.loads(out)), "payload shown"
            _check_terminal_text(err, allow_annotations=github)
            if fmt in ("text", "brief"):
                _check_terminal_text(out, allow_annotations=github)
            if fmt == "junit":
                import xml.etree.ElementTree as ET

                ET.fromstring(out.split("\n::", 1)[0] if github else out)
                _check_terminal_text(out, allow_annotations=github)
            if fmt == "markdown":
                _check_markdown(out)
            if fmt == "json":
                json.loads(out)
    if github:
        _check_markdown(summary.read_text())


def _check_markdown(md):
    plain = _strip_code_spans(md)
    assert "<img" not in plain and "<script" not in plain
    assert not BAD_CHARS.search(md.replace("\n", ""))


def test_code_span_survives_any_backtick_run():
    from policycheck.reporters.markdown import code

    for n in range(1, 8):
        value = "a" + "`" * n + "<img src=x>" + "`" * n
        span = code(value)
        fence = re.match("`+", span).group()
        assert len(fence) == n + 1 and span.endswith(fence)
        inner = span[len(fence):-len(fence)]
        assert "`" * (n + 1) not in inner


def test_collect_warnings_and_source_errors_on_stderr_are_inert(tmp_path, with_plugin):
    import threading

    from httpfake import FakeServer
    from relhelpers import write_config

    data = {"count": 1, "items": [{"name": "bk01.corp.example", "roles": ["backup_server"], "services": [],
                                   "note": "hello\n::add-mask::x\r\x1b[2J\x07"}]}
    srv = FakeServer({"/api/servers": (200, {}, data)})
    srv.thread = threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    with srv:
        cfg = write_config(tmp_path, srv.url)
        rc, out, err = run_main(["collect", "-c", cfg])
        assert rc == 0 and "hello" in err
        _check_terminal_text(err)
        srv.routes["/api/servers"] = (500, {}, {"message": "boom\n::error::x\x1b[31m"})
        rc, out, err = run_main(["collect", "-c", cfg])
        assert rc == 3 and "boom" in err
        _check_terminal_text(err)
        rc, out, err = run_main(["check", "-c", cfg, "--format", "brief"])
        _check_terminal_text(out + err)


def test_textsafe_line_and_guard():
    from policycheck.textsafe import block, guard, line

    assert line("a\nb\r\x1b[2J\x07\x9b") == "a\\nb\\r\\x1b[2J\\x07\\x9b"
    assert line("tab\tkept") == "tab\tkept"
    assert guard("ok\n::error::x\n  ##[warning]y") == "ok\n\\::error::x\n\\  ##[warning]y"
    assert block("a\r\n::add-mask::s") == "a\n\\::add-mask::s"
