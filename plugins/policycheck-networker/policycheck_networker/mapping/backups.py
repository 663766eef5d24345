"""Save sets into facts: bootstrap backups with every copy, clients' latest backups, devices taking client data."""
from __future__ import annotations

from datetime import datetime, tzinfo

from policycheck_networker.mapping import times
from policycheck_networker.mapping.infra import (
    Devices,
    Problems,
    Server,
    Volumes,
    looks_like_host,
    norm,
    short,
    show,
    split_device_name,
)

_show = show

NOT_USABLE = {"aborted", "inprogress", "in progress", "recyclable", "suspect", "expired", "invalid", "unknown"}
BMR_PREFIX = "disaster_recovery:"
VM_ATTRS = ("*vm_name", "*vm_uuid")
KIND_ATTR = {"filesystem": "last_filesystem_backup", "image": "last_image_backup", "bmr": "last_bmr_backup"}
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

    def __init__(self, server: Server, devices: Devices, volumes: Volumes, vms: list | None,
                 problems: Problems | None = None):
        self.server, self.devices, self.volumes = server, devices, volumes
        self.vm_guest = {}
        self.vm_by_name = {}
        for vm in vms or []:
            if not isinstance(vm, dict):
                continue
            guest = norm(vm.get("hostname")) or None
            if vm.get("uuid"):
                self.vm_guest[norm(vm["uuid"])] = guest
            if vm.get("name") and guest:
                self.vm_by_name[norm(vm["name"])] = guest
        self.latest: dict[str, dict] = {}  # client id -> {"filesystem"|"image"|"bmr"|"bootstrap": time key}
        # client id -> (saveTime, usable instances, save set id) of its latest successful save set
        self.best: dict[str, tuple] = {}
        self.failed: dict[str, str] = {}  # client id -> saveTime (key) of its latest aborted save set
        self._kinds: dict[str, str] = {}  # save set name -> kind, for save sets without VM information
        self._copies: dict[tuple, dict] = {}  # (volume ids, clone, status) -> copy fact
        self._who: dict = {}  # clientHostname -> client id ("" for a text that names no host)
        self._off: str | None = None  # the offset of the server's times ("-05:00"), from the first one read
        self._tz: tzinfo | None = None
        self.bootstraps: list[dict] = []
        self.unjoined_images = 0
        self.image_backups_seen = 0  # usable image-level save sets (joined or not)
        self.seen_volumes: set = set()  # volumes already known to hold client data
        self.problems = problems if problems is not None else Problems(server.id)
        self.unknown: dict[str, dict] = {}  # client id -> {attribute: reason} from malformed save sets
        self.unknown_all: dict[str, str] = {}  # attribute -> reason, for every client

    def time_key(self, value) -> str | None:
        """A saveTime as an ISO 8601 text in the server's offset, or None when unreadable or without offset.

        Texts in one offset compare as their times do, so latest-of comparisons are text comparisons
        (comparing aware datetimes costs a utcoffset() call on each side, the biggest cost of the loop).
        A time in another offset (daylight saving, another format) is converted to the first one's.
        """
        off = self._off
        if (value.__class__ is str and len(value) == 25 and off is not None and value.endswith(off)
                and value[10] == "T" and value[7] == "-" and value[4] == "-"):  # YYYY-MM-DDTHH:MM:SS+hh:mm
            try:
                datetime.fromisoformat(value)  # validates: a malformed time is never compared as text
            except ValueError:
                return None
            return value
        dt = times.parse(value)
        if dt is None:
            return None
        if self._tz is None:
            self._tz = dt.tzinfo
            self._off = dt.isoformat(timespec="seconds")[19:]
        return dt.astimezone(self._tz).isoformat(timespec="seconds")

    def add_all(self, backups: list) -> None:
        for b in backups:
            if isinstance(b, dict):
                self.add(b)
            else:
                self._malformed({}, "unknown", "element", b, what="is not an object")

    def add(self, b: dict) -> None:
        """Account for one save set; the hot loop of a big datazone, so kept lean.

        A save set whose instances or saveTime cannot be read is never dropped: what it would have
        decided (the latest bootstrap, a client's latest backup, whether a device holds client data)
        becomes unknown with the reason.
        """
        raw = b.get("instances")
        insts: list | None = None
        if raw.__class__ is list:  # one pass: check the shape and keep the usable instances
            insts = []
            ok_by_status = _status_ok
            for i in raw:
                if i.__class__ is not dict:
                    insts = None
                    break
                v = i.get("volumeIds")
                if v is not None and v.__class__ is not list:
                    insts = None
                    break
                st = i.get("status")
                ok = ok_by_status.get(st) if st.__class__ is str else False
                if ok is None:
                    ok = _usable(st)
                if ok:
                    insts.append(i)
        if insts is None:
            self._malformed(b, classify(b), "instances", raw,
                            what="has no instances list" if raw is None else "has malformed instances")
            return
        if not insts:
            if raw:
                self._aborted(b, raw)
            return
        when = self.time_key(b.get("saveTime"))
        # the kind depends on the name alone unless the save set carries VM information (fl= leaves out
        # attributes): cached per name
        name = b.get("name")
        if "vmInformation" in b or "attributes" in b or name.__class__ is not str:
            kind = classify(b)
        else:
            cached = self._kinds.get(name)
            kind = cached if cached is not None else self._kinds.setdefault(name, classify(b))
        if kind == "bootstrap":
            if when is None:
                self._malformed(b, kind, "saveTime", b.get("saveTime"))
                return
            boot = self._bootstrap(b, insts, when)
            self.bootstraps.append(boot)
            # the bootstrap is a successful backup of the server's own client (RPO-001), its copies that
            # backup's copies
            sid = self.server.id
            slot = self.latest.setdefault(sid, {})
            if slot.get("bootstrap") is None or when > slot["bootstrap"]:
                slot["bootstrap"] = when
            best = self.best.get(sid)
            if best is None or when > best[0]:
                self.best[sid] = (when, boot["copies"], b.get("id"), True)
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
            self.image_backups_seen += 1
            who = self._guest(b)
            if who is None:
                self.unjoined_images += 1  # credited to no client (counted as evidence), whatever its time
                return
        else:
            host = b.get("clientHostname")
            if host.__class__ is str:
                who = self._who.get(host)
                if who is None:
                    who = self._who[host] = self.server.canonical(host)
            else:
                who = ""
            if not who:
                self._malformed(b, kind, "clientHostname", host)
                return
        if when is None:
            self._malformed(b, kind, "saveTime", b.get("saveTime"), who=who)
            return
        slot = self.latest.get(who)
        if slot is None:
            slot = self.latest[who] = {}
        cur = slot.get(kind)
        if cur is None or when > cur:
            slot[kind] = when
            best = self.best.get(who)
            if best is None or when > best[0]:
                self.best[who] = (when, insts, b.get("id"), False)

    def _aborted(self, b: dict, raw: list) -> None:
        """A client save set none of whose instances is usable: an Aborted one is a failed backup."""
        if not any(i.get("status").__class__ is str and i["status"].lower() == "aborted" for i in raw):
            return
        kind = classify(b)
        if kind in ("bootstrap", "index"):
            return
        who = self._guest(b) if kind == "image" else (
            self.server.canonical(b["clientHostname"]) if b.get("clientHostname").__class__ is str else None)
        when = self.time_key(b.get("saveTime"))
        if not who or when is None:
            return  # a failed run's time is context only (RPO-001 evidence): nothing else depends on it
        if who not in self.failed or when > self.failed[who]:
            self.failed[who] = when

    def _malformed(self, b: dict, kind: str, field: str, value, who: str | None = None, what: str = "") -> None:
        """Record a save set that cannot be read and make unknown what it would have decided."""
        label = b.get("id") or b.get("shortId") or "?"
        name = b.get("name")
        what = what or ("has no " + field if value is None else f"has unparseable {field}")
        reason = (f"GET {self.problems.where('backups')}: save set {_show(label)}"
                  f"{f' ({_show(name)})' if name is not None else ''} {what}"
                  f"{'' if value is None else ' ' + _show(value)}")
        self.problems.count("save set", reason)
        if kind == "bootstrap":
            self.problems.incomplete("bootstrap", reason)
            return
        if kind == "index":
            return  # index save sets decide nothing (they are allowed anywhere)
        if field in ("instances", "element"):
            # which volumes it is on is unknown: any device not yet known to hold client data might
            self.devices.client_data_unknown = self.devices.client_data_unknown or reason
            if kind == "unknown":  # not even its kind is known: a bootstrap as much as a client backup
                self.problems.incomplete("bootstrap", reason)
        attrs = list(KIND_ATTR.values()) if kind not in KIND_ATTR else [KIND_ATTR[kind]]
        if who is None and kind in KIND_ATTR and field == "instances":
            if kind == "image":
                who = self._guest(b)
            elif b.get("clientHostname").__class__ is str:
                who = self.server.canonical(b["clientHostname"]) or None
        for attr in attrs:
            if who:
                self.unknown.setdefault(who, {}).setdefault(attr, reason)
            else:  # which client it belongs to is unknown: every client's latest backup of that kind is
                self.unknown_all.setdefault(attr, reason)

    def _guest(self, b: dict) -> str | None:
        uuid, name = vm_keys(b)
        if uuid and self.vm_guest.get(uuid):
            return self.server.canonical(self.vm_guest[uuid])
        if name:
            return self.server.canonical(self.vm_by_name.get(name, name))
        return None

    def copy(self, inst: dict) -> dict:
        """One instance (the original save set or a clone) as a copy fact: device, volume, where it is,
        and what NetWorker says of its immutability and reach (see ``media_state``).

        Copies depend only on the instance's volumes, clone flag and status: built once per such triple
        (thousands of clients' latest save sets share a handful of volumes), each fact its own dict."""
        vids = inst.get("volumeIds") or ()
        key: tuple | None = (tuple(vids), bool(inst.get("clone")), inst.get("status"))
        try:
            made = self._copies.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable volume id: built as is
            made = key = None
        if made is None:
            made = self._copy(inst)
            if key is not None:
                self._copies[key] = made
        out = dict(made)
        out["networker_volumes"] = list(made["networker_volumes"])
        return out

    def _copy(self, inst: dict) -> dict:
        vols = [self.volumes.get(v, self.devices) for v in inst.get("volumeIds") or []]
        first = vols[0] if vols else {"name": None, "device": None, "location": None}
        fid = first["device"]
        copy = {"device": fid, "volume": first["name"], "clone": bool(inst.get("clone")),
                "networker_volumes": [v["name"] for v in vols], "networker_status": inst.get("status")}
        if first.get("unknown") and not fid:
            # mounted on a device the server listed without a name: where it is cannot be told
            copy.update({"location": None, "networker_unknown": first["unknown"]})
        elif fid:
            dev = self.devices.facts[fid]
            copy["local_to_server"] = all(self.devices.local(v["device"]) for v in vols)
            copy["location"] = None if dev["networker_data_host"] == dev["host"] else dev["networker_data_host"]
        else:
            copy.update(self._unmounted(first))
        if vols:
            media_state(copy, vols, self.volumes.jukeboxes_unknown)
        return copy

    def _bootstrap(self, b: dict, insts: list, when) -> dict:
        copies = [self.copy(inst) for inst in insts]
        level = norm(b.get("level")) or None
        fact = {"id": f"{self.server.id}:bootstrap:{b.get('id') or b.get('shortId') or when}",
                "backup_server": self.server.id, "time": when, "copies": copies,
                "networker_save_set_id": b.get("id")}
        if level:
            fact["level"] = level
        return fact

    def _unmounted(self, vol: dict) -> dict:
        """Where a copy on a volume mounted on no device is: in a library, at a host, or elsewhere (a vault)."""
        jb = vol.get("jukebox")
        if jb is None and self.volumes.jukeboxes_unknown:
            # the library list was refused: a tape "located" in a library would read as a vault here
            return {"location": None, "networker_location": vol.get("location"),
                    "networker_unknown": self.volumes.jukeboxes_unknown}
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

    def client_times(self, client_id: str, aliases=()) -> tuple[dict, dict, tuple | None, str | None]:
        """(latest backup times by attribute, {attribute: reason} for those malformed save sets made unknown,
        the latest successful save set (time, instances or copies, id) or None, latest aborted save set time).

        An unknown attribute is left out of the times (absent = unknown) and named in ``_unknown``."""
        latest, unknown_by, best_by, failed_by = self.latest, self.unknown, self.best, self.failed
        keys = [k for k in dict.fromkeys((client_id, *aliases, short(client_id)))
                if k in latest or k in unknown_by or k in failed_by]
        if len(keys) <= 1:  # the common case: one name of the client has save sets (no merging needed)
            k = keys[0] if keys else client_id
            slot = latest.get(k) or {}
            unknown = {**self.unknown_all, **unknown_by[k]} if k in unknown_by else dict(self.unknown_all)
            out = {attr: slot.get(kind) for kind, attr in KIND_ATTR.items() if attr not in unknown}
            return out, unknown, best_by.get(k), failed_by.get(k)
        slot = {}
        unknown = dict(self.unknown_all)
        best = None
        failed = None
        for key in keys:
            for kind, when in self.latest.get(key, {}).items():
                if slot.get(kind) is None or when > slot[kind]:
                    slot[kind] = when
            for attr, reason in unknown_by.get(key, {}).items():
                unknown.setdefault(attr, reason)
            b = best_by.get(key)
            if b is not None and (best is None or b[0] > best[0]):
                best = b
            f = failed_by.get(key)
            if f is not None and (failed is None or f > failed):
                failed = f
        out = {attr: slot.get(kind) for kind, attr in KIND_ATTR.items() if attr not in unknown}
        return out, unknown, best, failed


def media_state(copy: dict, vols: list, jukeboxes_unknown: str | None) -> None:
    """A copy's ``immutable`` and ``offline`` as far as its volumes tell (every volume of the instance must).

    - immutable: a volume whose ``states`` holds ``WORM`` (swagger Volume.states) is write-once media; a tape
      volume whose ``states`` came without it is not (NetWorker reads WORM from the cartridge). Otherwise
      nothing is said here: the core takes the device's ``immutable`` (Data Domain retention lock), or
      leaves it unknown.
    - offline: a volume mounted on a device or held by a library is in the server's reach (false); a tape
      volume that is neither (withdrawn from the library, vaulted) is out of it (true). Nothing is said
      when the libraries could not be read or for a disk volume that is not mounted.
    """
    imm: set = set()
    off: set = set()
    for v in vols:
        states = v.get("states")
        if states is not None and "WORM" in states:
            imm.add(True)
        elif states is not None and v.get("tape"):
            imm.add(False)
        else:
            imm.add(None)
        if v.get("device") or v.get("jukebox"):
            off.add(False)
        elif v.get("tape") and not jukeboxes_unknown and not v.get("missing"):
            off.add(True)
        else:
            off.add(None)
    if imm == {True}:
        copy["immutable"] = True
    elif False in imm:
        copy["immutable"] = False
    if off == {True}:
        copy["offline"] = True
    elif False in off:
        copy["offline"] = False
