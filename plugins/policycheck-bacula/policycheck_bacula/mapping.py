"""Map what the director said into policycheck facts: backup_server, host, storage_node, device, bootstrap, client."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .hosts import NETWORK_FS, HostNamer, command_destinations, mount_of, resolve

OK_STATUS = {"T", "W"}  # terminated normally / with warnings
LEVELS = {"F": "full", "I": "incr", "D": "diff", "B": "base", "V": "verify"}
BMR_FILESET = re.compile(r"\b(bmr|rear|bare[ -]?metal|system[ -]?image|disaster[_ -]?recovery)\b", re.I)


def media_kind(media_type: str | None) -> str | None:
    m = (media_type or "").lower()
    for kind, words in (("vtl", ("vtl",)), ("cloud", ("cloud", "s3")), ("dedup", ("dedup", "aligned")),
                        ("tape", ("lto", "dlt", "tape", "dds", "ait", "3592", "t10k", "t10000")),
                        ("file", ("file", "disk"))):
        if any(w in m for w in words):
            return kind
    return None


def server_offset(director_now: datetime, utc_now: datetime, configured: str | None) -> timezone:
    """The director's UTC offset: configured, else its clock (`time`) against ours, to 15 minutes."""
    if configured:
        sign = -1 if configured.startswith("-") else 1
        h, m = configured.lstrip("+-").split(":")
        return timezone(sign * timedelta(hours=int(h), minutes=int(m)))
    minutes = round((director_now - utc_now.replace(tzinfo=None)).total_seconds() / 900) * 15
    return timezone(timedelta(minutes=minutes))


def to_iso(value: str | None, tz: timezone) -> str | None:
    if not value or value.startswith("0000"):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz).isoformat()
    except ValueError:
        return None


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

    def __init__(self, snap: dict, settings: dict, mounts_text: str | None):
        self.s = snap
        self.settings = settings
        self.namer = HostNamer(settings["address"], settings.get("director_host"))
        self.server = self.namer.director_id
        self.director = snap["director"]
        self.tz = snap["tz"]
        self.mounts_text = mounts_text
        self.catalog_names = {j["name"] for j in snap["jobs"] if is_catalog_job(j, settings.get("catalog_jobs"))}

    def dev_id(self, storage_name: str) -> str:
        return f"{self.director}/{storage_name}"

    # -- devices and storage nodes ----------------------------------------------------------------
    def client_data_storages(self) -> set[str]:
        jobs, pools = self.s["jobs"], self.s["pools"]
        out: set[str] = set()
        client_pools = set()
        for j in jobs:
            if j["type"] == "B" and j["name"] not in self.catalog_names:
                out.update(effective_storages(j))
                client_pools.add(j["pool"])
        for j in jobs:  # Copy/Migrate jobs move client data to their next pool's storage
            if j["type"] in ("c", "g") and j["pool"] in client_pools:
                nxt = j["next_pool"] or (pools.get(j["pool"]) or {}).get("next_pool")
                out.update((pools.get(nxt) or {}).get("storage", []))
        return out

    def devices(self) -> tuple[list, list, list]:
        devices, nodes, hosts = [], {}, {}
        client_data = self.client_data_storages()
        for st in self.s["storages"]:
            host = self.namer.host_id(st["address"])
            local = host == self.server
            if not local:
                nodes[host] = {"id": host, "host": host, "backup_server": self.server}
                hosts[host] = {"id": host, "addresses": sorted(resolve(st["address"]))}
            dev = {"id": self.dev_id(st["name"]), "backup_server": self.server,
                   "storage_node": None if local else host, "host": host,
                   "client_data": st["name"] in client_data,
                   "bacula_storage": st["name"], "bacula_device": st["device"],
                   "bacula_media_type": st["media_type"], "bacula_sd_address": f"{st['address']}:{st['port']}"}
            kind = media_kind(st["media_type"])
            if kind:
                dev["media_type"] = kind
            else:
                dev["_unknown"] = {"media_type": f"Bacula MediaType {st['media_type']!r} does not say whether "
                                                f"storage {st['name']} is disk or tape"}
            dev.setdefault("_unknown", {})["enabled"] = (
                "Bacula 9.6's console does not show a Storage resource's Enabled directive")
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

    def bootstraps(self, volumes_by_job: dict[str, list[str]]) -> list[dict]:
        storages = {st["storage_id"]: st["name"] for st in self.s["storages"] if st.get("storage_id")}
        media = {v["VolumeName"]: v for v in self.s["volumes"]}
        jobs = {j["name"]: j for j in self.s["jobs"]}
        out = []
        for rec in self.catalog_runs():
            copies, unknown = [], []
            clones = [c for c in self.s["job_records"] if c.get("Type") == "C"
                      and c.get("PriorJobId") == rec["JobId"] and c.get("JobStatus") in OK_STATUS]
            for r, clone in [(rec, False)] + [(c, True) for c in clones]:
                for vol in volumes_by_job.get(r["JobId"], []):
                    sid = (media.get(vol) or {}).get("StorageId")
                    name = storages.get(sid)
                    if name is None:
                        unknown.append(f"volume {vol} (StorageId {sid}) is on no configured Storage resource")
                        continue
                    copies.append({"device": self.dev_id(name), "volume": vol, "clone": clone,
                                   "location": None, "bacula_jobid": int(r["JobId"])})
            job = jobs.get(rec["Name"])
            targets = []
            if job:
                extra, targets = self.bsr_copies(job)
                copies += extra
            b = {"id": f"{self.director}:job:{rec['JobId']}", "backup_server": self.server,
                 "time": to_iso(rec.get("EndTime"), self.tz), "level": LEVELS.get(rec.get("Level"), rec.get("Level")),
                 "copies": copies, "bacula_job": rec["Name"], "bacula_jobid": int(rec["JobId"]),
                 "bacula_bsr_targets": targets}
            if unknown:
                b["_unknown"] = {"copies": "; ".join(unknown)}
            out.append(b)
        return out

    def catalog_runs(self) -> list[dict]:
        runs = [r for r in self.s["job_records"] if r.get("Name") in self.catalog_names and r.get("Type") == "B"
                and r.get("JobStatus") in OK_STATUS and to_iso(r.get("EndTime"), self.tz)]
        runs.sort(key=lambda r: (r["EndTime"], int(r["JobId"])), reverse=True)
        return runs[: int(self.settings.get("max_bootstraps", 5))]

    # -- clients -------------------------------------------------------------------------------
    def clients(self) -> list[dict]:
        uname = {c.get("Name"): c.get("Uname", "") for c in self.s["client_records"]}
        out = []
        for c in self.s["clients"]:
            fs_times, bmr_times = [], []
            for r in self.s["job_records"]:
                if (r.get("ClientName") != c["name"] or r.get("Type") != "B" or r.get("JobStatus") not in OK_STATUS
                        or r.get("Name") in self.catalog_names or r.get("Level") not in ("F", "I", "D")):
                    continue
                t = r.get("EndTime")
                if t and not t.startswith("0000"):
                    (bmr_times if BMR_FILESET.search(r.get("FileSet") or "") else fs_times).append(t)
            ent = {"id": c["name"], "hostname": c["address"], "backup_server": self.server,
                   "last_filesystem_backup": to_iso(max(fs_times), self.tz) if fs_times else None,
                   "last_image_backup": None,
                   "last_bmr_backup": to_iso(max(bmr_times), self.tz) if bmr_times else None,
                   "bacula_client": c["name"], "bacula_enabled": c["enabled"]}
            if self.namer.is_director_host(c["address"]):
                ent["host"] = self.server
            os_name = os_of(uname.get(c["name"], ""))
            if os_name:
                ent["os"] = os_name
            out.append(ent)
        return out

    # -- all -------------------------------------------------------------------------------------
    def fragment(self, volumes_by_job: dict[str, list[str]]) -> dict:
        devices, nodes, hosts = self.devices()
        addr = self.settings["address"]
        director_host = {"id": self.server, "aliases": sorted({addr.lower()} - {self.server}),
                         "addresses": sorted(resolve(addr))}
        server = {"id": self.server, "aliases": [self.director], "host": self.server,
                  "product": self.s["product"], "version": self.s["version"],
                  "bacula_director": self.director,
                  "bacula_catalog_jobs": sorted(self.catalog_names),
                  "bacula_jobs": [job_summary(j, self.catalog_names) for j in self.s["jobs"]],
                  "bacula_pools": [{"name": p["name"], "storage": p["storage"], "next_pool": p["next_pool"]}
                                   for p in self.s["pools"].values()]}
        return {"entities": {"backup_server": [server], "host": [director_host] + hosts,
                             "storage_node": nodes, "device": devices,
                             "bootstrap": self.bootstraps(volumes_by_job), "client": self.clients()}}


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
