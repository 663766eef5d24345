"""A stand-in for the director's catalog answers in unit tests: recorded 9.6.7 answers for the configuration,
and `llist jobs`/`llist job=`/`llist volume=`/`list jobmedia` filtered from a list of job records the way the
real director filters them (jobtype, jobstatus (one letter), job name, client, order=desc, limit). The
integration tests check the same commands against the real director."""
from __future__ import annotations

import re
from pathlib import Path

from policycheck_bacula import parse

DATA = Path(__file__).parent / "data"
CONFIG_FILES = {"version": "version.txt", "time": "time.txt", "show storage": "show_storage.txt",
                "show pools": "show_pools.txt", "show clients": "show_clients.txt", "show jobs": "show_jobs.txt",
                "llist clients": "llist_clients.txt"}


def render_llist(records: list[dict]) -> str:
    if not records:
        return "No results to list."
    out = []
    for r in records:
        out += [f"{k:>16}: {v}" for k, v in r.items() if not k.startswith("_")]
        out.append("")
    return "\n".join(out)


def render_table(rows: list[dict]) -> str:
    """A `list` ASCII table as bconsole draws it."""
    cols = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    line = lambda vals: "| " + " | ".join(str(v).ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([border, line(cols), border] + [line([r[c] for c in cols]) for r in rows] + [border])


class FakeDirector:
    def __init__(self):
        self.config = {c: (DATA / f).read_text() for c, f in CONFIG_FILES.items()}
        self.jobs = parse.parse_llist((DATA / "llist_jobs.txt").read_text(), "JobId")
        self.volumes = parse.parse_llist((DATA / "llist_volumes.txt").read_text(), "MediaId")
        self.media = {j: (DATA / f"list_jobmedia_jobid_{j}.txt").read_text() for j in ("1", "2", "4")}
        self.sent: list[list[str]] = []
        self.old: set[str] = set()  # JobIds older than the window (the newest N jobs)

    def __call__(self, commands: list[str]) -> dict:
        self.sent.append(list(commands))
        return {c: self.answer(c) for c in commands}

    def answer(self, cmd: str) -> str:
        if cmd in self.config:
            return self.config[cmd]
        m = re.fullmatch(r"list jobmedia((?: jobid=\d+)+)", cmd)
        if m:  # as 9.6 answers: each job's media table, then each job's own row (even without media)
            ids = re.findall(r"\d+", m.group(1))
            media = [t for j in ids if j in self.media for t in parse.parse_tables(self.media[j])
                     if t and "VolumeName" in t[0]]
            rows = [[{"JobId": r["JobId"], "Name": r.get("Name", ""), "StartTime": r.get("StartTime", ""),
                      "Type": r.get("Type", ""), "Level": r.get("Level", ""), "JobFiles": r.get("JobFiles", ""),
                      "JobBytes": r.get("JobBytes", ""), "JobStatus": r.get("JobStatus", "")}]
                    for j in ids for r in self.jobs if r["JobId"] == j]
            return "\n".join(render_table(t) for t in media + rows) or "No results to list."
        m = re.fullmatch(r"llist volume=(\S+)", cmd)
        if m:
            return render_llist([v for v in self.volumes if v.get("VolumeName") == m.group(1)])
        m = re.fullmatch(r"llist (jobs )?(.*)", cmd)
        if m:
            kw = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', m.group(2)))
            kw = {k: v.strip('"') for k, v in kw.items()}
            recs = [r for r in self.jobs
                    if ("jobtype" not in kw or r.get("Type") == kw["jobtype"])
                    and ("jobstatus" not in kw or r.get("JobStatus") == kw["jobstatus"][0])
                    and ("job" not in kw or r.get("Name") == kw["job"])
                    and ("client" not in kw or r.get("ClientName") == kw["client"])
                    and ("job" in kw or "client" in kw or r["JobId"] not in self.old)]
            recs.sort(key=lambda r: int(r["JobId"]), reverse=kw.get("order") == "desc")
            if "limit" in kw:
                recs = recs[: int(kw["limit"])]
            return render_llist(recs)
        raise AssertionError(f"the fake director does not know {cmd!r}")
