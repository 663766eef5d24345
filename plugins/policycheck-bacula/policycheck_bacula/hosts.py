"""Which host an address is: resolution, 'same host as the director', and where a .bsr pipe or script sends it."""
from __future__ import annotations

import functools
import ipaddress
import os
import re
import shlex
import socket

from policycheck.kit.names import norm_host

#: addresses that, in a director's own configuration, mean the director's machine itself.
SELF_ADDRESSES = {"127.0.0.1", "::1"}
NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "sshfs", "glusterfs", "fuse.glusterfs",
              "ceph", "fuse.ceph", "9p", "afs", "davfs", "fuse.davfs2", "fuse.s3fs", "lustre", "gpfs"}


@functools.lru_cache(maxsize=4096)
def resolve(name: str) -> frozenset[str]:
    """IP addresses of ``name`` (itself when it is an address; empty when it does not resolve).

    Cached for the process: a name that does not resolve can cost the resolver's 5 s timeout, and the
    same storage daemon and client addresses are asked about many times in one collection."""
    return frozenset(_resolve(name))


def _resolve(name: str) -> set[str]:
    if not name:
        return set()
    try:
        return {str(ipaddress.ip_address(name))}
    except ValueError:
        pass
    try:
        return {ai[4][0] for ai in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError, OSError):
        return set()


class HostNamer:
    """Name machines consistently: the director's host has one id; others are named by their address.

    ``host_map`` ({address or name: host}) names machines this one cannot resolve (split DNS); an address that
    is none of the director's names, is not mapped and does not resolve is an unknown host (None).
    """

    def __init__(self, director_address: str, director_host: str | None = None, host_map: dict | None = None):
        self.director_id = norm_host(director_host or director_address)
        self.director_ips = resolve(director_address) | resolve(director_host or "")
        self.aliases = {norm_host(director_address), self.director_id} | self.director_ips
        self.host_map = {norm_host(k): norm_host(v) for k, v in (host_map or {}).items()}

    def mapped(self, address: str | None) -> str | None:
        return self.host_map.get(norm_host(address))

    def is_director_host(self, address: str | None) -> bool:
        if not address:
            return False
        mapped = self.mapped(address)
        if mapped is not None:
            return mapped in self.aliases
        if norm_host(address) in self.aliases:
            return True
        ips = resolve(address)
        return bool(ips & (self.director_ips | SELF_ADDRESSES))

    def host_of(self, address: str | None) -> tuple[str | None, str]:
        """(host id, how it was told) or (None, why not)."""
        if not address:
            return None, "no address"
        mapped = self.mapped(address)
        if mapped is not None:
            return (self.director_id if mapped in self.aliases else mapped), "host_map"
        if self.is_director_host(address):
            return self.director_id, "the director's host"
        if resolve(address):
            return norm_host(address), "resolves here"
        return None, f"{address!r} does not resolve on this machine"

    def host_id(self, address: str) -> str:
        return self.director_id if self.is_director_host(address) else norm_host(address)


# --- where a .bsr goes -----------------------------------------------------------------------------
_SCP_TARGET = re.compile(r"^(?:[^@\s/]+@)?([A-Za-z0-9._-]+|\[[0-9a-fA-F:]+\]):")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/\s]+@)?([^:/\s]+)", re.I)
_EMAIL = re.compile(r"^[^@\s]+@([A-Za-z0-9.-]+)$")
COPY_TOOLS = {"scp", "rsync", "sftp", "ssh", "curl", "wget", "lftp", "smbclient", "aws", "rclone", "s3cmd",
              "bsmtp", "mail", "mailx", "sendmail", "mutt", "nc", "socat"}


#: options whose value is not a destination (sender, subject, identity file, port, upload file ...)
_VALUE_OPTIONS = {"-f", "-s", "-i", "-l", "-p", "-P", "-o", "-F", "-T", "-e", "-r", "-u", "--user"}


def command_destinations(command: str) -> list[str]:
    """Remote hosts a shell command names as a destination (scp/rsync targets, URLs, mail hosts, ssh host)."""
    try:
        words = shlex.split(command.lstrip("|").strip())
    except ValueError:
        words = command.lstrip("|").split()
    hosts: list[str] = []
    tools = [os.path.basename(w) for w in words]
    if not set(tools) & COPY_TOOLS:
        return hosts
    skip = False
    ssh_host_next = False
    for i, w in enumerate(words):
        if skip:
            skip = False
            continue
        if w in _VALUE_OPTIONS:
            skip = True
            continue
        if tools[i] in ("ssh", "sftp"):
            ssh_host_next = True
            continue
        if w == "-h" and "bsmtp" in tools:
            if i + 1 < len(words):
                hosts.append(words[i + 1].split(":")[0])
            skip = True
            continue
        if w.startswith("-"):
            continue
        m = _URL.match(w)
        if m:
            hosts.append(m.group(1))
            continue
        m = _SCP_TARGET.match(w)
        if m and not w.startswith("/"):
            hosts.append(m.group(1).strip("[]"))
            continue
        m = _EMAIL.match(w)
        if m:
            hosts.append(m.group(1))
            continue
        if ssh_host_next:
            hosts.append(w.split("@")[-1])
            ssh_host_next = False
    return hosts


def mount_of(path: str, mounts_text: str) -> tuple[str, str, str] | None:
    """(source, mountpoint, fstype) of the mount holding ``path``, from /proc/mounts text."""
    best = None
    for line in mounts_text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        src, mnt, fstype = parts[0], parts[1].replace("\\040", " "), parts[2]
        if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and (best is None or len(mnt) > len(best[1])):
            best = (src, mnt, fstype)
    return best
