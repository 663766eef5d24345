"""CPU seconds of each step of `check --facts F --json --junit` in one process, against the json.loads
floor (GC off) of the same snapshot: where the gate's time goes, step by step (run on demand).

    python benchmarks/stages.py SNAPSHOT [--repeat N]

Steps: read (bytes -> text), parse (json.loads), validate (facts model), derive (index + derivations),
evaluate (every built-in policy), judge (waivers, gate, report), json / junit / brief / text (each
writer's chunks, encoded as the CLI writes them, not written to disk; brief is `check`'s stdout, text
`audit`'s). Freeing the run is not counted: the console script ends with os._exit. Prints one line per
step: the smallest CPU of ``--repeat`` runs, its share of the whole, its ratio to the floor, and the
process's resident memory after it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def rss_now() -> float:
    """This process's resident memory now, in MB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


def one_run(path: Path) -> dict[str, float]:
    from policycheck import pipeline
    from policycheck.engine import evaluate
    from policycheck.facts import gc_paused
    from policycheck.model import check_document
    from policycheck.plugins import make_plugins
    from policycheck.secrets import redact_all

    policies = pipeline.load_all_policies()
    reporters = make_plugins(load_entry_points=False).reporters
    out: dict[str, float] = {}
    clock = time.process_time

    def step(name: str, t: float) -> float:
        now = clock()
        out[name] = now - t
        out[name + "_rss"] = rss_now()
        return now

    with gc_paused():
        t = clock()
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
        del data
        t = step("read", t)
        doc = json.loads(text)
        del text
        t = step("parse", t)
        assert not check_document(doc)
        t = step("validate", t)
        facts = pipeline.build_facts(doc)
        t = step("derive", t)
        results = evaluate(policies, facts)
        t = step("evaluate", t)
        from policycheck.gate import compute_gate

        gate = compute_gate(results, "low", True, False, False, False)
        report = pipeline.make_report(results, list(policies), facts, fail_on="low", notes=[], waivers=[],
                                      frameworks=None, evaluated_at={"time": facts.collected_at,
                                                                      "source": "collected_at", "where": None},
                                      options={"color": False}, gate=gate)
        t = step("judge", t)
        for fmt in ("json", "junit", "brief", "text"):
            rend = reporters[fmt]
            chunks = rend.chunks(report) if rend.chunks is not None else (rend.render(report),)
            n = 0
            for c in chunks:
                n += len(redact_all(c).encode("utf-8", errors="backslashreplace"))
            t = step(fmt, t)
            out[fmt + "_mb"] = n / 1e6
        out["results"] = len(results)
    return out


def floor(path: Path) -> float:
    """CPU seconds of the floor, as benchmarks/run.py measures it (workers.loads_nogc)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import workers

    return workers.loads_nogc(path.read_bytes())[1]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("snapshot", type=Path)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    runs = [one_run(args.snapshot) for _ in range(args.repeat)]
    best = {k: min(r[k] for r in runs) for k in runs[0]}
    fl = min(floor(args.snapshot) for _ in range(args.repeat))
    steps = ["read", "parse", "validate", "derive", "evaluate", "judge", "json", "junit", "brief", "text"]
    total = sum(best[s] for s in steps if s != "text")
    print(f"{args.snapshot.name}: {int(best['results'])} results; floor (json.loads, GC off) {fl:.2f} cpu-s")
    for s in steps:
        extra = f"  RSS after: {best[s + '_rss']:5.0f} MB" + (f"  (writes {best[s + '_mb']:.0f} MB)" if s + "_mb" in best else "")
        print(f"  {s:<9} {best[s]:6.2f} cpu-s  {best[s] / total * 100:5.1f}%  {best[s] / fl:5.2f}x floor{extra}")
    print(f"  {'check':<9} {total:6.2f} cpu-s         {total / fl:5.2f}x floor (all but text; the target: 3x)")
    audit = sum(best[s] for s in steps if s not in ("json", "junit", "brief"))
    print(f"  {'audit':<9} {audit:6.2f} cpu-s         {audit / fl:5.2f}x floor (all but json, junit, brief; the target: 4x)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
