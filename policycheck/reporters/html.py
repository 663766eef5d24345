"""The ``html`` format: one self-contained file (``--html FILE``) to open in any browser, offline.

Inline CSS, charts drawn here as inline SVG, a little inline JavaScript to filter the table; no
font, script, stylesheet or image is fetched (a Content-Security-Policy forbids it). A summary by
severity and status, a chart per policy and per backup server, the results in a filterable table,
and each result's evidence, remediation and waiver folded under it. Every value is escaped
(textsafe.line, then HTML escaping); secrets are masked by the CLI's output path."""
from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from policycheck import hookimpl
from policycheck.api import Reporter
from policycheck.results import ERROR, FAIL, PASS, SEVERITIES, SKIP, STATUSES, WAIVED
from policycheck.textsafe import line
from policycheck.textutil import describe

if TYPE_CHECKING:
    from policycheck.results import Report, Result

MAX_ROWS = 20000  # results in the table; problems first, passes last (the counts cover every result)
COLOR = {PASS: "#2e7d32", FAIL: "#c62828", ERROR: "#ef6c00", SKIP: "#9e9e9e", WAIVED: "#6a1b9a"}
ORDER = {FAIL: 0, ERROR: 1, WAIVED: 2, SKIP: 3, PASS: 4}
SEV_RANK = {s: i for i, s in enumerate(SEVERITIES)}

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:16px 24px}header h1{margin:0 0 4px;font-size:20px}
header p{margin:2px 0;color:#cfd8dc;font-size:13px}main{padding:16px 24px;max-width:1400px}
section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:16px;margin:0 0 8px}.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border-radius:6px;padding:8px 14px;color:#fff;min-width:90px}.card b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee;
vertical-align:top}th{background:#f5f5f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.st{display:inline-block;border-radius:3px;padding:0 6px;color:#fff;font-size:12px;font-weight:600}
.charts{display:flex;gap:16px;flex-wrap:wrap}.charts>div{flex:1 1 480px}
.filters{display:flex;gap:8px;flex-wrap:wrap;margin:0 0 8px}.filters input{flex:1 1 240px}
.filters select,.filters input{padding:4px;font:inherit}details summary{cursor:pointer;color:#37474f}
.ev td{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}.muted{color:#757575}
tr.hidden{display:none}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
"""

JS = """
(function(){
  var rows=[].slice.call(document.querySelectorAll('#results tbody tr.r'));
  var f={status:document.getElementById('f-status'),severity:document.getElementById('f-severity'),
         policy:document.getElementById('f-policy'),text:document.getElementById('f-text')};
  function apply(){
    var st=f.status.value,sv=f.severity.value,po=f.policy.value,tx=f.text.value.toLowerCase(),shown=0;
    rows.forEach(function(r){
      var ok=(!st||r.dataset.status===st)&&(!sv||r.dataset.severity===sv)&&(!po||r.dataset.policy===po)
        &&(!tx||r.textContent.toLowerCase().indexOf(tx)>=0);
      r.classList.toggle('hidden',!ok);if(ok)shown++;
    });
    document.getElementById('shown').textContent=String(shown);
  }
  ['status','severity','policy'].forEach(function(k){f[k].addEventListener('change',apply);});
  f.text.addEventListener('input',apply);
  location.hash.replace(/^#/,'').split('&').forEach(function(kv){  // #status=fail&policy=BOOT-001
    var p=kv.split('='),k=p[0],v=decodeURIComponent(p[1]||'');
    if(f[k]&&(k==='text'||[].some.call(f[k].options,function(o){return o.value===v;})))f[k].value=v;
  });
  var counts={};rows.forEach(function(r){counts[r.dataset.status]=(counts[r.dataset.status]||0)+1;});
  document.body.setAttribute('data-rendered-rows',JSON.stringify(counts));
  apply();
})();
"""


def _e(value: object, limit: int | None = None) -> str:
    return html.escape(line(value, limit), quote=True)


def _badge(status: str) -> str:
    return f'<span class="st" style="background:{COLOR[status]}">{status}</span>'


def _bars(title: str, rows: Sequence[tuple[str, dict[str, int]]], chart_id: str) -> str:
    """A stacked horizontal bar per row: [(label, {status: n})], drawn as inline SVG."""
    rows = [(lab, c) for lab, c in rows if sum(c.values())]
    width, label_w, bar_h, gap = 640, 210, 16, 6
    top = 22
    height = top + len(rows) * (bar_h + gap) + 8
    biggest = max([sum(c.values()) for _, c in rows] or [1])
    scale = (width - label_w - 50) / biggest
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}"><title>{_e(title)}</title>']
    x: float = label_w
    for st in STATUSES:  # legend
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{COLOR[st]}"/>'
                     f'<text x="{x + 14}" y="13" font-size="11">{st}</text>')
        x += 70
    for i, (lab, c) in enumerate(rows):
        y = top + i * (bar_h + gap)
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" font-size="12" text-anchor="end">{_e(lab, 32)}</text>')
        x = float(label_w)
        for st in STATUSES:
            n = c.get(st, 0)
            if not n:
                continue
            w = n * scale
            parts.append(f'<rect class="bar" data-status="{st}" data-count="{n}" x="{x:.1f}" y="{y}" '
                         f'width="{w:.1f}" height="{bar_h}" fill="{COLOR[st]}"><title>{_e(lab)}: {n} {st}'
                         f'</title></rect>')
            x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 12}" font-size="11" fill="#555">{sum(c.values())}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _server_of(r: Result) -> str:
    ent: dict[str, Any] = r.entity if isinstance(r.entity, dict) else {}
    if r.target_kind == "backup_server":
        target_id: str = r.target_id
        return target_id
    server = ent.get("backup_server") or ent.get("server")
    if isinstance(server, dict):
        server = server.get("id")
    return str(server) if server else f"({r.target_kind})"


def _evidence(r: Result) -> str:
    ev: list[dict[str, Any]] = r.evidence_dicts()
    if not ev:
        return '<p class="muted">no evidence recorded</p>'
    rows: list[str] = []
    for e in ev:
        ok = {True: "✓", False: "✗", None: "?"}[e.get("ok")]
        obs = f"unknown: {e['missing']}" if e.get("missing") else describe(e.get("observed"), 300)
        rows.append(f"<tr><td>{ok}</td><td>{_e(e.get('fact'))}</td><td>{_e(obs)}</td><td>{_e(e.get('expected'))}"
                    f"</td><td>{_e(e.get('entity') or '')}</td><td>{_e(e.get('source') or '')}</td>"
                    f"<td>{_e(e.get('observed_at') or '')}</td></tr>")
    return ('<table class="ev"><thead><tr><th></th><th>fact</th><th>observed</th><th>expected</th><th>entity</th>'
            '<th>source</th><th>observed at</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")


def _details(r: Result) -> str:
    p = r.policy
    out = ["<details><summary>evidence and explanation</summary>"]
    if r.message:
        out.append(f"<p><b>why:</b> {_e(r.message, 2000)}</p>")
    out.append(_evidence(r))
    if r.status in (FAIL, ERROR) or (r.waiver and r.waiver.get("was")):
        out.append(f"<p><b>remediation:</b> {_e(getattr(p, 'remediation', ''), 4000)}</p>")
    if r.waiver:
        w = r.waiver
        out.append(f"<p><b>waiver</b> ({_e(w.get('state'))}, was {_e(w.get('was'))}): {_e(w.get('reason'))} — "
                   f"owner {_e(w.get('owner'))}, expires {_e(w.get('expires'))} ({_e(w.get('where'))})</p>")
    if r.baseline:
        out.append(f"<p><b>baseline:</b> {_e(r.baseline)}</p>")
    if r.target_kind != "source":
        out.append(f"<p class=\"muted\">the whole evaluation: <code>policycheck explain {_e(p.id)} "
                   f"{_e(r.target_id)}</code></p>")
    out.append("</details>")
    return "".join(out)


def render_html(report: Report) -> str:
    s = report.summary
    results = sorted(report.results, key=lambda r: (ORDER[r.status], -SEV_RANK[r.policy.severity], r.policy.id,
                                                    str(r.target_id)))
    shown = results[:MAX_ROWS]
    problems = s[FAIL]
    verdict = (f"{problems} failure(s), {s[ERROR]} error(s)" if problems or s[ERROR] else "no failures, no errors")
    h = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
         "script-src 'unsafe-inline'; img-src data:\">",
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         f"<title>policycheck report: {_e(verdict)}</title><style>{CSS}</style></head>",
         f'<body data-total="{s["total"]}">',
         f"<header><h1>policycheck report: {_e(verdict)}</h1>",
         f"<p>generated {_e(report.generated_at)} by policycheck {_e(report.tool_version)}; facts collected "
         f"{_e(report.collected_at)}; ages judged as of {_e(report.clock_text())}; gate at "
         f"{_e(report.fail_on)}</p></header><main>"]
    h.append('<section id="summary"><h2>Summary</h2><div class="cards">')
    for st in STATUSES:
        h.append(f'<div class="card" style="background:{COLOR[st]}" id="count-{st}" data-count="{s[st]}">'
                 f"<b>{s[st]}</b>{st}</div>")
    h.append(f'<div class="card" style="background:#37474f" id="count-total" data-count="{s["total"]}">'
             f'<b>{s["total"]}</b>results</div></div>')
    h.append('<table id="by-severity"><thead><tr><th>severity</th>'
             + "".join(f"<th>{st}</th>" for st in STATUSES) + "<th>total</th></tr></thead><tbody>")
    for sev in reversed(SEVERITIES):
        c = s["by_severity"][sev]
        if sum(c.values()):
            h.append(f'<tr data-severity="{sev}"><td>{sev}</td>'
                     + "".join(f'<td class="n" data-status="{st}">{c[st]}</td>' for st in STATUSES)
                     + f'<td class="n">{sum(c.values())}</td></tr>')
    h.append("</tbody></table></section>")
    by_policy: dict[str, dict[str, int]] = {}
    by_server: dict[str, dict[str, int]] = {}
    for p in report.policies:
        by_policy.setdefault(p.id, {})
    for r in report.results:
        by_policy.setdefault(r.policy.id, {}).setdefault(r.status, 0)
        by_policy[r.policy.id][r.status] += 1
        srv = by_server.setdefault(_server_of(r), {})
        srv[r.status] = srv.get(r.status, 0) + 1
    h.append('<section id="charts"><h2>Charts</h2><div class="charts"><div><h3>by policy</h3>'
             + _bars("results by policy", sorted(by_policy.items()), "chart-policy")
             + "</div><div><h3>by backup server</h3>"
             + _bars("results by backup server", sorted(by_server.items()), "chart-server") + "</div></div></section>")
    if report.sources:
        h.append('<section id="sources"><h2>Sources</h2><table><thead><tr><th>source</th><th>plugin</th>'
                 '<th>status</th><th>objects</th><th>duration (s)</th><th>error</th></tr></thead><tbody>')
        for src in report.sources:
            h.append(f"<tr><td>{_e(src.get('name'))}</td><td>{_e(src.get('plugin'))}</td><td>{_e(src.get('status'))}"
                     f"</td><td class=\"n\">{_e(src.get('objects'))}</td><td class=\"n\">{_e(src.get('duration_s'))}"
                     f"</td><td>{_e(src.get('error') or '')}</td></tr>")
        h.append("</tbody></table></section>")
    if report.notes:
        h.append('<section id="notes"><h2>Notes</h2><ul>' + "".join(f"<li>{_e(n)}</li>" for n in report.notes)
                 + "</ul></section>")
    policies = sorted(by_policy)
    h.append('<section id="table"><h2>Results</h2><div class="filters">'
             '<select id="f-status" aria-label="status"><option value="">every status</option>'
             + "".join(f'<option value="{st}">{st}</option>' for st in STATUSES) + "</select>"
             '<select id="f-severity" aria-label="severity"><option value="">every severity</option>'
             + "".join(f'<option value="{sv}">{sv}</option>' for sv in reversed(SEVERITIES)) + "</select>"
             '<select id="f-policy" aria-label="policy"><option value="">every policy</option>'
             + "".join(f'<option value="{_e(p)}">{_e(p)}</option>' for p in policies) + "</select>"
             '<input id="f-text" type="search" placeholder="filter: target, message, fact…" aria-label="text">'
             f'</div><p class="muted"><span id="shown">{len(shown)}</span> of {len(shown)} results shown'
             + (f"; {len(results) - len(shown)} more (passes and skips last) left out of this table, counted above"
                if len(results) > len(shown) else "") + "</p>")
    h.append('<table id="results"><thead><tr><th>status</th><th>severity</th><th>policy</th><th>target</th>'
             "<th>result</th></tr></thead><tbody>")
    for r in shown:
        p = r.policy
        h.append(f'<tr class="r" data-status="{r.status}" data-severity="{_e(p.severity)}" data-policy="{_e(p.id)}">'
                 f"<td>{_badge(r.status)}</td><td>{_e(p.severity)}</td><td>{_e(p.id)}<br>"
                 f'<span class="muted">{_e(p.title, 200)}</span></td><td>{_e(r.target_kind)}<br>{_e(r.target_id)}</td>'
                 f"<td>{_e(r.message or r.status, 600)}{_details(r)}</td></tr>")
    h.append("</tbody></table></section>")
    summary = {k: s[k] for k in ("total",) + STATUSES}
    h.append(f'<script type="application/json" id="summary-data">{_json_script(summary)}</script>')
    h.append(f"<script>{JS}</script></main></body></html>")
    return "\n".join(h) + "\n"


def _json_script(value: object) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@hookimpl
def policycheck_reporters() -> list[Reporter]:
    return [Reporter("html", render_html, "html", "one self-contained HTML file: summary, charts, filterable results")]
