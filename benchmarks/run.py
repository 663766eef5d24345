"""Benchmarks (run on demand, not by the test suite): evaluation at 1k/10k/100k clients against the json.loads
floor, end to end, start-up, regopy on four policies, NetWorker collection. Prints a table and writes
benchmarks/results/latest.json.

    python benchmarks/run.py            # the full run (about 10 minutes on 2 cores)
    python benchmarks/run.py --quick    # small sizes, a minute
    python benchmarks/run.py --sizes 50,100,200 --skip-collect --out /tmp/b.json   # the smoke test's run

Each measurement runs in a fresh process (``run.py --worker ...``) so that peak RSS is its own.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workers  # noqa: E402  (benchmarks/workers.py: what runs inside the measured processes)

PY = sys.executable
REGO_POLICIES = tuple(workers.REGO_PACKAGES)  # BMR-001, BOOT-002, VIRT-002 (the three) and VIRT-001
TARGETS = {"e2e_s": 5.0, "rss_mb": 700, "e2e_cpu_ratio": 3.0, "audit_cpu_ratio": 4.0, "e2e_exponent": 1.1, "ratio_json": 2.0, "exponent": 1.1, "rego_e2e": 20.0, "rego_eval": 2.0,
           "version_ms": 150, "collect_ratio": 1.5}


def worker(*args, timeout=None) -> dict | None:
    """Run ``workers.py ARGS`` in a fresh process; its JSON answer plus its peak RSS (None on timeout)."""
    cmd = [PY, str(HERE / "workers.py"), *map(str, args)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    ans = json.loads(out.strip().splitlines()[-1])
    ans["wall_s"] = time.perf_counter() - t0
    return ans


def installed_env() -> dict:
    """The environment a measured command runs in: bytecode cached as an installed package has it (pip
    byte-compiles on install; PYTHONDONTWRITEBYTECODE, set on some machines, would make every run of an
    editable checkout compile its 60 modules again: 0.1 s that no user pays)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed_cmd(cmd, env=None, cpu=False) -> tuple:
    """(wall seconds, peak RSS MB[, CPU seconds: user + system]) of one command, its output discarded."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=installed_env() if env is None else env)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode not in (0, 1):  # 1: the gate found failures, as it should on these datazones
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}: {err[-2000:]}")
    if cpu:
        return wall, ru.ru_maxrss / 1024, ru.ru_utime + ru.ru_stime
    return wall, ru.ru_maxrss / 1024


def fit_exponent(xs, ys) -> float | None:
    """Least-squares slope of log(y) over log(x): 1.0 is linear."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def machine() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with contextlib.suppress(ValueError, OSError):
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem, 1), "python": platform.python_version(),
            "os": platform.platform(), "load_avg_start": os.getloadavg()}


def snapshot(workdir: Path, clients: int, seed: int) -> Path:
    vms, servers = clients // 5, max(10, clients // 2000)
    path = workdir / f"dz-{clients}-{vms}-{servers}-s{seed}.json"
    gen = HERE / "gen_datazone.py"
    if not path.exists() or path.stat().st_mtime < gen.stat().st_mtime:
        subprocess.run([PY, str(gen), "--clients", str(clients), "--vms", str(vms), "--servers", str(servers),
                        "--seed", str(seed), "-o", str(path)], check=True, stderr=subprocess.DEVNULL)
    return path


def bench_eval(snaps, repeat) -> list:
    rows = []
    for n, path in snaps:
        runs = [worker("eval", path) for _ in range(repeat)]
        floor = [worker("floor", path) for _ in range(repeat)]
        best = min(runs, key=lambda r: r["total_s"])
        row = {"clients": n, "bytes": path.stat().st_size, "entities": best["entities"], "results": best["results"],
               "statuses": best["statuses"],
               "json_loads_s": statistics.median(f["json_loads_s"] for f in floor),
               "json_loads_nogc_s": statistics.median(f["json_loads_nogc_s"] for f in floor),
               "json_loads_nogc_cpu_s": statistics.median(f["json_loads_nogc_cpu_s"] for f in floor),
               **{k: statistics.median(r[k] for r in runs) for k in ("load_s", "build_s", "eval_s", "total_s",
                                                                       "eval3_s", "cpu_s")},
               "rss_mb": max(r["rss_mb"] for r in runs), "reporters_s": best["reporters_s"]}
        row["ratio_json"] = row["total_s"] / row["json_loads_s"]
        row["ratio_json_nogc"] = row["total_s"] / row["json_loads_nogc_s"]
        row["results_per_s"] = row["results"] / row["total_s"]
        rows.append(row)
        print(f"  eval {n:>7} clients: {row['total_s']:.2f}s (json.loads {row['json_loads_s']:.2f}s, "
              f"{row['rss_mb']:.0f} MB)", file=sys.stderr)
    return rows


def bench_e2e(path: Path, workdir: Path) -> dict:
    exe = str(Path(PY).with_name("policycheck"))
    cmd = [exe, "check", "--facts", str(path), "--junit", str(workdir / "e2e.xml"), "--json", str(workdir / "e2e.json")]
    runs = [timed_cmd(cmd) for _ in range(3)]
    return {"command": " ".join(["policycheck"] + cmd[1:]), "wall_s": statistics.median(r[0] for r in runs),
            "rss_mb": max(r[1] for r in runs), "junit_bytes": (workdir / "e2e.xml").stat().st_size,
            "json_bytes": (workdir / "e2e.json").stat().st_size}


def bench_gate(snaps, workdir: Path, repeat: int) -> list:
    """Issue 19: `check --facts --json --junit` and `audit --facts` at every size, in CPU seconds (user +
    system of the whole process, start-up and writing included) against the strict floor (json.loads of
    the same snapshot, GC off, CPU), wall and peak RSS; medians of ``repeat`` runs at the largest size."""
    exe = str(Path(PY).with_name("policycheck"))
    rows = []
    if snaps:  # one unmeasured run first: it writes the bytecode every measured run then reads
        timed_cmd([exe, "audit", "--facts", str(snaps[0][1])])
    for i, (n, path) in enumerate(snaps):
        reps = repeat if i == len(snaps) - 1 else 1
        check = [exe, "check", "--facts", str(path), "--json", str(workdir / "g.json"), "--junit",
                 str(workdir / "g.xml")]
        audit = [exe, "audit", "--facts", str(path)]
        c = [timed_cmd(check, cpu=True) for _ in range(reps)]
        a = [timed_cmd(audit, cpu=True) for _ in range(reps)]
        fl = [worker("floor", path) for _ in range(reps)]
        row = {"clients": n, "bytes": path.stat().st_size,
               "floor_cpu_s": statistics.median(f["json_loads_nogc_cpu_s"] for f in fl),
               "check_wall_s": statistics.median(x[0] for x in c), "check_rss_mb": max(x[1] for x in c),
               "check_cpu_s": statistics.median(x[2] for x in c),
               "audit_wall_s": statistics.median(x[0] for x in a), "audit_rss_mb": max(x[1] for x in a),
               "audit_cpu_s": statistics.median(x[2] for x in a),
               "json_bytes": (workdir / "g.json").stat().st_size, "junit_bytes": (workdir / "g.xml").stat().st_size}
        row["check_ratio"] = row["check_cpu_s"] / row["floor_cpu_s"]
        row["audit_ratio"] = row["audit_cpu_s"] / row["floor_cpu_s"]
        rows.append(row)
        print(f"  gate {n:>7} clients: check {row['check_cpu_s']:.2f} cpu-s ({row['check_ratio']:.1f}x the floor "
              f"{row['floor_cpu_s']:.2f}), {row['check_wall_s']:.2f}s wall, {row['check_rss_mb']:.0f} MB; audit "
              f"{row['audit_cpu_s']:.2f} cpu-s ({row['audit_ratio']:.1f}x)", file=sys.stderr)
    return rows


def bench_startup(n=10) -> dict:
    exe = str(Path(PY).with_name("policycheck"))
    out = {}
    for name, cmd in (("python -c pass", [PY, "-c", "pass"]), ("policycheck --version", [exe, "--version"]),
                      ("policycheck policies list", [exe, "policies", "list"])):
        out[name] = statistics.median(timed_cmd(cmd)[0] for _ in range(n)) * 1000
    return out


def bench_rego(snaps, workdir: Path, limit: float) -> dict:
    try:
        import regopy  # noqa: F401
    except ImportError:
        return {"skipped": "regopy is not installed (pip install regopy)"}
    rows = []
    for n, path in snaps:
        pc = worker("eval", path, "--verdicts", workdir / f"pc-{n}.json")
        rg = worker("rego", path, workdir / f"rego-{n}.json", timeout=limit)
        if rg is None:
            rows.append({"clients": n, "finished": False, "limit_s": limit})
            print(f"  rego {n:>7} clients: did not finish in {limit:.0f}s", file=sys.stderr)
            break  # larger sizes only take longer
        mine = json.loads((workdir / f"pc-{n}.json").read_text())
        theirs = json.loads((workdir / f"rego-{n}.json").read_text())
        diff = sorted(set(map(tuple, mine)) ^ set(map(tuple, theirs)))
        row = {"clients": n, "finished": True, "targets": len(mine), "agree": not diff, "disagreements": diff[:20],
               "rego_load_s": rg["load_s"], "rego_eval_s": rg["eval_s"], "rego_total_s": rg["load_s"] + rg["eval_s"],
               "pc_load_s": pc["load_s"] + pc["build_s"], "pc_eval_s": pc["eval3_s"],
               "pc_total_s": pc["load_s"] + pc["build_s"] + pc["eval3_s"], "rego_rss_mb": rg["rss_mb"]}
        for k in ("load", "eval", "total"):
            row[f"ratio_{k}"] = row[f"rego_{k}_s"] / max(row[f"pc_{k}_s"], 1e-9)
        rows.append(row)
        print(f"  rego {n:>7} clients: {row['rego_total_s']:.2f}s vs {row['pc_total_s']:.2f}s, "
              f"verdicts {'agree' if row['agree'] else 'DISAGREE'}", file=sys.stderr)
    return {"policies": REGO_POLICIES, "limit_s": limit, "sizes": rows}


def bench_collect(backups: int, delay: float) -> dict:
    ans = worker("collect", backups, delay, timeout=600)
    if ans is None or ans.get("skipped"):
        return ans or {"skipped": "timed out"}
    ans["floor_s"] = math.ceil(ans["requests"] / ans["concurrency"]) * delay
    ans["floor_exact_s"] = ans["requests"] / ans["concurrency"] * delay
    ans["ratio"] = ans["wall_s_collect"] / ans["floor_exact_s"]
    return ans


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="sizes 1k, 3k, 10k; fewer repeats")
    ap.add_argument("--sizes", help="client counts, comma-separated (default 1000,10000,100000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, help="runs per size (median; default 3, quick 1)")
    ap.add_argument("--rego-limit", type=float, default=120.0, help="seconds regopy gets per size")
    ap.add_argument("--skip-rego", action="store_true")
    ap.add_argument("--skip-collect", action="store_true")
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--gate-only", action="store_true", help="only issue 19's check/audit table (and evaluation)")
    ap.add_argument("--collect-backups", type=int, default=20000)
    ap.add_argument("--workdir", default=str(HERE / ".cache"), help="where snapshots are generated (kept)")
    ap.add_argument("--out", default=str(HERE / "results" / "latest.json"))
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",")] if a.sizes else [1000, 3000, 10000] if a.quick else \
        [1000, 10000, 100000]
    repeat = a.repeat or (1 if a.quick else 3)
    workdir = Path(a.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    res = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv[1:],
           "targets": TARGETS}
    print("generating snapshots ...", file=sys.stderr)
    snaps = [(n, snapshot(workdir, n, a.seed)) for n in sizes]
    res["gate"] = bench_gate(snaps, workdir, repeat)
    res["gate_exponent"] = fit_exponent([r["clients"] for r in res["gate"]], [r["check_cpu_s"] for r in res["gate"]])
    if a.gate_only:
        return _finish(res, a)
    res["evaluation"] = bench_eval(snaps, repeat)
    ev = res["evaluation"]
    res["exponent"] = fit_exponent([r["clients"] for r in ev], [r["total_s"] for r in ev])
    res["exponent_bytes"] = fit_exponent([r["bytes"] for r in ev], [r["total_s"] for r in ev])
    res["end_to_end"] = bench_e2e(snaps[-1][1], workdir)
    val = [worker("validate", snaps[-1][1]) for _ in range(3)]
    e2e = res["end_to_end"]
    e2e["validate_s"] = statistics.median(v["validate_s"] for v in val)
    e2e["validate_share"] = e2e["validate_s"] / max(e2e["wall_s"] - e2e["validate_s"], 1e-9)
    print(f"  facts validation at {snaps[-1][0]} clients: {e2e['validate_s']:.2f}s, "
          f"+{100 * e2e['validate_share']:.1f}% on check --facts (target: at most +10%)", file=sys.stderr)
    if not a.skip_startup:
        res["startup_ms"] = bench_startup()
    if not a.skip_rego:
        res["rego"] = bench_rego(snaps, workdir, a.rego_limit)
    if not a.skip_collect:
        res["collection"] = bench_collect(a.collect_backups, 0.05)
    return _finish(res, a)


def _finish(res: dict, a) -> int:
    res["machine"]["load_avg_end"] = os.getloadavg()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    from table import render  # noqa: E402  (benchmarks/table.py)

    print(render(res))
    print(f"\nwritten: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
