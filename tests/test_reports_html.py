"""The HTML report: one self-contained file. Its structure is checked with lxml on every run; the
browser test renders it in Debian's headless chromium (.ci/run installs it): a screenshot, the DOM
after its script ran (counts equal the JSON summary, the filter works) and no console message."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from lxml import html as lhtml
from reports_common import AS_OF, EXAMPLE_CONFIG, example_report, run

STATUSES = ("pass", "fail", "error", "skip", "waived")


def _example_html(tmp_path, capsys, *extra):
    out = tmp_path / "report.html"
    rc, rep, _ = example_report(tmp_path, capsys, "--html", out, *extra)
    return rc, rep, out


def test_self_contained_with_counts_equal_to_the_json_summary(tmp_path, capsys):
    rc, rep, out = _example_html(tmp_path, capsys)
    assert rc == 1
    text = out.read_text(encoding="utf-8")
    doc = lhtml.fromstring(text)
    # nothing fetched: no external script, stylesheet, image, font or frame; a CSP that forbids it
    assert not doc.xpath("//script[@src] | //link | //img | //iframe | //object | //embed")
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text
    csp = doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")[0]
    assert "default-src 'none'" in csp
    for st in STATUSES:
        assert int(doc.get_element_by_id(f"count-{st}").get("data-count")) == rep["summary"][st]
    assert int(doc.get_element_by_id("count-total").get("data-count")) == rep["summary"]["total"]
    rows = doc.xpath("//table[@id='results']/tbody/tr[@class='r']")
    assert len(rows) == rep["summary"]["total"]
    for st in STATUSES:
        assert sum(1 for r in rows if r.get("data-status") == st) == rep["summary"][st]
    # the severity table and the charts add up to the same numbers
    crit = doc.xpath("//table[@id='by-severity']//tr[@data-severity='critical']/td[@data-status='fail']")[0]
    assert int(crit.text) == rep["summary"]["by_severity"]["critical"]["fail"]
    for chart in ("chart-policy", "chart-server"):
        bars = doc.xpath(f"//*[local-name()='svg'][@id='{chart}']//*[local-name()='rect'][@class='bar']")
        assert sum(int(b.get("data-count")) for b in bars) == rep["summary"]["total"]
    servers = doc.xpath("//*[local-name()='svg'][@id='chart-server']//*[local-name()='text'][@text-anchor='end']")
    assert sorted(t.text for t in servers) == ["(host)", "nsr-dir.corp.example", "nsr01.corp.example"]
    # each result's evidence is folded under it, with source and time
    boot = [r for r in rows if r.get("data-policy") == "BOOT-001" and r.get("data-status") == "fail"][0]
    ev = boot.xpath(".//details//table[@class='ev']//tr/td/text()")
    assert "latest_bootstrap->bootstrap.time" in ev and "networker" in ev
    assert "policycheck explain BOOT-001 nsr-dir.corp.example" in boot.text_content()
    waived = [r for r in rows if r.get("data-status") == "waived"][0]
    assert "unix-team@corp.example" in waived.text_content()


def _hostile_snapshot(tmp_path, capsys):
    snap = tmp_path / "f.json"
    run(capsys, ["collect", "-c", EXAMPLE_CONFIG, "-o", snap])
    doc = json.loads(snap.read_text())
    doc["sources"][2].update(status="error", error='<script>alert(1)</script>\x1b[31m "quoted" & </td>')
    snap.write_text(json.dumps(doc))
    return snap


def test_values_are_escaped(tmp_path, capsys):
    snap = _hostile_snapshot(tmp_path, capsys)
    out = tmp_path / "r.html"
    rc, _, err = run(capsys, ["check", "--facts", snap, "--as-of", AS_OF, "--html", out])
    assert rc == 1, err
    text = out.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\x1b" not in text and "\\x1b[31m" in text
    doc = lhtml.fromstring(text)
    assert len(doc.xpath("//script")) == 2  # the summary data and the filter, nothing injected
    assert int(doc.get_element_by_id("count-error").get("data-count")) > 0


def test_format_html_on_stdout_equals_the_file(tmp_path, capsys):
    out = tmp_path / "r.html"
    rc, stdout, _ = run(capsys, ["check", "-c", EXAMPLE_CONFIG, "--format", "html", "--html", out])
    assert rc == 1
    strip = lambda t: "\n".join(x for x in t.splitlines() if "generated" not in x)  # noqa: E731
    assert strip(stdout) == strip(out.read_text(encoding="utf-8"))


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _browser(path, url, tmp_path, *args):
    cmd = [path, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", *args, url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=str(tmp_path)))
    assert p.returncode == 0, p.stderr[-2000:]
    console = [ln for ln in p.stderr.splitlines() if ":CONSOLE" in ln]
    return p.stdout, console


@pytest.mark.integration
def test_in_a_real_browser(tmp_path, capsys):
    path = _chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("no chromium here (.ci/run installs Debian's chromium)")
    _, rep, out = _example_html(tmp_path, capsys)
    url = out.as_uri()
    png = tmp_path / "shot.png"
    _, console = _browser(path, url, tmp_path, f"--screenshot={png}", "--window-size=1400,1800")
    assert not console, console
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000
    dom, console = _browser(path, url, tmp_path, "--dump-dom")
    assert not console, console
    doc = lhtml.fromstring(dom)
    body = doc.xpath("//body")[0]
    # the script ran: it counted the rows it filters, per status, as the JSON summary does
    rendered = json.loads(body.get("data-rendered-rows"))
    assert rendered == {st: rep["summary"][st] for st in STATUSES if rep["summary"][st]}
    for st in STATUSES:
        assert int(doc.get_element_by_id(f"count-{st}").get("data-count")) == rep["summary"][st]
    assert doc.get_element_by_id("shown").text == str(rep["summary"]["total"])
    # the filter, driven through the URL: only the failures stay visible
    dom, console = _browser(path, url + "#status=fail", tmp_path, "--dump-dom")
    assert not console, console
    doc = lhtml.fromstring(dom)
    rows = doc.xpath("//table[@id='results']/tbody/tr")
    visible = [r for r in rows if "hidden" not in (r.get("class") or "").split()]
    assert len(visible) == rep["summary"]["fail"] and {r.get("data-status") for r in visible} == {"fail"}
    assert doc.get_element_by_id("shown").text == str(rep["summary"]["fail"])
