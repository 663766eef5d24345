"""The benchmark results (benchmarks/results/latest.json) as Markdown tables, with each target met or missed.

    python benchmarks/table.py [benchmarks/results/latest.json]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _mb(b):
    return f"{b / 2 ** 20:.1f} MB"


def _check(ok, what):
    return f"met: {what}" if ok else f"**missed**: {what}"


def render(res: dict) -> str:
    t = res["targets"]
    m = res["machine"]
    out = [f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}; "
           f"load average at start {m['load_avg_start'][0]:.2f}, at end {m.get('load_avg_end', [0])[0]:.2f}.", ""]
    g = res.get("gate")
    if g:
        big_g = g[-1]
        out += ["### The gate (issue 19): `check --facts --json --junit` and `audit --facts`, whole processes", "",
                "CPU = user + system seconds of the process (start-up, load, derive, evaluate, writing); the floor is "
                "`json.loads` of the same snapshot's bytes in memory with the GC off, in CPU seconds.", "",
                "| clients | snapshot | floor (CPU) | check CPU | check / floor | check wall | check peak RSS "
                "| JSON | JUnit | audit CPU | audit / floor | audit wall | audit peak RSS |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in g:
            out.append(f"| {r['clients']:,} | {_mb(r['bytes'])} | {r['floor_cpu_s']:.2f}s | {r['check_cpu_s']:.2f}s | "
                       f"{r['check_ratio']:.1f}x | {r['check_wall_s']:.2f}s | {r['check_rss_mb']:.0f} MB | "
                       f"{_mb(r['json_bytes'])} | {_mb(r['junit_bytes'])} | {r['audit_cpu_s']:.2f}s | "
                       f"{r['audit_ratio']:.1f}x | {r['audit_wall_s']:.2f}s | {r['audit_rss_mb']:.0f} MB |")
        ge = res.get("gate_exponent")
        rows_g = [(f"`check` at {big_g['clients']:,} clients within {t['e2e_cpu_ratio']:.0f}x of the floor (CPU)",
                   big_g["check_ratio"] <= t["e2e_cpu_ratio"],
                   f"{big_g['check_ratio']:.1f}x ({big_g['check_cpu_s']:.2f} / {big_g['floor_cpu_s']:.2f} cpu-s)"),
                  (f"`check` at {big_g['clients']:,} clients under {t['e2e_s']:.0f}s wall",
                   big_g["check_wall_s"] < t["e2e_s"], f"{big_g['check_wall_s']:.2f}s"),
                  (f"`check` peak RSS under {t['rss_mb']} MB", big_g["check_rss_mb"] < t["rss_mb"],
                   f"{big_g['check_rss_mb']:.0f} MB"),
                  (f"`audit` within {t['audit_cpu_ratio']:.0f}x of the floor (CPU)",
                   big_g["audit_ratio"] <= t["audit_cpu_ratio"], f"{big_g['audit_ratio']:.1f}x")]
        if ge is not None:
            rows_g.append((f"scaling exponent of `check` CPU over the sizes at most {t['e2e_exponent']}",
                           ge <= t["e2e_exponent"], f"{ge:.2f}"))
        out += ["", "| target | result |", "|---|---|"] + [f"| {name} | {_check(ok, what)} |"
                                                            for name, ok, what in rows_g] + [""]
    if not res.get("evaluation"):
        return "\n".join(out)
    out += ["### Evaluation (in-process: load the snapshot, derive, evaluate all 10 built-in policies)", "",
            "| clients | snapshot | entities | json.loads | json.loads (GC off) | policycheck | of which load / derive"
            " / evaluate | ratio | ratio (GC off) | results/s | peak RSS |",
            "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in res["evaluation"]:
        out.append(f"| {r['clients']:,} | {_mb(r['bytes'])} | {r['entities']:,} | {r['json_loads_s']:.2f}s | "
                   f"{r['json_loads_nogc_s']:.2f}s | {r['total_s']:.2f}s | {r['load_s']:.2f} / {r['build_s']:.2f} / "
                   f"{r['eval_s']:.2f}s | {r['ratio_json']:.2f}x | {r['ratio_json_nogc']:.2f}x | "
                   f"{r['results_per_s']:,.0f} | {r['rss_mb']:.0f} MB |")
    exp = res.get("exponent")
    out += ["", f"Scaling exponent (time over clients, least squares over the sizes): "
                f"{exp:.2f}" if exp is not None else "Scaling exponent: n/a", ""]
    e = res["end_to_end"]
    big = res["evaluation"][-1]
    out += ["### End to end", "", f"`{e['command']}` at {big['clients']:,} clients: **{e['wall_s']:.2f}s** wall, "
            f"peak RSS {e['rss_mb']:.0f} MB (JUnit {_mb(e['junit_bytes'])}, JSON {_mb(e['json_bytes'])}).", "",
            "Report writers (rendering the whole report once): " +
            ", ".join(f"{k} {v:.2f}s" for k, v in big["reporters_s"].items()), ""]
    s = res.get("startup_ms")
    if s:
        out += ["### Start-up (median of 10)", "", "| command | ms |", "|---|---:|"]
        out += [f"| `{k}` | {v:.0f} |" for k, v in s.items()]
        out.append("")
    rg = res.get("rego")
    last = None
    if rg and rg.get("sizes"):
        out += [f"### Against regopy ({', '.join(rg['policies'])}; each size gets {rg['limit_s']:.0f}s)", "",
                "| clients | regopy load | regopy evaluate | policycheck load+derive | policycheck evaluate |"
                " load ratio | evaluate ratio | end-to-end ratio | verdicts |", "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rg["sizes"]:
            if not r["finished"]:
                out.append(f"| {r['clients']:,} | did not finish in {r['limit_s']:.0f}s | | | | | | | |")
                continue
            last = r
            out.append(f"| {r['clients']:,} | {r['rego_load_s']:.2f}s | {r['rego_eval_s']:.2f}s | {r['pc_load_s']:.2f}s |"
                       f" {r['pc_eval_s']:.3f}s | {r['ratio_load']:.1f}x | {r['ratio_eval']:.1f}x | "
                       f"{r['ratio_total']:.1f}x | {'agree on all ' + str(r['targets']) if r['agree'] else 'DISAGREE'} |")
        out.append("")
    elif rg:
        out += [f"regopy: {rg.get('skipped')}", ""]
    c = res.get("collection")
    if c and not c.get("skipped"):
        out += ["### Collection (NetWorker collector, fake server, 50 ms per request)", "",
                f"{c['backups']:,} backups: {c['requests']} requests at concurrency {c['concurrency']}: "
                f"**{c['wall_s_collect']:.2f}s**; floor (requests / concurrency x 50 ms) {c['floor_exact_s']:.2f}s: "
                f"{c['ratio']:.2f}x. The same collection with no delay takes {c['wall_s_no_delay']:.2f}s: "
                f"decoding and mapping the answers, which the floor leaves out.", ""]
    elif c:
        out += [f"Collection: {c.get('skipped')}", ""]
    out += ["### Targets", ""]
    rows = [("every built-in policy end to end at the largest size", e["wall_s"] < t["e2e_s"],
             f"{e['wall_s']:.2f}s; target < {t['e2e_s']:.0f}s"),
            ("peak RSS end to end", e["rss_mb"] < t["rss_mb"], f"{e['rss_mb']:.0f} MB; target < {t['rss_mb']} MB"),
            ("evaluation within 2x of json.loads (GC as Python leaves it)", big["ratio_json"] <= t["ratio_json"],
             f"{big['ratio_json']:.2f}x; target <= 2x"),
            ("evaluation within 2x of json.loads with the GC off (the strict floor)",
             big["ratio_json_nogc"] <= t["ratio_json"], f"{big['ratio_json_nogc']:.2f}x; target <= 2x")]
    if exp is not None:
        rows.append(("scaling exponent at most 1.1", exp <= t["exponent"], f"{exp:.2f}; target <= 1.1"))
    if last:
        rows += [(f"regopy end to end at {last['clients']:,} clients (largest it finished) at least 20x slower",
                  last["ratio_total"] >= t["rego_e2e"], f"{last['ratio_total']:.0f}x; target >= 20x"),
                 ("regopy evaluation alone at least 2x slower", last["ratio_eval"] >= t["rego_eval"],
                  f"{last['ratio_eval']:.0f}x; target >= 2x"),
                 ("verdicts agree target by target", last["agree"], "yes" if last["agree"] else "no")]
    if s:
        v = s["policycheck --version"]
        rows.append(("`policycheck --version` under 150 ms", v < t["version_ms"], f"{v:.0f} ms; target < 150 ms"))
    if c and not c.get("skipped"):
        rows.append(("collection within 1.5x of the floor", c["ratio"] <= t["collect_ratio"], f"{c['ratio']:.1f}x; target <= 1.5x"))
    out += ["| target | result |", "|---|---|"] + [f"| {name} | {_check(ok, what)} |" for name, ok, what in rows]
    return "\n".join(out)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results" / "latest.json")
    print(render(json.loads(path.read_text())))
