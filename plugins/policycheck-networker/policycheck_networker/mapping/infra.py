"""Facts about the server's infrastructure: backup server, its host, storage nodes, devices, volumes."""
from __future__ import annotations

import json
from collections import Counter

from policycheck.kit.names import is_ip, norm_host

SERVER_ALIAS = "nsrserverhost"

MEDIA = {"adv_file": "disk", "file": "file", "data domain": "dedup", "cloud boost": "cloud",
         "cloudboost": "cloud", "atmos cos": "cloud", "dd cloud tier": "cloud"}
FAMILY = {"tape": "tape", "disk": "disk", "cloud": "cloud", "logical": "disk"}
OS = {"linux": "linux", "windows": "windows", "solaris": "solaris", "aix": "aix", "hp-ux": "hpux",
      "hpux": "hpux", "macos": "macos", "darwin": "macos"}


MAX_INCOMPLETE = 10  # incomplete entries kept per kind; the rest are counted in one more entry
PARTIAL_REASON = ("NetWorker knows this host is its backup server (and storage node); whether it also "
                  "serves files, VDI, applications or anything else is outside what NetWorker can see")


def show(value, limit: int = 80) -> str:
    """A value from the server quoted for a reason: JSON-escaped (no control characters), cut short."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = json.dumps(text)
    return text if len(text) <= limit else text[: limit - 4] + '..."'


class Problems:
    """Elements of the server's answers that could not be read: counted per element type, and the
    `incomplete` entries (contract item 3) for the kinds whose lists they leave incomplete."""

    def __init__(self, server_id: str, where=lambda path: f"/nwrestapi/v3/global/{path}"):
        self.server_id = server_id
        self.where = where
        self.counts: Counter = Counter()
        self.examples: list[str] = []
        self._incomplete: dict[str, list] = {}
        self._more: Counter = Counter()

    def count(self, element: str, reason: str) -> None:
        self.counts[element] += 1
        if len(self.examples) < 5:
            self.examples.append(reason)

    def incomplete(self, kind: str, reason: str) -> None:
        entries = self._incomplete.setdefault(kind, [])
        if len(entries) < MAX_INCOMPLETE:
            entries.append({"kind": kind, "reason": reason, "backup_server": self.server_id})
        else:
            self._more[kind] += 1

    def entries(self) -> list:
        out = []
        for kind, entries in self._incomplete.items():
            out.extend(entries)
            if self._more[kind]:
                out.append({"kind": kind, "backup_server": self.server_id,
                            "reason": f"and {self._more[kind]} more malformed elements like the above"})
        return out

    def summary(self) -> str:
        parts = ", ".join(f"{n} {what}{'s' if n > 1 else ''}" for what, n in sorted(self.counts.items()))
        return f"{sum(self.counts.values())} malformed elements ({parts}); first: {self.examples[0]}"


norm = norm_host  # host-name normalisation is the kit's (one place for every plugin)


def _is_ip(n: str) -> bool:
    """The kit's is_ip, asked only when the text could be an address (digits and dots, or a colon):
    ipaddress refuses a name by raising, which costs microseconds per client on the hot path."""
    return (":" in n or n.replace(".", "").isdigit()) and is_ip(n)


def short(name: object) -> str:
    """The kit's short_name (an address whole, else the first label), through the cheap address check."""
    n = norm(name)
    return n if _is_ip(n) else n.split(".", 1)[0]


def looks_like_host(text: str) -> bool:
    """An IP address or a dotted name without spaces (a free-text vault location is neither)."""
    t = norm(text)
    return bool(t) and " " not in t and (_is_ip(t) or "." in t)


def _loopback(n: str) -> bool:
    """A loopback address or localhost names no machine: never use it as an alias to join on."""
    return n in ("localhost", "::1") or n.startswith("127.")


def os_name(text) -> str | None:
    t = norm(text)
    for key, value in OS.items():
        if key in t:
            return value
    return "other" if t else None


class Server:
    """The server's identity and the names that mean it (hostname, short name, nsrserverhost, URL host)."""

    def __init__(self, config: dict, url_host: str):
        self.config = config or {}
        self._memo: dict = {}
        self._owns: dict = {}
        self.id = norm(self.config.get("name")) or norm(url_host)
        self.names = {self.id, short(self.id), SERVER_ALIAS, norm(url_host)}
        self.aliases = sorted(n for n in {short(self.id), norm(url_host)}
                              if n and n != self.id and not _loopback(n))

    def owns(self, hostname) -> bool:
        """Whether a name means the server: its name, short name, URL host, nsrserverhost, or its FQDN
        when the server calls itself by a short name (memoised: asked once per client and save set)."""
        try:
            return self._owns[hostname]
        except KeyError:
            out = self._owns[hostname] = self._owns_name(hostname)
            return out
        except TypeError:  # not hashable: not a host name
            return False

    def _owns_name(self, hostname) -> bool:
        n = norm(hostname)
        if not n:
            return False
        if n in self.names:
            return True
        if _is_ip(n) or "." not in n:
            return False
        return "." not in self.id and n.split(".", 1)[0] == self.id

    def canonical(self, hostname) -> str:
        try:
            return self._memo[hostname]
        except KeyError:
            out = self._memo[hostname] = self.id if self.owns(hostname) else norm(hostname)
            return out
        except TypeError:  # not hashable: not a host name
            return ""

    def entities(self) -> dict:
        cfg = self.config
        server = {"id": self.id, "aliases": self.aliases, "host": self.id, "product": "networker"}
        if cfg.get("version"):
            server["version"] = str(cfg["version"])
        # NetWorker sees only its own part of the host: the lists are partial (contract item 2), so a
        # policy needing the whole list (BSRV-001's subset_of) is unknown unless another source knows it
        host = {"id": self.id, "hostname": self.id, "aliases": self.aliases, "roles": ["backup_server"],
                "services": ["backup"], "_partial": {"roles": PARTIAL_REASON, "services": PARTIAL_REASON}}
        if "." in self.id:
            host["fqdn"] = self.id
        osn = os_name(cfg.get("serverOSType"))
        if osn:
            host["os"] = osn
        return {"backup_server": [server], "host": [host]}


def split_device_name(name: str) -> tuple[str | None, str]:
    """('sn01.corp', '/nsr/aftd1') for 'rd=sn01.corp:/nsr/aftd1'; (None, name) without the prefix."""
    if name.lower().startswith("rd="):
        rest = name[3:]
        host, sep, path = rest.partition(":")
        if sep and host:
            return norm(host), path
    return None, name


def media_type(dev: dict) -> str | None:
    mt = norm(dev.get("mediaType"))
    if mt in MEDIA:
        return MEDIA[mt]
    if any(t in mt for t in ("lto", "dlt", "tape", "3592", "t10000", "sdlt", "4mm", "8mm")):
        return "tape"
    return FAMILY.get(norm(dev.get("mediaFamily")))


def data_host(dev: dict, driver: str) -> str:
    """Where a device's data physically lives: the Data Domain/NFS host of its access info, else its driver."""
    if dev.get("dataDomainHost"):
        return norm(dev["dataDomainHost"])
    info = str(dev.get("deviceAccessInfo") or "")
    mt = media_type(dev)
    if mt in ("dedup", "cloud", "disk", "file") and ":" in info and not info.startswith("/") \
            and not (len(info) > 1 and info[1] == ":"):  # not a Windows drive letter
        host = info.split(":", 1)[0]
        if host and "\\" not in host:
            return norm(host)
    if mt == "cloud":
        return "cloud"
    return driver


def not_reported(name: str, mt: str | None) -> str:
    """Why NetWorker cannot say whether a device that is not Data Domain is immutable (another source may)."""
    if mt in ("tape", "vtl"):
        return (f"device {name}: NetWorker records WORM per tape volume (Volume.states), not per drive; "
                "a copy on a volume whose states were not sent is unknown")
    what = {"cloud": "object lock of the cloud target", "disk": "an immutable file system behind the path",
            "file": "an immutable file system behind the path"}.get(mt or "", "a lock on the storage")
    return f"device {name}: NetWorker does not record {what} (give the device's immutable from another source)"


class Devices:
    """Devices keyed by fact id, with the lookups volumes need (volume id / mounted volume name → device)."""

    def __init__(self, server: Server, devices: list, storage_nodes: list, problems: Problems | None = None):
        self.server = server
        self.sn_names = {norm(s.get("name")) for s in storage_nodes if isinstance(s, dict) and s.get("name")}
        self.facts: dict[str, dict] = {}
        self.by_volume: dict[str, str] = {}
        self.unnamed: dict[str, str] = {}  # volume id/name -> reason: mounted on a device without a name
        self.client_data_unknown: str | None = None  # reason why any device might hold client data
        self.lock_modes: dict[str, object] = {}  # Data Domain device id -> dataDomainRetentionLockMode as sent
        problems = problems if problems is not None else Problems(server.id)
        for i, dev in enumerate(devices):
            name = dev.get("name")
            if not name or not isinstance(name, str):
                # which device it is cannot be told: the device list is incomplete, and a copy on one of
                # its volumes is on an unknown device
                reason = (f"GET {problems.where('devices')}: device #{i} has "
                          f"{'no name' if not name else 'a non-text name ' + show(name)}"
                          f" (mediaType {show(dev.get('mediaType'))}, volume {show(dev.get('mountedVolume'))})")
                problems.count("device", reason)
                problems.incomplete("device", reason)
                for key in ("volumeId", "mountedVolume"):
                    if dev.get(key):
                        self.unnamed.setdefault(str(dev[key]), reason)
                continue
            sn, path = split_device_name(str(name))
            sn_own = sn is None or server.owns(sn)
            driver = server.id if sn_own else sn
            fid = f"{server.id}:{name}"
            fact = {"id": fid, "name": str(name), "backup_server": server.id,
                    "storage_node": None if sn_own else sn, "host": driver,
                    "networker_path": path, "networker_data_host": data_host(dev, driver),
                    "networker_media_type": dev.get("mediaType"), "client_data": False}
            mt = media_type(dev)
            if mt:
                fact["media_type"] = mt
            status = dev.get("status")
            if isinstance(status, str):
                fact["enabled"] = status.lower() == "enabled"
                fact["networker_status"] = status
            if dev.get("deviceAccessInfo"):
                fact["networker_access_info"] = dev["deviceAccessInfo"]
            if dev.get("volumePool"):
                fact["networker_pool"] = dev["volumePool"]
            if mt == "dedup":
                self.lock_modes[fid] = dev.get("dataDomainRetentionLockMode")  # decided in policies.py
            else:
                fact["_unknown"] = {"immutable": not_reported(str(name), mt)}
            self.facts[fid] = fact
            for key in ("volumeId", "mountedVolume"):
                if dev.get(key):
                    self.by_volume.setdefault(str(dev[key]), fid)

    def driven_by_server(self, fid: str | None) -> bool:
        """The server's own storage node drives it (no rd= prefix): data flows through the server."""
        f = self.facts.get(fid or "")
        return bool(f) and f["storage_node"] is None

    def local(self, fid: str | None) -> bool:
        """Driven by the server's own host and its data also lives there (not Data Domain, NFS, cloud)."""
        f = self.facts.get(fid or "")
        return bool(f) and f["storage_node"] is None and f["networker_data_host"] == self.server.id


class Jukeboxes:
    """Libraries (tape or virtual) by name and by the volumes they hold, each with its controlling host."""

    def __init__(self, server: Server, jukeboxes: list | None, devices: Devices, unknown: str | None = None):
        self.by_name: dict[str, dict] = {}
        self.by_volume: dict[str, dict] = {}
        self.unknown = unknown  # why the libraries could not be read (refused): placement by library unknown
        for jb in jukeboxes or []:
            if not isinstance(jb, dict) or not jb.get("name"):
                continue
            hosts = {split_device_name(str(d))[0] for d in jb.get("devices") or []}
            host = norm(jb.get("hostname")) or next((h for h in sorted(hosts - {None})), None) or server.id
            info = {"name": jb["name"], "host": server.canonical(host), "virtual": bool(jb.get("virtual"))}
            self.by_name[norm(jb["name"])] = info
            for key in list(jb.get("volumes") or []) + list(jb.get("volumeIds") or []):
                self.by_volume[str(key)] = info
            if info["virtual"]:
                for d in jb.get("devices") or []:
                    fact = devices.facts.get(f"{server.id}:{d}")
                    if fact is not None:
                        fact["media_type"] = "vtl"
            for d in jb.get("devices") or []:
                fact = devices.facts.get(f"{server.id}:{d}")
                if fact is not None:
                    fact["networker_jukebox"] = jb["name"]


class Volumes:
    """Volumes by id and by name, each resolved to the device that has it mounted (or None) and, when
    not mounted, to the library holding it."""

    def __init__(self, volumes: list, devices: Devices, jukeboxes: Jukeboxes | None = None):
        self.by_id: dict[str, dict] = {}
        jbs = jukeboxes or Jukeboxes(devices.server, [], devices)
        self.jukeboxes_unknown = jbs.unknown
        for vol in volumes:
            jb = (jbs.by_volume.get(str(vol.get("name"))) or jbs.by_volume.get(str(vol.get("id")))
                  or jbs.by_name.get(norm(vol.get("location"))))
            states = vol.get("states")
            info = {"name": vol.get("name"), "location": vol.get("location") or None,
                    "pool": vol.get("pool"), "device": None, "jukebox": jb,
                    "tape": norm(vol.get("family")) == "tape" or media_type({"mediaType": vol.get("type")}) == "tape",
                    # Volume.states (swagger: "whether the volume is WORM ... capable, recyclable ..."): None
                    # when the server did not send it (older release, fl= refused)
                    "states": [x for x in states if isinstance(x, str)] if isinstance(states, list) else None}
            for key in (vol.get("id"), vol.get("name")):
                if key and str(key) in devices.unnamed:
                    info["unknown"] = devices.unnamed[str(key)]
            for key in (vol.get("id"), vol.get("name")):
                if key and str(key) in devices.by_volume:
                    info["device"] = devices.by_volume[str(key)]
            for key in (vol.get("id"), vol.get("shortId")):
                if key:
                    self.by_id[str(key)] = info
            if vol.get("name"):
                self.by_id.setdefault(str(vol["name"]), info)

    def get(self, vid, devices: Devices) -> dict:
        info = self.by_id.get(str(vid))
        if info is None:  # a volume id the volumes list did not have: maybe still mounted
            info = {"name": str(vid), "location": None, "pool": None, "device": devices.by_volume.get(str(vid)),
                    "jukebox": None, "tape": False, "states": None, "missing": True}
            if str(vid) in devices.unnamed:
                info["unknown"] = devices.unnamed[str(vid)]
        return info


def storage_node_facts(server: Server, storage_nodes: list) -> list:
    out = []
    for sn in storage_nodes:
        name = norm(sn.get("name"))
        if not name or server.owns(name):
            continue  # the server's own storage node: its devices carry storage_node null
        fact = {"id": name, "host": name, "backup_server": server.id}
        if "." in name:
            fact["aliases"] = [short(name)]
        for src, dst in (("typeOfStorageNode", "networker_type"), ("enabled", "enabled"),
                         ("ready", "networker_ready")):
            if src in sn:
                fact[dst] = sn[src]
        out.append(fact)
    return out
