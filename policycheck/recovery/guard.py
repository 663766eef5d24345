"""The pre-flight check before a restore: which host is this, and is PATH about to be restored onto
the wrong machine? Pure functions over the facts and a description of the local system (``local()``
reads it; tests and the CLI may override it through the environment, see :func:`local`).

A restore is refused (each reason named) when:

- ``protected-destination``: the destination is a backup server, storage node or hypervisor manager
  and PATH is a system location;
- ``os-mismatch``: the source client's OS differs from the destination's and PATH is a system location;
- ``not-the-source``: the destination is not the source client and PATH is a system location, without
  ``--relocate``;
- ``wrong-host``: ``--to`` names another host than the one this runs on;
- ``unknown-host``: the facts cannot tell what this host is (no host matches, several do, or the facts'
  OS contradicts the local one); ``--allow-unknown`` overrides this reason only;
- ``unknown-fact``: a fact a rule needs is unknown while PATH is a system location (fail closed).
"""
from __future__ import annotations

import ntpath
import os
import platform as _platform
import posixpath
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from policycheck.derive import why_unknown
from policycheck.facts import is_ip, norm

if TYPE_CHECKING:
    from policycheck.facts import Facts

ENV_PREFIX = "POLICYCHECK_GUARD_"
#: platform.system() -> the facts model's os
OS_NAMES = {"linux": "linux", "windows": "windows", "sunos": "solaris", "solaris": "solaris", "aix": "aix",
            "hp-ux": "hpux", "darwin": "macos", "freebsd": "other", "openbsd": "other", "netbsd": "other"}
#: PATH equal to or below one of these is a system location (POSIX)
POSIX_SYSTEM = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/sbin", "/usr", "/var",
                "/proc", "/sys", "/root", "/kernel", "/platform", "/devices", "/system", "/stand")
#: PATH equal to or below one of these is a system location (Windows; any drive's root is too)
WINDOWS_SYSTEM = ("windows", "program files", "program files (x86)", "programdata", "boot", "recovery",
                  "system volume information")
WINDOWS_SPECIAL = ("disaster_recovery:", "system state", "system state:")
PROTECTED_ROLES = ("backup_server", "storage_node", "hypervisor_manager")

EXIT_REFUSED = 4


@dataclass
class Local:
    hostname: str = ""
    fqdn: str = ""
    addresses: list[str] = field(default_factory=list)
    os: str = ""
    overridden: bool = False


def local(env: Mapping[str, str] | None = None) -> Local:
    """What this system says it is. ``POLICYCHECK_GUARD_HOSTNAME`` (with optional ``_FQDN``, ``_ADDRESSES``
    comma-separated, ``_OS``) replaces the detection entirely: for tests, and for a rescue system
    booted under another name."""
    env = os.environ if env is None else env
    if env.get(ENV_PREFIX + "HOSTNAME"):
        name = env[ENV_PREFIX + "HOSTNAME"]
        return Local(hostname=name, fqdn=env.get(ENV_PREFIX + "FQDN") or name,
                     addresses=[a.strip() for a in (env.get(ENV_PREFIX + "ADDRESSES") or "").split(",") if a.strip()],
                     os=env.get(ENV_PREFIX + "OS") or _os_name(_platform.system()), overridden=True)
    hostname = socket.gethostname()
    try:
        fqdn = socket.getfqdn()
    except OSError:
        fqdn = hostname
    addrs: list[str] = []
    for name in dict.fromkeys((hostname, fqdn)):
        try:
            for info in socket.getaddrinfo(name, None):
                a = str(info[4][0])
                if a not in addrs and not a.startswith("127.") and a != "::1":
                    addrs.append(a)
        except (OSError, UnicodeError):
            pass
    return Local(hostname=hostname, fqdn=fqdn, addresses=addrs, os=_os_name(_platform.system()))


def _os_name(system: str) -> str:
    return OS_NAMES.get(system.lower(), system.lower() or "other")


def is_system_path(path: str) -> bool:
    """``/``, ``/usr``, ``/etc/ssh``, ``C:\\``, ``C:\\Windows``, ``DISASTER_RECOVERY:\\`` ... (not ``/srv/data``)."""
    p = path.strip()
    low = p.lower().replace("/", "\\") if ("\\" in p or (len(p) >= 2 and p[1] == ":")) else None
    if low is not None or p.lower().rstrip("\\/").startswith(WINDOWS_SPECIAL):
        low = (low or p.lower().replace("/", "\\"))
        if low.rstrip("\\").startswith(WINDOWS_SPECIAL) or low.rstrip("\\") in WINDOWS_SPECIAL:
            return True
        drive, rest = ntpath.splitdrive(low)
        rest = ntpath.normpath(rest or "\\").strip("\\")
        if not rest:
            return True  # a drive's root: everything on it
        top = rest.split("\\", 1)[0]
        return top in WINDOWS_SYSTEM
    if not p.startswith("/"):
        p = os.path.abspath(p) if os.sep == "/" else "/" + p
    p = posixpath.normpath(p)
    if p.startswith("//"):
        p = "/" + p.lstrip("/")
    if p == "/":
        return True
    return any(p == s or p.startswith(s + "/") for s in POSIX_SYSTEM)


@dataclass
class Identity:
    host: dict[str, Any] | None
    why: str | None = None           # why the host is unknown
    matched_by: list[str] = field(default_factory=list)


def identify(facts: Facts, me: Local) -> Identity:
    """The host entity this system is, matched by its hostname, FQDN and addresses against every host's
    id, aliases, hostname, fqdn and addresses; unknown when none or several match, or when the facts' OS
    contradicts the local one."""
    names = [n for n in dict.fromkeys((me.hostname, me.fqdn, *me.addresses)) if n]
    idx = facts.alias_index("host")
    found: dict[str, list[str]] = {}
    for n in names:
        hid = idx.lookup(n)
        if hid is None and not is_ip(n) and "." in n:
            hid = idx.lookup(n.split(".", 1)[0]) if norm(n.split(".", 1)[0]) in idx.plain else None
        if hid is not None:
            found.setdefault(hid, []).append(n)
    for h in facts.entities("host"):
        for n in names:
            vals = [h.get("hostname"), h.get("fqdn"), *(h.get("addresses") or ())]
            if any(isinstance(v, str) and norm(v) == norm(n) for v in vals):
                found.setdefault(h["id"], [])
                if n not in found[h["id"]]:
                    found[h["id"]].append(n)
    if not found:
        return Identity(None, f"no host in the facts answers to {', '.join(names) or 'this system'}")
    if len(found) > 1:
        return Identity(None, "several hosts in the facts answer to this system: "
                        + "; ".join(f"{hid} (by {', '.join(ns)})" for hid, ns in sorted(found.items())))
    hid, by = next(iter(found.items()))
    host = facts.get("host", hid)
    if host is None:  # not reached: hid is a host's id (Facts checks every id is a string)
        return Identity(None, f"host {hid} is not in the facts", by)
    if me.os and isinstance(host.get("os"), str) and host["os"] != me.os:
        return Identity(None, f"the facts say {hid} runs {host['os']}, but this system runs {me.os}: it is not "
                        "the machine the facts describe (or they are wrong)", by)
    return Identity(host, None, by)


def describe(facts: Facts, h: dict[str, Any]) -> str:
    """"nsr01.corp.example: solaris, physical; roles backup_server, file_server, sunray_server"."""
    bits = [x for x in (h.get("os"), h.get("platform")) if isinstance(x, str)]
    roles = _roles(facts, h)[0]
    extra: list[str] = []
    if isinstance(h.get("services"), list) and h["services"]:
        extra.append("services " + ", ".join(map(str, h["services"])))
    return (f"{h['id']}: {', '.join(bits) or 'os and platform unknown'}; "
            f"roles {', '.join(sorted(roles)) or 'none recorded'}" + (f"; {'; '.join(extra)}" if extra else ""))


def _roles(facts: Facts, h: dict[str, Any]) -> tuple[set[str], str | None]:
    """The host's roles, with backup_server/storage_node added when an entity of that kind runs on it;
    and why the list may be incomplete (unknown or partial), or None."""
    roles = {r for r in h.get("roles") or () if isinstance(r, str)}
    for kind, role in (("backup_server", "backup_server"), ("storage_node", "storage_node")):
        for e in facts.entities(kind):
            x = facts.get("host", e.get("host")) if isinstance(e.get("host"), str) else None
            if x is not None and x["id"] == h["id"]:
                roles.add(role)
    why: str | None = None
    if "roles" not in h:
        why = why_unknown(h, "roles", "no source records its roles")
    elif (h.get("_partial") or {}).get("roles"):
        why = "its roles are known only in part: " + h["_partial"]["roles"]
    return roles, why


def _os_of_client(facts: Facts, name: str) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """(host entity or None, its OS or None, why the OS is unknown)."""
    h = facts.get("host", name)
    oses: set[str] = set()
    if h is not None and isinstance(h.get("os"), str):
        oses.add(h["os"])
    hid = h["id"] if h else norm(name)
    for c in facts.entities("client"):
        ch = c.get("host") or c.get("hostname")
        if (isinstance(ch, str) and (norm(ch) == hid or (facts.get("host", ch) or {}).get("id") == hid)
                and isinstance(c.get("os"), str)):
            oses.add(c["os"])
    if len(oses) == 1:
        return h, next(iter(oses)), None
    if len(oses) > 1:
        return h, None, f"the sources disagree on the OS of {hid}: {', '.join(sorted(oses))}"
    return h, None, (why_unknown(h, "os", f"the OS of {hid} is unknown") if h else f"the OS of {name} is unknown")


def client_known(facts: Facts, name: str) -> bool:
    if facts.get("host", name) is not None:
        return True
    return any(isinstance(c.get(a), str) and norm(c[a]) == norm(name)
               for c in facts.entities("client") for a in ("hostname", "host", "id"))


@dataclass
class Verdict:
    here: Identity
    destination: dict[str, Any] | None
    path: str
    system_path: bool
    reasons: list[tuple[str, str]] = field(default_factory=list)     # [(code, sentence)]
    overridden: list[tuple[str, str]] = field(default_factory=list)  # [(code, sentence)] refused but overridden (--allow-unknown)

    @property
    def refused(self) -> bool:
        return bool(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.here.host["id"] if self.here.host else None, "host_unknown": self.here.why,
                "destination": self.destination["id"] if self.destination else None, "path": self.path,
                "system_path": self.system_path, "refused": self.refused,
                "reasons": [{"code": c, "reason": r} for c, r in self.reasons],
                "overridden": [{"code": c, "reason": r} for c, r in self.overridden]}


def check(facts: Facts, me: Local, source: str, path: str, to: str | None = None, relocate: bool = False,
          allow_unknown: bool = False) -> Verdict:
    here = identify(facts, me)
    system = is_system_path(path)
    v = Verdict(here, None, path, system)
    if here.host is None:
        (v.overridden if allow_unknown else v.reasons).append(
            ("unknown-host", f"the facts cannot tell what this host is: {here.why}"))
    dest = here.host
    if to is not None:
        th = facts.get("host", to)
        if th is None:
            v.reasons.append(("unknown-fact", f"--to {to}: no host in the facts has this name"))
        elif here.host is not None and th["id"] != here.host["id"]:
            v.reasons.append(("wrong-host", f"you are on {here.host['id']}, not on {th['id']} (--to): the restore "
                                            "would land on this machine"))
        dest = th if here.host is None or th is None or th["id"] == here.host["id"] else here.host
    v.destination = dest
    src, src_os, src_why = _os_of_client(facts, source)
    src_id = src["id"] if src else norm(source)
    if not system:
        return v
    if dest is None:
        v.reasons.append(("unknown-fact", f"{path} is a system location and the destination is unknown"))
        return v
    roles, roles_why = _roles(facts, dest)
    hit = sorted(set(PROTECTED_ROLES) & roles)
    if hit:
        v.reasons.append(("protected-destination", f"{dest['id']} is a {' and '.join(hit)} (roles "
                          f"{', '.join(sorted(roles))}) and {path} is a system location"))
    elif roles_why:
        v.reasons.append(("unknown-fact", f"whether {dest['id']} is a backup server, storage node or hypervisor "
                                          f"manager is unknown ({roles_why}) and {path} is a system location"))
    dest_os = dest.get("os") if isinstance(dest.get("os"), str) else None
    if src_os and dest_os and src_os != dest_os:
        v.reasons.append(("os-mismatch", f"{src_id} runs {src_os} but {dest['id']} runs {dest_os}, and {path} is a "
                                         "system location"))
    elif not (src_os and dest_os):
        why = src_why if not src_os else why_unknown(dest, "os", f"the OS of {dest['id']} is unknown")
        v.reasons.append(("unknown-fact", f"cannot compare operating systems ({why}) and {path} is a system location"))
    if dest["id"] != src_id and not relocate:
        v.reasons.append(("not-the-source", f"{dest['id']} is not {src_id}, the client the backup is from, and "
                                            f"{path} is a system location (--relocate to restore it elsewhere)"))
    return v
