"""Save sets into facts: bootstrap backups with every copy, clients' latest backups, devices taking client data."""
from __future__ import annotations

from datetime import datetime

from policycheck_networker import times
from policycheck_networker.infra import (Devices, Server, Volumes, looks_like_host, norm, os_name, short,
                                         split_device_name)

NOT_USABLE = {"aborted", "inprogress", "in progress", "recyclable", "suspect", "expired", "invalid", "unknown"}
BMR_PREFIX = "disaster_recovery:"
VM_ATTRS = ("*vm_name", "*vm_uuid")
_status_ok: dict = {}


def _usable(status) -> bool:
    ok = _status_ok.get(status) if status.__class__ is str else False
    if ok is None:
        ok = _status_ok[status] = norm(status).replace(" ", "") not in NOT_USABLE
    return ok


def usable_instances(backup: dict) -> list:
    return [i for i in backup.get("instances") or () if isinstance(i, dict) and _usable(i.get("status"))]


def attr(backup: dict, key: str):
    for a in backup.get("attributes") or ():
        if isinstance(a, dict) and a.get("key") == key:
            vals = a.get("values") or []
            return vals[0] if vals else None
    return None


def classify(backup: dict) -> str:
    name = backup.get("name")
    low = name.lower() if name.__class__ is str else ""
    if low == "bootstrap":
        return "bootstrap"
    if low.startswith("index:"):
        return "index"
    if low.startswith(BMR_PREFIX):
        return "bmr"
    if low.startswith("vm:") or backup.get("vmInformation") or any(
            isinstance(a, dict) and a.get("key") in VM_ATTRS for a in backup.get("attributes") or ()):
        return "image"
    return "filesystem"


def vm_keys(backup: dict) -> tuple[str | None, str | None]:
    """(vm uuid, vm name) of an image-level backup, from its name, attributes or vmInformation."""
    uuid = attr(backup, "*vm_uuid")
    name = attr(backup, "*vm_name")
    parts = str(backup.get("name") or "").split(":")
    if not uuid and len(parts) >= 2 and parts[0].lower() == "vm":
        uuid = parts[1]
    info = backup.get("vmInformation")
    if isinstance(info, dict):
        for k, v in info.items():
            kl = k.lower()
            if not uuid and "uuid" in kl and isinstance(v, str):
                uuid = v
            if not name and kl in ("vmname", "name") and isinstance(v, str):
                name = v
    return (norm(uuid) or None), (norm(name) or None)


class BackupFacts:
    """One pass over the backups list; keeps only what the facts need (latest times, bootstraps)."""

    def __init__(self, server: Server, devices: Devices, volumes: Volumes, vms: list | None):
        self.server, self.devices, self.volumes = server, devices, volumes
        self.vm_guest = {}
        self.vm_by_name = {}
        for vm in vms or []:
            guest = norm(vm.get("hostname")) or None
            if vm.get("uuid"):
                self.vm_guest[norm(vm["uuid"])] = guest
            if vm.get("name") and guest:
                self.vm_by_name[norm(vm["name"])] = guest
        self.latest: dict[str, dict] = {}  # client id -> {"filesystem"|"image"|"bmr": datetime}
        self.bootstraps: list[dict] = []
        self.unjoined_images = 0
        self.seen_volumes: set = set()  # volumes already known to hold client data

    def add_all(self, backups: list) -> None:
        for b in backups:
            if isinstance(b, dict):
                self.add(b)

    def add(self, b: dict) -> None:
        """Account for one save set; the hot loop of a big datazone, so kept lean."""
        insts = [i for i in b.get("instances") or () if i.__class__ is dict and _usable(i.get("status"))]
        if not insts:
            return
        when = b.get("saveTime")
        try:
            when = datetime.fromisoformat(when)
            if when.tzinfo is None:
                return
        except (TypeError, ValueError):
            when = times.parse(when)
            if when is None:
                return
        kind = classify(b)
        if kind == "bootstrap":
            self.bootstraps.append(self._bootstrap(b, insts, when))
            return
        if kind == "index":
            return
        seen = self.seen_volumes
        for inst in insts:
            for vid in inst.get("volumeIds") or ():
                if vid not in seen:
                    seen.add(vid)
                    fid = self.volumes.get(vid, self.devices)["device"]
                    if fid:
                        self.devices.facts[fid]["client_data"] = True
        if kind == "image":
            who = self._guest(b)
            if who is None:
                self.unjoined_images += 1
                return
        else:
            who = self.server.canonical(b.get("clientHostname"))
        if not who:
            return
        slot = self.latest.get(who)
        if slot is None:
            slot = self.latest[who] = {}
        cur = slot.get(kind)
        if cur is None or when > cur:
            slot[kind] = when

    def _guest(self, b: dict) -> str | None:
        uuid, name = vm_keys(b)
        if uuid and self.vm_guest.get(uuid):
            return self.server.canonical(self.vm_guest[uuid])
        if name:
            return self.server.canonical(self.vm_by_name.get(name, name))
        return None

    def _bootstrap(self, b: dict, insts: list, when) -> dict:
        copies = []
        for inst in insts:
            vols = [self.volumes.get(v, self.devices) for v in inst.get("volumeIds") or []]
            first = vols[0] if vols else {"name": None, "device": None, "location": None}
            fid = first["device"]
            copy = {"device": fid, "volume": first["name"], "clone": bool(inst.get("clone")),
                    "networker_volumes": [v["name"] for v in vols], "networker_status": inst.get("status")}
            if fid:
                dev = self.devices.facts[fid]
                copy["local_to_server"] = all(self.devices.local(v["device"]) for v in vols)
                copy["location"] = None if dev["networker_data_host"] == dev["host"] else dev["networker_data_host"]
            else:
                copy.update(self._unmounted(first))
            copies.append(copy)
        level = norm(b.get("level")) or None
        fact = {"id": f"{self.server.id}:bootstrap:{b.get('id') or b.get('shortId') or times.iso(when)}",
                "backup_server": self.server.id, "time": times.iso(when), "copies": copies,
                "networker_save_set_id": b.get("id")}
        if level:
            fact["level"] = level
        return fact

    def _unmounted(self, vol: dict) -> dict:
        """Where a copy on a volume mounted on no device is: in a library, at a host, or elsewhere (a vault)."""
        jb = vol.get("jukebox")
        if jb is not None:
            return {"location": f"jukebox {jb['name']}", "location_host": jb["host"],
                    "local_to_server": self.server.owns(jb["host"]), "networker_jukebox": jb["name"]}
        where = vol.get("location")
        if not where:
            return {"location": None}  # where it is, nobody recorded: local_to_server stays unknown
        sn, _ = split_device_name(where)
        host = sn or norm(where)
        known = self.server.owns(host) or host in self.devices.sn_names or \
            host in {short(n) for n in self.devices.sn_names}
        if sn or known or looks_like_host(host):
            return {"location": where, "location_host": host, "local_to_server": self.server.owns(host)}
        return {"location": where, "local_to_server": False, "offsite": True}  # a vault, a safe, a site

    def client_times(self, client_id: str, aliases=()) -> dict:
        slot: dict = {}
        for key in dict.fromkeys((client_id, *aliases, short(client_id))):
            for kind, when in self.latest.get(key, {}).items():
                if slot.get(kind) is None or when > slot[kind]:
                    slot[kind] = when
        return {"last_filesystem_backup": times.iso(slot.get("filesystem")),
                "last_image_backup": times.iso(slot.get("image")),
                "last_bmr_backup": times.iso(slot.get("bmr"))}


def client_facts(server: Server, clients: list, bf: BackupFacts) -> list:
    """One client fact per hostname (several client resources may share one), plus guests seen only in images."""
    groups: dict[str, dict] = {}
    for c in clients:
        host = server.canonical(c.get("hostname"))
        if not host:
            continue
        g = groups.setdefault(host, {"aliases": set(), "save_sets": [], "groups": set(), "types": set(),
                                     "sns": [], "ids": []})
        g["aliases"].update(norm(a) for a in c.get("aliases") or [] if a)
        if c.get("os") and not g.get("os"):
            g["os"] = os_name(c["os"])
        if "." in host:
            g["aliases"].add(short(host))
        for s in c.get("saveSets") or []:
            if s not in g["save_sets"]:
                g["save_sets"].append(s)
        g["groups"].update(c.get("protectionGroups") or [])
        if c.get("backupType"):
            g["types"].add(c["backupType"])
        for sn in c.get("storageNodes") or []:
            if sn not in g["sns"]:
                g["sns"].append(sn)
        rid = c.get("resourceId")
        if isinstance(rid, dict) and rid.get("id"):
            g["ids"].append(str(rid["id"]))
    out = []
    for host, g in sorted(groups.items()):
        fact = {"id": host, "hostname": host, "aliases": sorted(g["aliases"] - {host}),
                "backup_server": server.id, **bf.client_times(host, g["aliases"]),
                "networker_save_sets": g["save_sets"], "networker_protection_groups": sorted(g["groups"]),
                "networker_backup_types": sorted(g["types"]), "networker_storage_nodes": g["sns"],
                "networker_resource_ids": g["ids"],
                "networker_bmr_save_set": any(str(s).lower().startswith(BMR_PREFIX) for s in g["save_sets"])}
        if g.get("os"):
            fact["os"] = g["os"]
        out.append(fact)
    known = set(groups) | {a for g in groups.values() for a in g["aliases"]}
    for host in sorted(bf.latest):
        if host not in known and short(host) not in known and bf.latest[host].get("image"):
            out.append({"id": host, "hostname": host, "backup_server": server.id, **bf.client_times(host),
                        "networker_image_only": True})
    return out
