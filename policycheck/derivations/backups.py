"""What the backup records say: the latest bootstrap and DR/restore test, the derived facts of copies
(offline, immutable, local_to_server), a client's last successful backup and copies, the hosts each
backup server protects."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from policycheck.derivations.base import (
    Entity,
    derived,
    has,
    kind_inputs,
    lacking,
    partial,
    same_host,
    source_text,
    unknown,
    why_unknown,
)
from policycheck.facts import AliasIndex, Facts, norm
from policycheck.timeutil import parse_time

#: per host (canonical id or normalized name): the (time, dr_test record) chosen
_ByHost = dict[str, tuple[datetime, Entity]]
_DrTests = tuple[_ByHost, _ByHost, dict[str, str]]


def dr_tests(facts: Facts, hidx: AliasIndex) -> _DrTests:
    """The dr_test records per host (by canonical id): the latest of any result ``{host: (time, test)}``,
    the latest success ``{host: (time, test)}``, and the hosts whose records cannot be read
    ``{host: reason}`` (for them, which test is latest cannot be told)."""
    latest: _ByHost = {}
    ok: _ByHost = {}
    bad: dict[str, str] = {}
    for t in facts.entities("dr_test"):
        host = t.get("host")
        key = (hidx.lookup(host) or norm(host)) if isinstance(host, str) else None
        if key is None:
            continue
        try:
            when = parse_time(t["time"])
        except (KeyError, ValueError, TypeError):
            bad.setdefault(key, f"dr_test {t['id']} has no readable time")
            continue
        if t.get("result") not in ("success", "failure"):
            bad.setdefault(key, f"dr_test {t['id']}: result {t.get('result')!r} is neither success nor failure")
        if key not in latest or when > latest[key][0]:
            latest[key] = (when, t)
        if t.get("result") == "success" and (key not in ok or when > ok[key][0]):
            ok[key] = (when, t)
    return latest, ok, bad


def bootstraps(facts: Facts) -> None:
    """backup_server.latest_bootstrap, .latest_dr_test, .last_dr_test; the derived facts of bootstrap
    copies."""
    latest: dict[str, tuple[datetime, Entity]] = {}
    bad_time: dict[str, str] = {}
    for b in facts.entities("bootstrap"):
        sid = b.get("backup_server")
        s = facts.get("backup_server", sid) if sid else None
        for c in b.get("copies") or ():
            copy_facts(facts, c, s)
        if s is None:
            continue
        if not b.get("time"):
            bad_time.setdefault(s["id"], f"bootstrap {b['id']} has no time")
            continue
        try:
            t = parse_time(b["time"])
        except (ValueError, TypeError):
            bad_time.setdefault(s["id"], f"bootstrap {b['id']} has an unreadable time {b['time']!r}")
            continue
        cur = latest.get(s["id"])
        if cur is None or t > cur[0]:
            latest[s["id"]] = (t, b)
    provided, failed = facts.kind_state("bootstrap")
    hidx = facts.alias_index("host")
    dr: _DrTests | None = None  # read when a server lacks a fact it gives
    dr_provided, dr_failed = facts.kind_state("dr_test")
    for s in facts.entities("backup_server"):
        if not has(s, "latest_bootstrap"):
            inc = facts.incomplete("bootstrap", s["id"])
            if failed or inc or s["id"] in bad_time:
                unknown(s, "latest_bootstrap", failed or inc or bad_time[s["id"]])
            elif s["id"] in latest:
                b = latest[s["id"]][1]
                derived(s, "latest_bootstrap", b["id"], (b, "time"))
            elif provided:
                derived(s, "latest_bootstrap", None, *kind_inputs(facts, "bootstrap"))
            else:
                unknown(s, "latest_bootstrap", "no source describes bootstrap backups")
        host = s.get("host")
        key = (hidx.lookup(host) or norm(host)) if isinstance(host, str) else None
        for attr in ("latest_dr_test", "last_dr_test"):
            if has(s, attr):
                continue
            dr = dr or dr_tests(facts, hidx)
            dr_latest, dr_ok, dr_bad = dr
            if dr_failed:
                unknown(s, attr, dr_failed)
            elif key in dr_bad:
                unknown(s, attr, dr_bad[key])
            elif attr == "latest_dr_test" and key in dr_latest:
                test = dr_latest[key][1]
                derived(s, attr, test["id"], (test, "time"))
            elif attr == "last_dr_test" and key in dr_ok:
                test = dr_ok[key][1]
                derived(s, attr, test["time"], (test, "time"))
            elif dr_provided or key in dr_latest:
                derived(s, attr, None, *kind_inputs(facts, "dr_test"))
            else:
                unknown(s, attr, "no source records DR tests (add dr_test facts)")


_FIXED_MEDIA = ("disk", "file", "dedup", "cloud")


def copy_facts(facts: Facts, c: Any, s: Entity | None) -> None:
    """A copy's derived facts: ``local_to_server`` (from its device, or from where it was sent),
    ``offline`` (false on a fixed medium) and ``immutable`` (from its device: retention lock, object
    lock, WORM)."""
    if not isinstance(c, dict) or _copy_done(c):
        return
    dev = facts.get("device", c.get("device")) if c.get("device") else None
    if dev is not None and not has(c, "offline") and dev.get("media_type") in _FIXED_MEDIA:
        derived(c, "offline", False, (dev, "media_type"))  # data on a disk, dedup or cloud device cannot be ejected
    if dev is not None and not has(c, "immutable"):
        if "immutable" in dev:
            derived(c, "immutable", dev["immutable"], (dev, "immutable"))
        elif (dev.get("_unknown") or {}).get("immutable"):
            unknown(c, "immutable", dev["_unknown"]["immutable"])
    if c.get("offsite") is True:  # a clone sent to a vault is off the server, whatever device wrote it
        if c.get("local_to_server") is not False:
            derived(c, "local_to_server", False, (c, "offsite"))
            (c.get("_unknown") or {}).pop("local_to_server", None)
        return
    if has(c, "local_to_server"):
        return
    if dev is not None and dev.get("local_to_server") is not None:
        derived(c, "local_to_server", dev["local_to_server"], (dev, "local_to_server"))
    elif dev is not None:
        unknown(c, "local_to_server", why_unknown(dev, "local_to_server",
                                                  f"locality of device {dev['id']} is unknown"))
    elif c.get("device") is None and c.get("location"):
        derived(c, "local_to_server", bool(s is not None and c.get("location_host")
                                           and same_host(facts, c["location_host"], s.get("host"))),
                (c, "location"), (s, "host") if s is not None else None)


def _copy_done(c: Entity) -> bool:
    """Whether :func:`copy_facts` has nothing to do on ``c``: each fact it derives is there or unknown
    (as in a snapshot `collect` wrote), so its device need not be looked up. Never raises."""
    unk = c.get("_unknown") or ()
    if unk.__class__ is not dict and unk != ():
        return False
    if c.get("offsite") is True:
        if c.get("local_to_server") is not False:
            return False
    elif "local_to_server" not in c and "local_to_server" not in unk:
        return False
    return ("offline" in c or "offline" in unk) and ("immutable" in c or "immutable" in unk)


_BACKUP_TIMES = ("last_filesystem_backup", "last_image_backup", "last_bmr_backup")


def clients(facts: Facts) -> None:
    """Per client: ``last_successful_backup`` (from the per-level times when the collector gave none),
    the derived facts of its latest backup's copies, ``latest_restore_test``; per backup server:
    ``client_backup_copies``; per host: ``protected_by``. Fail closed: what cannot be told is unknown
    (or, for a list seen in part, partial) with the reason."""
    clients = facts.entities("client")
    hidx = facts.alias_index("host")
    provided, failed = facts.kind_state("client")
    inc_all = facts.incomplete("client")
    # restore tests of any kind per host: the latest decides (read when a client lacks its latest)
    dr: _DrTests | None = None
    dr_provided, dr_failed = facts.kind_state("dr_test")
    per_server: dict[str, list[Entity]] = {}
    protected: dict[str, set[str]] = {}
    unattributed = None  # a client record whose host cannot be told: it may be any host's
    # what the servers' client_backup_copies and the hosts' protected_by are made of is gathered only
    # when one of them lacks it (a snapshot `collect` wrote has them all)
    for_servers = lacking(facts.entities("backup_server"), "client_backup_copies")
    for_hosts = lacking(facts.entities("host"), "protected_by")
    for c in clients:
        if not has(c, "last_successful_backup"):
            if all(k in c for k in _BACKUP_TIMES[:2]):
                best = None
                try:
                    for k in _BACKUP_TIMES:
                        if c.get(k):
                            t = parse_time(c[k])
                            if best is None or t > best[0]:
                                best = (t, c[k], k)
                except (ValueError, TypeError):
                    unknown(c, "last_successful_backup", f"client {c['id']}: an unreadable backup time")
                else:
                    derived(c, "last_successful_backup", best[1] if best else None,
                            *(((c, best[2]),) if best else ((c, k) for k in _BACKUP_TIMES if k in c)))
            else:
                miss = [k for k in _BACKUP_TIMES[:2] if k not in c]
                unknown(c, "last_successful_backup", why_unknown(
                    c, miss[0], f"client {c['id']}: no source gives its last successful backup "
                                f"(nor {' and '.join(miss)})"))
        sid = c.get("backup_server")
        s = facts.get("backup_server", sid) if isinstance(sid, str) else None
        copies = c.get("latest_backup_copies")
        if isinstance(copies, list):
            for cp in copies:
                copy_facts(facts, cp, s)
        hid = c.get("host")
        key = hidx.lookup(hid) if isinstance(hid, str) else None
        if not has(c, "latest_restore_test"):
            dr = dr or dr_tests(facts, hidx)
            dr_latest, _, dr_bad = dr
            if key is None:
                unknown(c, "latest_restore_test", why_unknown(c, "host", f"client {c['id']}: its host is unknown"))
            elif dr_failed:
                unknown(c, "latest_restore_test", dr_failed)
            elif key in dr_bad:
                unknown(c, "latest_restore_test", dr_bad[key])
            elif key in dr_latest:
                test = dr_latest[key][1]
                derived(c, "latest_restore_test", test["id"], (test, "time"))
            elif dr_provided:
                derived(c, "latest_restore_test", None, *kind_inputs(facts, "dr_test"))
            else:
                unknown(c, "latest_restore_test", "no source records restore tests (add dr_test facts)")
        if s is not None and for_servers:
            per_server.setdefault(s["id"], []).append(c)
        if key is not None and isinstance(sid, str):
            if for_hosts:
                protected.setdefault(key, set()).add(s["id"] if s is not None else sid)
        elif key is None and ("host" in (c.get("_unknown") or ()) or "host" in (c.get("_conflicts") or ())):
            unattributed = unattributed or f"client {c['id']}: " + why_unknown(c, "host", "its host is unknown")
        elif key is not None:
            unattributed = unattributed or f"client {c['id']}: " + why_unknown(
                c, "backup_server", "its backup server is unknown")

    def knowable(e: Entity, attr: str, none_reason: str) -> bool:
        """Whether ``attr`` of ``e`` can be derived from the client records; else it is made unknown."""
        if has(e, attr):
            return False
        if failed or not provided:
            unknown(e, attr, failed or none_reason)
            return False
        return True

    client_srcs = kind_inputs(facts, "client")
    for s in facts.entities("backup_server"):
        if not knowable(s, "client_backup_copies", "no source describes its clients"):
            continue
        out, part = [], facts.incomplete("client", s["id"])
        mine = per_server.get(s["id"], ())
        for c in mine:
            copies = c.get("latest_backup_copies")
            if isinstance(copies, list):
                named = None
                for cp in copies:  # the client's own copy objects (no second copy of 100k dicts), named
                    if isinstance(cp, dict):
                        if "client" not in cp:
                            named = named or source_text((c,))
                            derived(cp, "client", c["id"], text=named)
                        out.append(cp)
            elif c.get("last_successful_backup", "?") is not None:
                part = part or f"client {c['id']}: " + why_unknown(
                    c, "latest_backup_copies", "the copies of its latest backup are unknown")
        derived(s, "client_backup_copies", out, *(mine[:50] if mine else client_srcs))
        if part:
            partial(s, "client_backup_copies", part)
    servers = sorted(s["id"] for s in facts.entities("backup_server"))
    for h in facts.entities("host") if for_hosts else ():
        if not knowable(h, "protected_by", "no source describes backup clients"):
            continue
        by = sorted(protected.get(h["id"], ()))
        if by:
            derived(h, "protected_by", by, text="derived from client records of " + ", ".join(by))
        else:
            shown = ", ".join(servers[:10]) + (f" and {len(servers) - 10} more" if len(servers) > 10 else "")
            known = ", ".join(h.get("_sources") or ()) or "the facts"
            derived(h, "protected_by", by, text=(
                f"derived: no client record of {shown or 'any backup server (none is described)'} names this "
                f"host; the host is known to {known}"))
        why = inc_all or unattributed
        if why:
            partial(h, "protected_by", why)
