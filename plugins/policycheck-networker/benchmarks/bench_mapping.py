"""Mapping 20,000 save sets against decoding them (issue 19 item 3): CPU seconds of json.loads of the
server's answers (the floor) and of build_fragment over the decoded answers, both with the GC paused
as collect() runs them; prints both and their ratio (target: mapping <= 2x decoding).

    python plugins/policycheck-networker/benchmarks/bench_mapping.py [--backups 20000] [--repeat 7] [--profile]
"""
from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import json
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the fake server (test-only) generates the datazone


def answers(n_backups: int) -> dict[str, bytes]:
    """The bodies the server sends for each call (with the collector's fl=), as bytes."""
    from fakenetworker import FakeNetworker, generate_datazone
    from policycheck_networker.client import CALLS
    zone = generate_datazone(n_backups)
    fake = FakeNetworker.__new__(FakeNetworker)  # only its answer selection, no socket
    fake.zone, fake.reject_ranges, fake._cache = zone, False, {}
    out = {}
    for call in CALLS:
        query = {"fl": [",".join(call.fields)]} if call.fields else {}
        if call.query:
            query["q"] = [call.query]
        resource = call.path
        doc = zone.get(resource)
        if doc is None:
            continue
        status, body = fake._select(resource, doc, query)
        assert status == 200, (resource, body[:200])
        out[call.name] = body
    return out


def decode(bodies: dict[str, bytes]) -> dict:
    from policycheck_networker.client import CALLS, envelope

    keys = {c.name: c for c in CALLS}
    raw = {}
    for name, body in bodies.items():
        doc = json.loads(body.decode("utf-8"))
        call = keys[name]
        raw[name] = doc if call.key is None else envelope(doc, call, name)
    return raw


def cpu(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.disable()
        try:
            t = time.process_time()
            fn()
            best = min(best, time.process_time() - t)
        finally:
            gc.enable()
            gc.collect()
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backups", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--profile", action="store_true", help="print the mapping's cProfile (top 25 by tottime)")
    args = ap.parse_args(argv)
    from policycheck_networker.mapping import build_fragment

    bodies = answers(args.backups)
    decoded = decode(bodies)
    host = decoded["serverconfig"]["name"]
    t_decode = cpu(lambda: decode(bodies), args.repeat)
    copies = [copy.deepcopy(decoded) for _ in range(args.repeat)]  # build_fragment pops what it reads
    t_map = cpu(lambda: build_fragment(copies.pop(), host), args.repeat)
    size = sum(len(b) for b in bodies.values())
    print(f"{args.backups:,} save sets, {size / 1e6:.1f} MB of answers")
    print(f"decoding (json.loads, GC off): {t_decode:.3f} cpu-s")
    print(f"mapping (build_fragment, GC off): {t_map:.3f} cpu-s")
    print(f"ratio mapping/decoding: {t_map / t_decode:.2f}x (target <= 2x)")
    if args.profile:
        prof = cProfile.Profile()
        raw = copy.deepcopy(decoded)
        prof.enable()
        build_fragment(raw, host)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
