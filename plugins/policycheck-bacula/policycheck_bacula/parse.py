"""Parsers for Bacula 9.x bconsole text: `show` resource dumps, `llist` records, `list` tables, `version`, `time`."""
from __future__ import annotations

import re
from datetime import datetime


class ParseError(ValueError):
    """The director's answer does not have the shape this parser knows."""


NOISE = re.compile(r"^(Automatically selected Catalog: .*|Using Catalog .*|You have messages\.|"
                   r"No results to list\.|Enter a period to cancel a command\.)$")
KV = re.compile(r"(\w+)=(\S*)")
LLIST_LINE = re.compile(r"^\s*(\w+): ?(.*)$")


def _kv(line: str) -> dict:
    return {k.lower(): v for k, v in KV.findall(line)}


def parse_version(text: str) -> str:
    m = re.search(r"Version: (\d+\.\d+\.\d+)", text)
    if not m:
        raise ParseError(f"no 'Version: N.N.N' in {text[:120]!r}")
    return m.group(1)


def parse_product(text: str) -> str:
    return "bareos" if "bareos" in text.lower() else "bacula"


def parse_time(text: str) -> datetime:
    """The director's local clock from `time` ('Wed 25-Nov-2026 01:02:03')."""
    m = re.search(r"(\d{1,2}-[A-Za-z]{3}-\d{4} \d{2}:\d{2}:\d{2})", text)
    if not m:
        raise ParseError(f"no time in {text[:120]!r}")
    return datetime.strptime(m.group(1), "%d-%b-%Y %H:%M:%S")


def _blocks(text: str, header: str) -> list[list[str]]:
    """Split a `show` dump into resource blocks that start with 'Header: ' at column 0."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip() or NOISE.match(line.strip()):
            continue
        if line.startswith(header + ": "):
            blocks.append([line])
        elif line[:1].isspace() and blocks:
            blocks[-1].append(line)
        else:
            raise ParseError(f"unexpected line in 'show' output: {line[:120]!r}")
    return blocks


def parse_storages(text: str) -> list[dict]:
    out = []
    for block in _blocks(text, "Storage"):
        kv = {}
        for line in block:
            kv.update(_kv(line))
        if "name" not in kv or "address" not in kv:
            raise ParseError(f"storage without name/address: {block[0][:120]!r}")
        out.append({"name": kv["name"], "address": kv["address"], "port": int(kv.get("sdport", 9103) or 9103),
                    "device": kv.get("devicename"), "media_type": kv.get("mediatype"),
                    "storage_id": kv.get("storageid"), "autochanger": kv.get("autochanger") == "1"})
    return out


def parse_pools(text: str) -> dict[str, dict]:
    out = {}
    for block in _blocks(text, "Pool"):
        head = _kv(block[0])
        pool = {"name": head.get("name"), "type": head.get("pooltype"), "next_pool": None, "storage": []}
        if not pool["name"]:
            raise ParseError(f"pool without name: {block[0][:120]!r}")
        for line in block[1:]:
            s = line.strip()
            if s.startswith("--> Storage:"):
                pool["storage"].append(_kv(s)["name"])
            elif "NextPool=" in s:
                pool["next_pool"] = _kv(s).get("nextpool")
        out[pool["name"]] = pool
    return out


def parse_clients(text: str) -> list[dict]:
    out = []
    for block in _blocks(text, "Client"):
        kv = _kv(block[0])
        if "name" not in kv:
            raise ParseError(f"client without name: {block[0][:120]!r}")
        out.append({"name": kv["name"], "address": kv.get("address"), "port": kv.get("fdport"),
                    "enabled": kv.get("enabled", "1") != "0"})
    return out


def parse_jobs(text: str) -> list[dict]:
    """`show jobs`: each job with its client, fileset, schedule, bootstrap, storages, pool and RunScripts.

    A Pool block's own `--> Storage:` lines come after `--> Pool:`; the Pool's storage overrides the Job's.
    """
    out = []
    for block in _blocks(text, "Job"):
        head = _kv(block[0])
        if "name" not in head or "jobtype" not in head:
            raise ParseError(f"job without name/JobType: {block[0][:120]!r}")
        job = {"name": head["name"], "type": chr(int(head["jobtype"])), "level": head.get("level"),
               "enabled": head.get("enabled", "1") != "0", "client": None, "fileset": None, "schedule": None,
               "schedule_enabled": None, "write_bootstrap": None, "job_storage": [], "pool": None,
               "pool_storage": [], "next_pool": None, "runscripts": []}
        section = None
        for line in block[1:]:
            s = line.strip()
            if s.startswith("--> Client:"):
                job["client"], section = _kv(s).get("name"), "client"
            elif s.startswith("--> FileSet:"):
                job["fileset"], section = _kv(s).get("name"), "fileset"
            elif s.startswith("--> Schedule:"):
                kv = _kv(s)
                job["schedule"], job["schedule_enabled"] = kv.get("name"), kv.get("enabled", "1") != "0"
                section = "schedule"
            elif s.startswith("--> WriteBootstrap="):
                job["write_bootstrap"] = s[len("--> WriteBootstrap="):]
            elif s == "--> RunScript":
                job["runscripts"].append({"command": None, "when": None, "on_success": True,
                                          "on_failure": False, "target": None, "console": None})
                section = "runscript"
            elif section == "runscript" and s.startswith("--> Command="):
                job["runscripts"][-1]["command"] = s[len("--> Command="):]
            elif section == "runscript" and s.startswith("--> Console="):
                job["runscripts"][-1]["console"] = s[len("--> Console="):]
            elif section == "runscript" and s.startswith("--> Target="):
                job["runscripts"][-1]["target"] = s[len("--> Target="):] or None
            elif section == "runscript" and s.startswith("--> RunWhen="):
                job["runscripts"][-1]["when"] = {1: "after", 2: "before", 4: "queued", 8: "after_vss"}.get(
                    int(s.split("=", 1)[1] or 0), s.split("=", 1)[1])
            elif section == "runscript" and s.startswith("--> RunOnSuccess="):
                job["runscripts"][-1]["on_success"] = s.endswith("=1")
            elif section == "runscript" and s.startswith("--> RunOnFailure="):
                job["runscripts"][-1]["on_failure"] = s.endswith("=1")
            elif s.startswith("--> Pool:"):
                if job["pool"] is None:
                    job["pool"] = _kv(s).get("name")
                section = "pool"
            elif section == "pool" and "NextPool=" in s:
                job["next_pool"] = _kv(s).get("nextpool")
            elif s.startswith("--> Storage:"):
                name = _kv(s).get("name")
                (job["pool_storage"] if section == "pool" else job["job_storage"]).append(name)
            elif s.startswith("--> ") and section == "runscript" and not s.startswith("--> Run") \
                    and not s.startswith("--> FailJobOnError"):
                section = None
            elif s.startswith("--> Messages:") or s.startswith("--> Catalog:"):
                section = "other" if section != "pool" else section
        out.append(job)
    return out


def parse_llist(text: str, start_key: str) -> list[dict]:
    """`llist ...` key: value records; a record starts at ``start_key``."""
    records: list[dict] = []
    cur = None
    for line in text.splitlines():
        s = line.strip()
        if not s:
            cur = None
            continue
        if NOISE.match(s) or (start_key == "MediaId" and re.match(r"^Pool: \S", line)):
            continue
        m = LLIST_LINE.match(line)
        if not m:
            raise ParseError(f"unexpected line in 'llist' output: {line[:120]!r}")
        key, value = m.group(1), m.group(2).strip()
        if key == start_key:
            cur = {}
            records.append(cur)
        elif cur is None:
            raise ParseError(f"'llist' field {key!r} outside a record (expected {start_key} first)")
        cur[key] = value
    for r in records:
        if not r[start_key].isdigit():
            raise ParseError(f"{start_key} is not a number: {r[start_key][:40]!r}")
    return records


def parse_tables(text: str) -> list[list[dict]]:
    """`list ...` ASCII tables (border, header row, border, data rows, border) as lists of row dicts."""
    tables: list[list[dict]] = []
    header = None
    borders = 0  # borders seen in the current table: 1 → header next, 2 → rows, 3 → closed
    for line in text.splitlines():
        s = line.strip()
        if not s or NOISE.match(s):
            continue
        if re.fullmatch(r"\+[-+]+\+", s):
            borders = 1 if borders in (0, 3) else borders + 1
            continue
        if not (s.startswith("|") and s.endswith("|")):
            raise ParseError(f"unexpected line in 'list' output: {s[:120]!r}")
        cells = [c.strip() for c in s[1:-1].split("|")]
        if borders == 1:
            header = cells
            tables.append([])
        elif borders == 2 and header is not None:
            if len(cells) != len(header):
                raise ParseError(f"table row with {len(cells)} cells under a {len(header)}-column header")
            tables[-1].append(dict(zip(header, cells, strict=True)))
        else:
            raise ParseError(f"table row outside a table: {s[:120]!r}")
    if borders not in (0, 3):
        raise ParseError("table not closed (truncated answer)")
    return tables
