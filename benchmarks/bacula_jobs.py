"""Bacula collection against a large catalog (run on demand; prints numbers, asserts nothing).

Starts the real Bacula 9.6 test stack (plugins/policycheck-bacula/tests/bacula_stack.py) with CLIENTS extra
Client and Job resources, writes JOBS job records straight into its sqlite catalog (one backup per client
and day going back as far as needed, a catalog backup per day, about 10% of the clients with no backup in the
last two weeks, and job media for the newest runs), then times:

- the collector (``policycheck collect``, bounded reads), end to end, median of RUNS;
- for comparison, the old whole-catalog read: one ``llist jobs`` through bconsole (size and time).

    python benchmarks/bacula_jobs.py                    # 100,000 jobs, 200 clients
    python benchmarks/bacula_jobs.py --jobs 20000 --clients 50 --runs 1
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins/policycheck-bacula/tests"))

import bacula_stack as bs  # noqa: E402


def extra_conf(clients: int) -> str:
    out = []
    for i in range(clients):
        out.append(f"""
Client {{
  Name = bench{i:04d}-fd
  Address = 127.0.{1 + i // 250}.{1 + i % 250}
  FDPort = 9102
  Catalog = MyCatalog
  Password = "{bs.FD_PW}"
}}
Job {{
  Name = Bench{i:04d}
  JobDefs = Defs
  Client = bench{i:04d}-fd
  Storage = Local1
}}""")
    return "".join(out)


def fill(db: Path, jobs: int, clients: int, now: datetime) -> None:
    con = sqlite3.connect(db)
    ids = dict(con.execute("SELECT Name, ClientId FROM Client").fetchall())
    pool = con.execute("SELECT PoolId FROM Pool WHERE Name='Default'").fetchone()[0]
    catpool = con.execute("SELECT PoolId FROM Pool WHERE Name='CatalogPool'").fetchone()[0]
    con.execute("INSERT INTO FileSet (FileSet, MD5, CreateTime) VALUES ('SmallSet', 'x', '2020-01-01 00:00:00')")
    fs = con.execute("SELECT FileSetId FROM FileSet WHERE FileSet='SmallSet'").fetchone()[0]
    con.execute("INSERT INTO FileSet (FileSet, MD5, CreateTime) VALUES ('Catalog', 'y', '2020-01-01 00:00:00')")
    catfs = con.execute("SELECT FileSetId FROM FileSet WHERE FileSet='Catalog'").fetchone()[0]
    stale = {i for i in range(clients) if i % 10 == 7}  # no backup in the last 14 days
    rows, jobid, day = [], 0, 0
    while jobid < jobs:
        for i in list(range(clients)) + [-1]:
            if jobid >= jobs:
                break
            if i in stale and day < 14:
                continue
            jobid += 1
            t = now - timedelta(days=day, minutes=(i % 600))
            local = t.strftime("%Y-%m-%d %H:%M:%S")
            name, client, p, f = ((f"Bench{i:04d}", ids[f"bench{i:04d}-fd"], pool, fs) if i >= 0
                                  else ("BackupCatalog", ids["client1-fd"], catpool, catfs))
            status = "f" if jobid % 37 == 0 else "T"
            rows.append((jobid, f"{name}.{t:%Y-%m-%d_%H.%M.%S}_{jobid % 100:02d}", name, "B",
                         "F" if day % 7 == 0 else "I", client, status, local, local, local, local,
                         int(t.timestamp()), p, f))
        day += 1
    con.executemany("INSERT INTO Job (JobId, Job, Name, Type, Level, ClientId, JobStatus, SchedTime, StartTime, "
                    "EndTime, RealEndTime, JobTDate, PoolId, FileSetId) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.execute("INSERT INTO Media (VolumeName, MediaType, PoolId, StorageId, VolStatus) "
                "SELECT 'Bench-0001', 'File1', ?, StorageId, 'Append' FROM Storage WHERE Name='Local1'", (pool,))
    media = con.execute("SELECT MediaId FROM Media WHERE VolumeName='Bench-0001'").fetchone()[0]
    recent = [r[0] for r in rows if r[0] > jobid - 2 * (clients + 1)]
    con.executemany("INSERT INTO JobMedia (JobId, MediaId, FirstIndex, LastIndex) VALUES (?, ?, 1, 1)",
                    [(j, media) for j in recent])
    con.commit()
    con.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bacula-bench-") as tmp:
        tmp = Path(tmp)
        stack = bs.BaculaStack(tmp / "stack", extra_dir_conf=extra_conf(a.clients))
        t0 = time.perf_counter()
        stack.start()
        print(f"stack started in {time.perf_counter() - t0:.1f} s")
        try:
            t0 = time.perf_counter()
            fill(stack.db, a.jobs, a.clients, datetime.now(timezone.utc).replace(tzinfo=None))
            print(f"catalog filled with {a.jobs:,} jobs for {a.clients + 2} clients in {time.perf_counter() - t0:.1f} s")
            cfg = tmp / "policycheck.yaml"
            cfg.write_text(json.dumps({"version": 1, "sources": [{
                "name": "bacula", "plugin": "bacula", "timeout": 120, "address": "127.0.0.1", "port": stack.dir_port,
                "console_name": "audit", "password": bs.AUDIT_PW, "director_host": "backup01.test"}]}))
            times = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                p = subprocess.run([sys.executable, "-m", "policycheck", "collect", "-c", str(cfg), "-o",
                                    str(tmp / "facts.json")], capture_output=True, text=True, timeout=300)
                times.append(time.perf_counter() - t0)
                if p.returncode != 0:
                    print("collect failed:", p.stderr[-2000:])
                    return
            facts = json.loads((tmp / "facts.json").read_text())
            clients = facts["entities"]["client"]
            known = sum(1 for c in clients if c.get("last_filesystem_backup"))
            print(f"collect (bounded reads): median {statistics.median(times):.2f} s over {a.runs} run(s) "
                  f"{[format(t, '.2f') for t in times]}; {len(clients)} clients, {known} with a last backup, "
                  f"{len(facts['entities']['bootstrap'])} bootstraps")
            conf = tmp / "audit.conf"
            conf.write_text(f'Director {{\n Name = x\n DIRport = {stack.dir_port}\n Address = 127.0.0.1\n'
                            f' Password = "u"\n}}\nConsole {{\n Name = audit\n Password = "{bs.AUDIT_PW}"\n}}\n')
            os.chmod(conf, 0o600)
            t0 = time.perf_counter()
            out = subprocess.run([bs.which("bconsole"), "-n", "-c", str(conf)], input=b"llist jobs\nquit\n",
                                 capture_output=True, timeout=600).stdout
            print(f"for comparison, one whole 'llist jobs': {len(out) / 1e6:.1f} MB in {time.perf_counter() - t0:.2f} s "
                  "(bconsole alone, before any parsing)")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
