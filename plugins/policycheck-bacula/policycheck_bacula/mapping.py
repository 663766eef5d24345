"""Pure mapping (no I/O, no clock reads) of the parsed director answers to facts: backup_server, host, storage_node,
device, bootstrap, client."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timezone
from pathlib import Path

from policycheck.kit.names import norm_host

from .clock import parse_local, record_offset
from .history import FAILED_STATUS, OK_STATUS, ClientScope, newest
from .hosts import NETWORK_FS, HostNamer, command_destinations, mount_of
from .volumes import IMMUTABLE_UNKNOWN, media_kind, volume_offline

LEVELS = {"F": "full", "I": "incr", "D": "diff", "B": "base", "V": "verify"}
BMR_FILESET = re.compile(r"\b(bmr|rear|bare[ -]?metal|system[ -]?image|disaster[_ -]?recovery)\b", re.I)


def is_catalog_job(job: dict, names: list | None) -> bool:
    if names is not None:
        return job["name"] in names
    if job["type"] != "B":
        return False
    scripts = " ".join(rs.get("command") or "" for rs in job["runscripts"])
    return bool(re.search("catalog", job["name"], re.I) or re.search("catalog", job["fileset"] or "", re.I)
                or "make_catalog_backup" in scripts)


def effective_storages(job: dict) -> list[str]:
    """Where a job's data goes: the Pool's storage overrides the Job's."""
    return job["pool_storage"] or job["job_storage"]


class Mapper:
    """Build one fragment from a parsed snapshot of a director."""

    def __init__(self, snap: dict, settings: dict, mounts_text: str | None, namer: HostNamer,
                 addresses: Callable[[str], frozenset[str]]):
        """``namer`` tells which host an address is and ``addresses`` resolves a name (both done by the caller:
        the mapping itself does no I/O)."""
        self.s = snap
        self.settings = settings
        self.namer = namer
        self.addresses = addresses
        self.director = snap["director"]
        self.server = self.director  # the backup server is named by the director's Name
        self.host = self.namer.director_id  # the machine it runs on
        self.tz = snap.get("tz")
        self.fixed_tz = bool(settings.get("utc_offset"))
        self.mounts_text = mounts_text
        self.catalog_names = {j["name"] for j in snap["jobs"] if is_catalog_job(j, settings.get("catalog_jobs"))}
        self.records = snap["job_records"]
        self.storages_by_id = {st["storage_id"]: st["name"] for st in snap["storages"] if st.get("storage_id")}
        self.media = {v["VolumeName"]: v for v in snap.get("volumes", [])}
        self.window_jobs = int(settings.get("window_jobs", 2000))
        self.catalog_clients = {c.get("Name") for c in snap["client_records"]}
        self.clones: dict[str, list[dict]] = {}  # PriorJobId -> its Copy records
        for r in self.records:
            if r.get("Type") == "C":
                self.clones.setdefault(r.get("PriorJobId") or "", []).append(r)

    def dev_id(self, storage_name: str) -> str:
        return f"{self.director}/{storage_name}"

    # -- times ------------------------------------------------------------------------------------
    def time_of(self, rec: dict, field: str = "EndTime") -> tuple[str | None, str | None]:
        """(ISO time with the director's offset, None) or (None, why it cannot be told)."""
        value = rec.get(field)
        where = f"{rec.get('_command', 'llist jobs')!r}: JobId {rec.get('JobId')} ({rec.get('Name') or 'no Name'})"
        local = parse_local(value)
        if local is None:
            return None, f"{where} has {'no ' + field if not value else f'an unparseable {field} {value[:40]!r}'}"
        tz = self.tz if self.fixed_tz else (timezone(record_offset(rec)) if record_offset(rec) is not None
                                             else self.tz)
        if tz is None:
            return None, f"{where}: the director's UTC offset is unknown ({self.s.get('tz_source')})"
        return local.replace(tzinfo=tz).isoformat(), None

    # -- devices and storage nodes ----------------------------------------------------------------
    def configured_client_storages(self) -> set[str]:
        """Where enabled client backup jobs write by configuration (the Pool's Storage overrides the Job's)."""
        jobs, pools = self.s["jobs"], self.s["pools"]
        out: set[str] = set()
        client_pools = set()
        for j in jobs:
            if j["type"] == "B" and j["name"] not in self.catalog_names and j["enabled"]:
                out.update(effective_storages(j))
                client_pools.add(j["pool"])
        for j in jobs:  # Copy/Migrate jobs move client data to their next pool's storage
            if j["type"] in ("c", "g") and j["pool"] in client_pools and j["enabled"]:
                nxt = j["next_pool"] or (pools.get(j["pool"]) or {}).get("next_pool")
                out.update((pools.get(nxt) or {}).get("storage", []))
        return out

    def director_mode(self, volumes_by_job: dict[str, list[str] | None]) -> dict:
        """Which storages take client data: the job media of recent client jobs, else the configuration."""
        cm = self.s.get("client_media") or {"ids": [], "candidates": 0, "capped": False}
        used: set[str] = set()
        jobs, unplaced = [], []
        for jid in cm["ids"]:
            vols = volumes_by_job.get(jid) or []
            names = set()
            for vol in vols:
                name = self.storages_by_id.get((self.media.get(vol) or {}).get("StorageId"))
                if name is None:
                    unplaced.append(f"volume {vol} of JobId {jid}")
                else:
                    names.add(name)
            if names:
                jobs.append({"jobid": int(jid), "storages": sorted(names)})
                used |= names
        config = self.configured_client_storages()
        if jobs:
            storages = used | (config if cm["capped"] else set())
            how = (f"job media of the newest run of each of {len(jobs)} client backup/copy jobs among the "
                   f"director's newest {self.window_jobs} jobs" + (f" (capped at {len(cm['ids'])} of {cm['candidates']}; the "
                                                  "configuration adds the rest)" if cm["capped"] else ""))
            decided = "job_media"
        else:
            storages, decided = config, "configuration"
            how = (f"configuration of the enabled client jobs (no client job with readable job media among the "
                   f"director's newest {self.window_jobs} jobs)")
        return {"decided_by": decided, "how": how, "client_storages": sorted(storages), "jobs": jobs,
                "configured_storages": sorted(config), "unplaced_volumes": unplaced}

    def devices(self, mode: dict) -> tuple[list, list, list]:
        devices, nodes, hosts = [], {}, {}
        client_data = set(mode["client_storages"])
        for st in self.s["storages"]:
            host, why = self.namer.host_of(st["address"])
            dev = {"id": self.dev_id(st["name"]), "backup_server": self.server,
                   "client_data": st["name"] in client_data, "bacula_client_data_from": mode["decided_by"],
                   "bacula_storage": st["name"], "bacula_device": st["device"],
                   "bacula_media_type": st["media_type"], "bacula_sd_address": f"{st['address']}:{st['port']}"}
            unknown = {}
            if host is None:
                reason = (f"'show storage': Storage {st['name']} has SD address {st['address']!r}, which is "
                          f"none of the director's names and does not resolve here ({why}); map it with "
                          f"host_map: {{{st['address']}: <host>}}")
                unknown["host"] = reason
                unknown["storage_node"] = reason
            else:
                local = host == self.host
                if not local:
                    nodes[host] = {"id": host, "host": host, "backup_server": self.server}
                    hosts[host] = {"id": host, "addresses": sorted(self.addresses(st["address"]))}
                dev["host"] = host
                dev["storage_node"] = None if local else host
                if self.namer.mapped(st["address"]):
                    dev["bacula_host_from"] = "host_map"
            kind = media_kind(st["media_type"])
            if kind:
                dev["media_type"] = kind
            else:
                unknown["media_type"] = (f"Bacula MediaType {st['media_type']!r} does not say whether "
                                         f"storage {st['name']} is disk or tape")
            unknown["enabled"] = "Bacula 9.6's console does not show a Storage resource's Enabled directive"
            unknown["immutable"] = IMMUTABLE_UNKNOWN.format(storage=st["name"])
            dev["_unknown"] = unknown
            devices.append(dev)
        return devices, list(nodes.values()), list(hosts.values())

    # -- bootstrap (catalog backup) ------------------------------------------------------------------
    def bsr_copies(self, job: dict) -> tuple[list[dict], list[dict]]:
        """Copies of the .bsr that leave the host (Write Bootstrap pipe, remote mount, RunScript)."""
        copies, targets = [], []
        wb = job.get("write_bootstrap")
        if wb:
            if wb.lstrip().startswith("|"):
                dests = command_destinations(wb)
                remote = [h for h in dests if not self.namer.is_director_host(h)]
                targets.append({"target": wb, "kind": "pipe", "destinations": dests, "off_host": bool(remote)})
                if remote:
                    copies.append({"device": None, "volume": None, "clone": False,
                                   "location": f"{remote[0]}: Write Bootstrap pipe {wb}",
                                   "bacula_via": "write_bootstrap_pipe", "location_host": remote[0]})
            else:
                where = self.remote_path(wb)
                targets.append({"target": wb, "kind": "path", "off_host": where is not None,
                                "mount": where})
                if where:
                    copies.append({"device": None, "volume": None, "clone": False,
                                   "location": f"{where}: Write Bootstrap {wb}", "bacula_via": "remote_mount"})
        for rs in job["runscripts"]:
            cmd = rs.get("command") or ""
            if rs.get("when") != "after" or not rs.get("on_success") or not cmd:
                continue
            mentions_bsr = ".bsr" in cmd or (wb and not wb.startswith("|") and str(Path(wb).parent) in cmd)
            dests = [h for h in command_destinations(cmd) if not self.namer.is_director_host(h)]
            targets.append({"target": cmd, "kind": "runscript", "destinations": dests,
                            "off_host": bool(mentions_bsr and dests)})
            if mentions_bsr and dests:
                copies.append({"device": None, "volume": None, "clone": False,
                               "location": f"{dests[0]}: RunScript {cmd}", "bacula_via": "runscript",
                               "location_host": dests[0]})
        return copies, targets

    def remote_path(self, path: str) -> str | None:
        for prefix in self.settings.get("offhost_paths") or []:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return f"off-host path {prefix} (configured)"
        if self.mounts_text:
            m = mount_of(path, self.mounts_text)
            if m and m[2] in NETWORK_FS:
                return f"{m[2]} {m[0]} mounted at {m[1]}"
        return None

    def bootstraps(self, volumes_by_job: dict[str, list[str] | None]) -> list[dict]:
        jobs = {j["name"]: j for j in self.s["jobs"]}
        out = []
        for rec in self.catalog_runs():
            copies, unknown = [], []
            clones = [c for c in self.records if c.get("Type") == "C"
                      and c.get("PriorJobId") == rec["JobId"] and c.get("JobStatus") in OK_STATUS]
            for r, clone in [(rec, False)] + [(c, True) for c in clones]:
                vols = volumes_by_job.get(r["JobId"])
                if vols is None:
                    unknown.append(f"the job media of JobId {r['JobId']} were not listed")
                for vol in vols or []:
                    cp, problem = self.volume_copy(vol, r["JobId"], clone)
                    if cp is None:
                        unknown.append(problem)
                    else:
                        copies.append(cp)
            job = jobs.get(rec["Name"])
            targets: list[dict] = []
            if job:
                extra, targets = self.bsr_copies(job)
                copies += extra
            when, why = self.time_of(rec)
            b = {"id": f"{self.director}:job:{rec['JobId']}", "backup_server": self.server,
                 "time": when, "level": LEVELS.get(rec.get("Level"), rec.get("Level")),
                 "copies": copies, "bacula_job": rec["Name"], "bacula_jobid": int(rec["JobId"]),
                 "bacula_bsr_targets": targets}
            if why:
                del b["time"]
                b["_unknown"] = {"time": why}
            if unknown:
                b.setdefault("_unknown", {})["copies"] = "; ".join(unknown)
            out.append(b)
        return out

    def volume_copy(self, vol: str, jobid: str, clone: bool) -> tuple[dict | None, str]:
        """One volume a job wrote as a copy on its device, with what the catalog says about its reach."""
        media = self.media.get(vol) or {}
        sid = media.get("StorageId")
        name = self.storages_by_id.get(sid)
        if name is None:
            return None, f"volume {vol} (StorageId {sid}) is on no configured Storage resource"
        cp: dict = {"device": self.dev_id(name), "volume": vol, "clone": clone, "location": None,
                    "bacula_jobid": int(jobid),
                    "bacula_volume": {k: media.get(f) for k, f in (("status", "VolStatus"), ("enabled", "Enabled"),
                                                                    ("in_changer", "InChanger"),
                                                                    ("recycle", "Recycle"))}}
        st: dict = next((s for s in self.s["storages"] if s["name"] == name), {})
        offline, why = volume_offline(media, st)
        if offline is not None:
            cp["offline"] = offline
        elif why:
            cp["_unknown"] = {"offline": why}
        return cp, ""

    def job_copies(self, rec: dict, volumes_by_job: dict[str, list[str] | None]) -> tuple[list[dict], list[str]]:
        """A backup job's own volumes and those of its good Copy jobs (Type C, PriorJobId = its JobId)."""
        clones = [c for c in self.clones.get(rec["JobId"], []) if c.get("JobStatus") in OK_STATUS]
        copies, problems = [], []
        for r, clone in [(rec, False)] + [(c, True) for c in clones]:
            vols = volumes_by_job.get(r["JobId"])
            if vols is None:
                problems.append(f"the job media of JobId {r['JobId']} were not read")
                continue
            if not vols:
                problems.append(f"'list jobmedia jobid={r['JobId']}' lists no volume (pruned or recycled)")
            for vol in vols:
                cp, why = self.volume_copy(vol, r["JobId"], clone)
                if cp is None:
                    problems.append(why)
                else:
                    copies.append(cp)
        return copies, problems

    def catalog_runs(self) -> list[dict]:
        """The newest good runs of the catalog backup jobs (by JobId: a bad EndTime does not hide a run)."""
        runs = [r for r in self.records if r.get("Name") in self.catalog_names and r.get("Type") == "B"
                and r.get("JobStatus") in OK_STATUS]
        runs.sort(key=lambda r: int(r["JobId"]), reverse=True)
        return runs[: int(self.settings.get("max_bootstraps", 5))]

    def nameless(self) -> list[dict]:
        """Successful Backup records without a Name: they may be catalog backups or any client's backup."""
        return [r for r in self.records if not r.get("Name") and r.get("Type") in ("B", None, "")
                and r.get("JobStatus") in OK_STATUS | {None, ""}]

    # -- clients -------------------------------------------------------------------------------
    def client_history(self) -> dict[str, dict]:
        """Per client name: the newest good file-system and BMR backups, and why a time cannot be told."""
        hist: dict[str, dict] = {}
        for r in self.records:
            if (r.get("Type") != "B" or r.get("JobStatus") not in OK_STATUS or r.get("Name") in self.catalog_names
                    or not r.get("Name") or r.get("Level") not in ("F", "I", "D")):
                continue
            h = hist.setdefault(r.get("ClientName"), {"fs": [], "bmr": []})
            (h["bmr"] if BMR_FILESET.search(r.get("FileSet") or "") else h["fs"]).append(r)
        return hist

    def client_ids(self) -> dict[str, str]:
        """Client entity ids unique per (backup server, host): '<director>/<host>' (+ '#<client>' if shared)."""
        hosts: dict[str, list[str]] = {}
        for c in self.s["clients"]:
            hosts.setdefault(self.client_host(c), []).append(c["name"])
        ids = {}
        for host, names in hosts.items():
            for n in names:
                ids[n] = f"{self.server}/{host}" if len(names) == 1 else f"{self.server}/{host}#{n}"
        return ids

    def client_host(self, c: dict) -> str:
        addr = c.get("address") or c["name"]
        if self.namer.is_director_host(addr):
            return self.host
        return norm_host(self.namer.mapped(addr) or addr)

    def client_scope(self, name: str) -> ClientScope:
        """Which job records read decide the client's newest jobs, and whether they are its whole history."""
        records = self.s.get("records")
        limit = int(self.s.get("history_limit", 0) or 0)
        if records is None:  # a snapshot without the bounded queries (tests): every record read counts
            return ClientScope([r for r in self.records if r.get("ClientName") == name], True, "")
        recs = records.client_records(name)
        cmd = records.history_cmd.get(name)
        if name not in self.catalog_clients:
            return ClientScope(recs, True, "")
        if cmd is not None:
            n = len(records.by_command.get(cmd, []))
            return ClientScope(recs, n < limit, f"its newest {limit} Backup jobs were read ({cmd!r} returned "
                                                "its whole limit) and older ones were not (raise history_limit)")
        full = records.window_full.get("B", False)
        return ClientScope(recs, not full, f"the director's newest {records.window_limit} Backup jobs were read "
                                           "(window_jobs) and older ones were not")

    def backup_state(self, c: dict, volumes_by_job: dict[str, list[str] | None]) -> tuple[dict, dict, dict]:
        """(attributes, _unknown, _partial): last_successful_backup, last_failed_backup, latest_backup_copies."""
        name = c["name"]
        scope = self.client_scope(name)
        recs = [r for r in scope.records if r.get("Type") == "B"]
        good = [r for r in recs if r.get("JobStatus") in OK_STATUS]
        failed = [r for r in recs if r.get("JobStatus") in FAILED_STATUS]
        ent: dict = {}
        unknown: dict = {}
        partial: dict = {}
        for attr, rs, what in (("last_successful_backup", good, "successful"), ("last_failed_backup", failed, "failed")):
            r, when, why = newest(rs, self.time_of)
            if why:
                unknown[attr] = why
            elif r is not None:
                ent[attr] = when
                ent[f"bacula_{attr}_job"] = {"jobid": int(r["JobId"]), "name": r.get("Name"),
                                             "level": LEVELS.get(r.get("Level") or "", r.get("Level")),
                                             "status": r.get("JobStatus"), "errors": r.get("JobErrors")}
            elif scope.complete:
                ent[attr] = None
            else:
                unknown[attr] = f"no {what} Backup job of {name} among the job records read: {scope.why_incomplete}"
        # the copies are those of the client's own data: its newest good backup that is not a catalog backup
        # (the catalog backup is the server's DR data, reported as a bootstrap) unless it has only catalog backups
        if "last_successful_backup" in unknown:
            unknown["latest_backup_copies"] = unknown["last_successful_backup"]
            return ent, unknown, partial
        data = [r for r in good if r.get("Name") not in self.catalog_names]
        pick, _, why = newest(data or good, self.time_of)
        if pick is None:
            ent["latest_backup_copies"] = []
            return ent, unknown, partial
        copies, problems = self.job_copies(pick, volumes_by_job)
        ent["bacula_latest_backup_jobid"] = int(pick["JobId"])
        records = self.s.get("records")
        if records is not None and records.window_full.get("C"):
            problems.append(f"the director's newest {records.window_limit} Copy jobs were read (window_jobs) and "
                            "older ones were not")
        if problems and not copies:
            unknown["latest_backup_copies"] = f"JobId {pick['JobId']}: " + "; ".join(problems)
        else:
            ent["latest_backup_copies"] = copies
            if problems:
                partial["latest_backup_copies"] = f"JobId {pick['JobId']}: " + "; ".join(problems)
        return ent, unknown, partial

    def clients(self, volumes_by_job: dict[str, list[str] | None] | None = None) -> list[dict]:
        uname = {c.get("Name"): c.get("Uname", "") for c in self.s["client_records"]}
        history = self.client_history()
        records = self.s.get("records")
        limit = int(self.s.get("history_limit", 0) or 0)
        nameless = self.nameless()
        ids = self.client_ids()
        out = []
        for c in self.s["clients"]:
            h = history.get(c["name"], {"fs": [], "bmr": []})
            ent = {"id": ids[c["name"]], "hostname": c["address"], "backup_server": self.server,
                   "last_image_backup": None, "bacula_client": c["name"], "bacula_enabled": c["enabled"]}
            unknown = {}
            for attr, recs in (("last_filesystem_backup", h["fs"]), ("last_bmr_backup", h["bmr"])):
                recs = sorted(recs, key=lambda r: int(r["JobId"]), reverse=True)
                if recs:
                    when, why = self.time_of(recs[0])
                    if why:
                        unknown[attr] = why
                    else:
                        ent[attr] = when
                elif records is not None and self.history_truncated(records, c["name"], limit):
                    unknown[attr] = (f"no successful {'BMR' if 'bmr' in attr else 'file-system'} backup of "
                                     f"{c['name']} among its newest {limit} Backup jobs, and older "
                                     "ones were not read (raise history_limit)")
                else:
                    ent[attr] = None
            bad = [r for r in nameless if r.get("ClientName") in (c["name"], None, "")]
            if bad:
                why = "; ".join(f"{r.get('_command', 'llist jobs')!r}: JobId {r['JobId']} has no Name"
                                for r in bad[:3])
                for attr in ("last_filesystem_backup", "last_bmr_backup"):
                    ent.pop(attr, None)
                    unknown[attr] = f"a successful Backup record cannot be told apart: {why}"
            state, state_unknown, partial = self.backup_state(c, volumes_by_job or {})
            ent.update(state)
            unknown.update(state_unknown)
            if partial:
                ent["_partial"] = partial
            if unknown:
                ent["_unknown"] = unknown
            host = self.client_host(c)
            if host == self.host or self.namer.mapped(c.get("address") or ""):
                ent["host"] = host
            os_name = os_of(uname.get(c["name"], ""))
            if os_name:
                ent["os"] = os_name
            out.append(ent)
        return out

    @staticmethod
    def history_truncated(records, client: str, limit: int) -> bool:
        """Did a per-client history query return its full limit (so older jobs exist unread)?"""
        for cmd, n in records.history.items():
            if (f"client={client} " in cmd or f'client="{client}" ' in cmd) and n >= limit:
                return True
        return False

    # -- all -------------------------------------------------------------------------------------
    def fragment(self, volumes_by_job: dict[str, list[str] | None]) -> dict:
        mode = self.director_mode(volumes_by_job)
        devices, nodes, hosts = self.devices(mode)
        addr = self.settings["address"]
        director_host = {"id": self.host, "aliases": sorted({norm_host(addr)} - {self.host}),
                         "addresses": sorted(self.addresses(addr))}
        server = {"id": self.server, "aliases": sorted({self.host, norm_host(addr)} - {self.server}),
                  "host": self.host, "product": self.s["product"], "version": self.s["version"],
                  "bacula_director": self.director,
                  "bacula_utc_offset": self.s.get("tz_source"),
                  "bacula_clock_skew_seconds": (None if self.s.get("skew") is None
                                                else int(round(self.s["skew"]))),
                  "bacula_director_mode": mode,
                  "bacula_catalog_jobs": sorted(self.catalog_names),
                  "bacula_jobs": [job_summary(j, self.catalog_names) for j in self.s["jobs"]],
                  "bacula_pools": [{"name": p["name"], "storage": p["storage"], "next_pool": p["next_pool"]}
                                   for p in self.s["pools"].values()]}
        frag = {"entities": {"backup_server": [server], "host": [director_host] + hosts,
                             "storage_node": nodes, "device": devices,
                             "bootstrap": self.bootstraps(volumes_by_job), "client": self.clients(volumes_by_job)}}
        nameless = self.nameless()
        if nameless:
            frag["incomplete"] = [{
                "kind": "bootstrap", "backup_server": self.server,
                "reason": (f"Bacula director {self.director}: {len(nameless)} successful Backup record(s) without "
                           f"a Name (e.g. JobId {nameless[0]['JobId']} in {nameless[0].get('_command')!r}): "
                           "cannot tell whether they are catalog backups")}]
        return frag


def job_summary(j: dict, catalog_names: set) -> dict:
    return {"name": j["name"], "type": j["type"], "level": j["level"], "enabled": j["enabled"],
            "client": j["client"], "fileset": j["fileset"], "schedule": j["schedule"],
            "schedule_enabled": j["schedule_enabled"], "pool": j["pool"], "storage": effective_storages(j),
            "write_bootstrap": j["write_bootstrap"], "catalog_backup": j["name"] in catalog_names,
            "runscripts": [{"command": r["command"], "when": r["when"]} for r in j["runscripts"] if r["command"]]}


def os_of(uname: str) -> str | None:
    u = uname.lower()
    for key, name in (("linux", "linux"), ("mingw", "windows"), ("win32", "windows"), ("win64", "windows"),
                      ("windows", "windows"), ("solaris", "solaris"), ("sunos", "solaris"), ("aix", "aix"),
                      ("hpux", "hpux"), ("hp-ux", "hpux"), ("darwin", "macos"), ("freebsd", "other"),
                      ("openbsd", "other"), ("netbsd", "other")):
        if key in u:
            return name
    return None
