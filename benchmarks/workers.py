"""What runs inside each measured benchmark process (one measurement per process, so peak RSS is its own);
prints one JSON line. ``workers.py eval|floor|rego|collect ARGS``."""
from __future__ import annotations

import gc
import glob
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path

REGO_DIR = Path(__file__).resolve().parent / "rego"
#: policy id -> the Rego package whose ``verdicts`` hold [[target id, status], ...]: the issue's three (bootstrap
#: off the server, client BMR path, virtual server mobility) and VIRT-001 (director mode), which costs little
REGO_PACKAGES = {"BMR-001": "bmr_001", "BOOT-002": "boot_002", "VIRT-002": "virt_002", "VIRT-001": "virt_001"}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evaluate_snapshot(path, verdicts_out=None) -> dict:
    """policycheck in-process through pipeline.run (load the snapshot, derive, evaluate every built-in policy,
    judge: report and gate); the run times each step."""
    from policycheck import pipeline
    from policycheck.engine import evaluate

    policies = pipeline.load_all_policies()  # compiled once, before the clock: it does not depend on the facts
    c0, t0 = time.process_time(), time.perf_counter()
    outcome = pipeline.run(pipeline.RunInputs(policies=policies, snapshot=path))  # validates against the model
    total = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rss = rss_mb()
    facts, results, doc, steps = outcome.facts, outcome.report.results, outcome.document, outcome.timings
    in_rego = [p for p in policies if p.id in REGO_PACKAGES]
    t4 = time.perf_counter()
    res3 = evaluate(in_rego, facts)
    eval3 = time.perf_counter() - t4
    statuses: dict = {}
    for r in results:
        statuses.setdefault(r.policy.id, Counter())[r.status] += 1
    if verdicts_out:
        Path(verdicts_out).write_text(json.dumps([[r.policy.id, r.target_id, r.status] for r in res3]))
    return {"load_s": steps["facts_s"], "build_s": steps["derive_s"], "eval_s": steps["evaluate_s"],
            "judge_s": steps["judge_s"], "total_s": total, "cpu_s": cpu,
            "eval3_s": eval3, "rss_mb": rss, "results": len(results),
            "entities": sum(len(v) for v in doc["entities"].values()),
            "statuses": {k: dict(v) for k, v in sorted(statuses.items())},
            "reporters_s": time_reporters(outcome.report)}


def validation(path) -> dict:
    """What validating a snapshot against the facts model costs: the same check load_snapshot runs."""
    from policycheck.facts import gc_paused
    from policycheck.model import check_document

    with open(path, "rb") as fh, gc_paused():
        doc = json.load(fh)
    c0, t0 = time.process_time(), time.perf_counter()
    problems = check_document(doc)
    return {"validate_s": time.perf_counter() - t0, "validate_cpu_s": time.process_time() - c0,
            "problems": len(problems)}


def time_reporters(report) -> dict:
    """Seconds each built-in report writer takes to render the whole report."""
    import copy

    from policycheck.plugins import make_plugins

    reporters = make_plugins(load_entry_points=False).reporters
    out = {}
    for fmt in ("text", "json", "junit", "markdown"):
        if fmt in reporters:
            r = copy.copy(report)
            r.options = dict(report.options, color=False)
            t = time.perf_counter()
            reporters[fmt].render(r)
            out[fmt] = time.perf_counter() - t
    return out


def floor(path) -> dict:
    """json.loads of the snapshot's bytes already in memory: with the GC as Python leaves it, and without."""
    raw = Path(path).read_bytes()
    t = time.perf_counter()
    doc = json.loads(raw)
    with_gc = time.perf_counter() - t
    del doc
    no_gc, no_gc_cpu = loads_nogc(raw)
    return {"json_loads_s": with_gc, "json_loads_nogc_s": no_gc, "json_loads_nogc_cpu_s": no_gc_cpu}


def loads_nogc(raw: bytes) -> tuple[float, float]:
    """The floor: (wall, CPU) seconds of json.loads of ``raw`` with the GC collected, then off."""
    gc.collect()
    gc.disable()
    t, c = time.perf_counter(), time.process_time()
    json.loads(raw)
    return time.perf_counter() - t, time.process_time() - c


def rego(path, verdicts_out) -> dict:
    """regopy on the same snapshot: load it as the input, then query each policy's verdicts."""
    from regopy import Interpreter

    interp = Interpreter()
    for f in sorted(glob.glob(str(REGO_DIR / "*.rego"))):
        interp.add_module(Path(f).stem, Path(f).read_text())
    t0 = time.perf_counter()
    interp.set_input_term(Path(path).read_text(encoding="utf-8"))
    t1 = time.perf_counter()
    verdicts = []
    for pid, pkg in REGO_PACKAGES.items():
        out = interp.query(f"x := data.policycheck.{pkg}.verdicts")
        text = str(out)
        try:
            rows = json.loads(text)["bindings"]["x"]
        except (ValueError, KeyError, TypeError):
            raise SystemExit(f"regopy: {pid}: {text[:2000]}") from None
        verdicts += [[pid, tid, status] for tid, status in rows]
    t2 = time.perf_counter()
    Path(verdicts_out).write_text(json.dumps(verdicts))
    return {"load_s": t1 - t0, "eval_s": t2 - t1, "rss_mb": rss_mb(), "targets": len(verdicts)}


def collect(backups, delay) -> dict:
    """The NetWorker collector against its fake server answering after ``delay`` seconds per request."""
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins" / "policycheck-networker" / "tests"))
        from fakenetworker import FakeNetworker, generate_datazone  # the plugin's test-only fake server
        from policycheck_networker.plugin import SCHEMA
        from policycheck_networker.plugin import collect as nw_collect
    except ImportError as exc:
        return {"skipped": f"the networker plugin is not installed: {exc}"}
    from policycheck.api import CollectContext

    zone = generate_datazone(int(backups))
    workers = SCHEMA["properties"]["max_workers"]["default"]
    logs: list = []

    with FakeNetworker(zone) as srv:  # one server: its answers are encoded once, on the warm-up run
        settings = {"url": srv.url, "username": srv.username, "password": srv.password}

        def once(d):
            srv.delay = d
            srv.requests.clear()
            ctx = CollectContext(source="nsr", timeout=600, secrets=[srv.password], log=logs.append)
            t = time.perf_counter()
            frag = nw_collect(settings, ctx)
            return time.perf_counter() - t, len(srv.requests), frag

        once(0.0)
        no_delay, _, _ = once(0.0)
        wall, requests, frag = once(float(delay))
    return {"backups": int(backups), "delay_s": float(delay), "requests": requests, "concurrency": workers,
            "wall_s_collect": wall, "wall_s_no_delay": no_delay, "rss_mb": rss_mb(), "log": logs[-3:],
            "entities": {k: len(v) for k, v in frag["entities"].items()}}


def main(argv) -> int:
    mode, args = argv[0], argv[1:]
    if mode == "eval":
        out = args[2] if len(args) > 2 and args[1] == "--verdicts" else None
        ans = evaluate_snapshot(args[0], out)
    elif mode == "floor":
        ans = floor(args[0])
    elif mode == "validate":
        ans = validation(args[0])
    elif mode == "rego":
        ans = rego(args[0], args[1])
    elif mode == "collect":
        ans = collect(args[0], args[1])
    else:
        raise SystemExit(f"unknown worker {mode!r}")
    print(json.dumps(ans))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
