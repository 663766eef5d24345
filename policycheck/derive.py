"""Derived facts computed after merging: joins across kinds (host↔vm, client→host), device locality,
latest bootstrap, dependency closure and circular dependencies, VM mobility. Fills only what is absent."""
from __future__ import annotations

from policycheck.facts import Facts, norm, resolve_refs
from policycheck.timeutil import parse_time

#: derived attribute -> the kinds it is computed from (a failed source of those kinds makes
#: policies reading the attribute report error, not pass)
DERIVED_FROM = {
    ("backup_server", "latest_bootstrap"): {"bootstrap"},
    ("backup_server", "last_dr_test"): {"dr_test"},
    ("backup_server", "latest_dr_test"): {"dr_test"},
    ("backup_server", "dependency_closure"): {"host"},
    ("backup_server", "circular_dependencies"): {"host", "client"},
    ("backup_server", "client_devices_local"): {"device"},
    ("backup_server", "virtual"): {"host"},
    ("backup_server", "vm"): {"host", "vm"},
    ("backup_server", "hosted_roles"): {"host"},
    ("backup_server", "hosted_services"): {"host"},
    ("vm", "eligible_hosts"): {"hypervisor_host", "cluster", "datastore"},
    ("client", "host"): {"host"},
    ("host", "protected_by"): {"client"},
    ("client", "latest_restore_test"): {"dr_test"},
    ("backup_server", "client_backup_copies"): {"client", "device"},
}


def derive(facts: Facts) -> None:
    """Add every derived fact in place (idempotent: values already present are kept)."""
    resolve_refs(facts.by_kind)  # a snapshot or a facts file may name entities by any alias, or by none
    _join_vms(facts)
    _client_hosts(facts)
    _servers(facts)
    _devices(facts)
    _bootstraps(facts)
    _clients(facts)
    _datastores_and_vms(facts)
    _dependencies(facts)


def _derived(e, attr, value):
    """Set a derived attribute and say so in the evidence's source."""
    e[attr] = value
    e.setdefault("_attr_sources", {})[attr] = "derived"


def why_unknown(e, attr, default):
    """The reason an entity's attribute is unknown: a conflict between sources, a source's own
    reason, or ``default``."""
    conflicts = (e.get("_conflicts") or {}).get(attr)
    if conflicts:
        vals = ", ".join(f"{c['value']!r} ({c['source']})" for c in conflicts)
        return f"sources disagree on {attr} of {e['id']}: {vals}"
    return (e.get("_unknown") or {}).get(attr) or default


def _unknown(e, attr, reason):
    e.setdefault("_unknown", {}).setdefault(attr, reason)


def _has(e, attr) -> bool:
    """The attribute is present, or a source already said it is unknown: never derive over either."""
    return attr in e or attr in (e.get("_unknown") or ())


def _partial(e, attr, reason):
    e.setdefault("_partial", {}).setdefault(attr, reason)


def _join_vms(facts):
    hosts = facts.entities("host")
    if not hosts:
        return
    vms = facts.entities("vm")
    hidx = facts.alias_index("host")
    provided, failed = facts.kind_state("vm")
    claims: dict = {}  # host -> [(strength, vm id)]: a guest host name beats a VM name, which beats an alias
    for vm in vms:
        names = (vm.get("guest_hostname"), vm.get("name"), vm["id"], *(vm.get("aliases") or ()))
        for rank, name in enumerate(names):
            hid = hidx.lookup(name) if isinstance(name, str) and name else None
            if hid is not None:
                claims.setdefault(hid, []).append((min(rank, 3), vm["id"]))
                break
    for hid, found in claims.items():
        h = facts.get("host", hid)
        if _has(h, "vm"):
            continue
        best = min(r for r, _ in found)
        vm_ids = sorted(v for r, v in found if r == best)
        if len(vm_ids) == 1:
            _derived(h, "vm", vm_ids[0])
        else:  # two VMs answer to one host's names equally well (same name in two datacenters): never pick one
            _unknown(h, "vm", f"several virtual machines match host {hid}: {', '.join(vm_ids[:5])}")
    for h in hosts:
        if _has(h, "vm"):
            continue
        platform = h.get("platform")
        if platform in ("physical", "blade"):
            _derived(h, "vm", None)
        elif platform == "virtual":
            _unknown(h, "vm", failed or ("no virtual machine in the hypervisor facts matches this host's names"
                                         if provided else "no hypervisor source was collected, so its VM is unknown"))


def _client_hosts(facts):
    hidx = facts.alias_index("host")
    if not facts.entities("host"):
        return
    for c in facts.entities("client"):
        if _has(c, "host"):
            continue
        for name in (c.get("hostname"), c["id"], *(c.get("aliases") or ())):
            hid = hidx.lookup(name) if name else None
            if hid is not None:
                _derived(c, "host", hid)
                break


def _servers(facts):
    for s in facts.entities("backup_server"):
        h = facts.get("host", s.get("host")) if s.get("host") else None
        if h is not None and s.get("host") != h["id"]:
            s["host"] = h["id"]
        if h is None:
            for k in ("virtual", "vm", "hosted_roles", "hosted_services"):
                if k not in s:
                    _unknown(s, k, f"no inventory describes its host {s.get('host')!r}")
            continue
        if not _has(s, "virtual") and h.get("platform"):
            _derived(s, "virtual", h["platform"] == "virtual")
        elif not _has(s, "virtual"):
            _unknown(s, "virtual", why_unknown(h, "platform", f"the platform of host {h['id']} is unknown"))
        if not _has(s, "vm"):
            if "vm" in h:
                _derived(s, "vm", h["vm"])
            elif h.get("_unknown", {}).get("vm"):
                _unknown(s, "vm", h["_unknown"]["vm"])
        for attr, src in (("hosted_roles", "roles"), ("hosted_services", "services")):
            if _has(s, attr):
                continue
            if src in h:
                _derived(s, attr, h[src])
                if src in (h.get("_partial") or ()):
                    _partial(s, attr, h["_partial"][src])
            elif src in (h.get("_unknown") or ()) or src in (h.get("_conflicts") or ()):
                _unknown(s, attr, why_unknown(h, src, f"{src} of host {h['id']} is unknown"))


def _same_host(facts, a, b):
    if a is None or b is None:
        return False
    if a == b:
        return True
    idx = facts.alias_index("host")
    ca, cb = idx.lookup(a), idx.lookup(b)
    if ca is not None and ca == cb:
        return True
    na, nb = norm(a), norm(b)
    return na == nb or na.split(".", 1)[0] == nb.split(".", 1)[0] and ("." not in na or "." not in nb)


def _devices(facts):
    per_server: dict = {}
    for d in facts.entities("device"):
        s = facts.get("backup_server", d.get("backup_server")) if d.get("backup_server") else None
        if s is not None:
            per_server.setdefault(s["id"], []).append(d)
        if not _has(d, "local_to_server"):
            if s is not None and "host" in d and s.get("host"):
                _derived(d, "local_to_server", _same_host(facts, d["host"], s["host"]))
            elif s is not None and s.get("host"):
                _unknown(d, "local_to_server", f"device {d['id']}: " + why_unknown(d, "host", "its host is unknown"))
            elif s is not None:
                _unknown(d, "local_to_server", f"device {d['id']}: the host of backup server {s['id']} is unknown")
            else:
                _unknown(d, "local_to_server", f"device {d['id']}: " + why_unknown(
                    d, "backup_server", f"its backup server {d.get('backup_server')!r} is not described"))
        if not _has(d, "on_system_disk") and s is not None:
            vm = facts.get("vm", s.get("vm")) if s.get("vm") else None
            if d.get("vm_disk") is None and "vm_disk" in d:
                _derived(d, "on_system_disk", False)
            elif vm is not None and d.get("vm_disk"):
                disk = next((x for x in vm.get("disks") or () if x.get("label") == d["vm_disk"]), None)
                if disk is not None and "system" in disk:
                    _derived(d, "on_system_disk", bool(disk["system"]))
    provided, failed = facts.kind_state("device")
    for s in facts.entities("backup_server"):
        if _has(s, "client_devices_local"):
            continue
        devs = per_server.get(s["id"], [])
        inc = facts.incomplete("device", s["id"])
        if failed or inc or (not devs and not provided):
            _unknown(s, "client_devices_local", failed or inc or "no source describes its devices")
            continue
        local = []
        for d in devs:
            if d.get("enabled") is False:
                continue
            if d.get("local_to_server") is None or d.get("client_data") is None:
                if d.get("client_data") is False:
                    continue
                _unknown(s, "client_devices_local", f"device {d['id']}: locality or use is unknown")
                local = None
                break
            if d["local_to_server"] and d["client_data"]:
                local.append(d["id"])
        if local is not None:
            _derived(s, "client_devices_local", local)


def _dr_tests(facts, hidx):
    """The dr_test records per host (by canonical id): the latest of any result ``{host: (time, id)}``,
    the latest success ``{host: (time, text)}``, and the hosts whose records cannot be read
    ``{host: reason}`` (for them, which test is latest cannot be told)."""
    latest: dict = {}
    ok: dict = {}
    bad: dict = {}
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
            latest[key] = (when, t["id"])
        if t.get("result") == "success" and (key not in ok or when > ok[key][0]):
            ok[key] = (when, t["time"])
    return latest, ok, bad


def _bootstraps(facts):
    latest: dict = {}
    bad_time: dict = {}
    for b in facts.entities("bootstrap"):
        sid = b.get("backup_server")
        s = facts.get("backup_server", sid) if sid else None
        for c in b.get("copies") or ():
            _copy(facts, c, s)
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
            latest[s["id"]] = (t, b["id"])
    provided, failed = facts.kind_state("bootstrap")
    hidx = facts.alias_index("host")
    dr_latest, dr_ok, dr_bad = _dr_tests(facts, hidx)
    dr_provided, dr_failed = facts.kind_state("dr_test")
    for s in facts.entities("backup_server"):
        if not _has(s, "latest_bootstrap"):
            inc = facts.incomplete("bootstrap", s["id"])
            if failed or inc or s["id"] in bad_time:
                _unknown(s, "latest_bootstrap", failed or inc or bad_time[s["id"]])
            elif s["id"] in latest:
                _derived(s, "latest_bootstrap", latest[s["id"]][1])
            elif provided:
                _derived(s, "latest_bootstrap", None)
            else:
                _unknown(s, "latest_bootstrap", "no source describes bootstrap backups")
        host = s.get("host")
        key = (hidx.lookup(host) or norm(host)) if isinstance(host, str) else None
        for attr in ("latest_dr_test", "last_dr_test"):
            if _has(s, attr):
                continue
            if dr_failed:
                _unknown(s, attr, dr_failed)
            elif key in dr_bad:
                _unknown(s, attr, dr_bad[key])
            elif attr == "latest_dr_test" and key in dr_latest:
                _derived(s, attr, dr_latest[key][1])
            elif attr == "last_dr_test" and key in dr_ok:
                _derived(s, attr, dr_ok[key][1])
            elif dr_provided or key in dr_latest:
                _derived(s, attr, None)
            else:
                _unknown(s, attr, "no source records DR tests (add dr_test facts)")


_FIXED_MEDIA = ("disk", "file", "dedup", "cloud")


def _copy(facts, c, s):
    """A copy's derived facts: ``local_to_server`` (from its device, or from where it was sent) and
    ``immutable`` (from its device: retention lock, object lock, WORM)."""
    if not isinstance(c, dict):
        return
    dev = facts.get("device", c.get("device")) if c.get("device") else None
    if dev is not None and not _has(c, "offline") and dev.get("media_type") in _FIXED_MEDIA:
        _derived(c, "offline", False)  # data on a disk, dedup or cloud device cannot be ejected or vaulted
    if dev is not None and not _has(c, "immutable"):
        if "immutable" in dev:
            _derived(c, "immutable", dev["immutable"])
        elif (dev.get("_unknown") or {}).get("immutable"):
            _unknown(c, "immutable", dev["_unknown"]["immutable"])
    if c.get("offsite") is True:  # a clone sent to a vault is off the server, whatever device wrote it
        if c.get("local_to_server") is not False:
            _derived(c, "local_to_server", False)
            (c.get("_unknown") or {}).pop("local_to_server", None)
        return
    if _has(c, "local_to_server"):
        return
    if dev is not None and dev.get("local_to_server") is not None:
        _derived(c, "local_to_server", dev["local_to_server"])
    elif dev is not None:
        _unknown(c, "local_to_server", why_unknown(dev, "local_to_server",
                                                   f"locality of device {dev['id']} is unknown"))
    elif c.get("device") is None and c.get("location"):
        _derived(c, "local_to_server", bool(s is not None and c.get("location_host")
                                            and _same_host(facts, c["location_host"], s.get("host"))))


_BACKUP_TIMES = ("last_filesystem_backup", "last_image_backup", "last_bmr_backup")


def _clients(facts):
    """Per client: ``last_successful_backup`` (from the per-level times when the collector gave none),
    the derived facts of its latest backup's copies, ``latest_restore_test``; per backup server:
    ``client_backup_copies``; per host: ``protected_by``. Fail closed: what cannot be told is unknown
    (or, for a list seen in part, partial) with the reason."""
    clients = facts.entities("client")
    hidx = facts.alias_index("host")
    provided, failed = facts.kind_state("client")
    inc_all = facts.incomplete("client")
    # restore tests of any kind per host: the latest decides
    dr_latest, _, dr_bad = _dr_tests(facts, hidx)
    dr_provided, dr_failed = facts.kind_state("dr_test")
    per_server: dict = {}
    protected: dict = {}
    unattributed = None  # a client record whose host cannot be told: it may be any host's
    for c in clients:
        if not _has(c, "last_successful_backup"):
            if all(k in c for k in _BACKUP_TIMES[:2]):
                best = None
                try:
                    for k in _BACKUP_TIMES:
                        if c.get(k):
                            t = parse_time(c[k])
                            if best is None or t > best[0]:
                                best = (t, c[k])
                except (ValueError, TypeError):
                    _unknown(c, "last_successful_backup", f"client {c['id']}: an unreadable backup time")
                else:
                    _derived(c, "last_successful_backup", best[1] if best else None)
            else:
                miss = [k for k in _BACKUP_TIMES[:2] if k not in c]
                _unknown(c, "last_successful_backup", why_unknown(
                    c, miss[0], f"client {c['id']}: no source gives its last successful backup "
                                f"(nor {' and '.join(miss)})"))
        sid = c.get("backup_server")
        s = facts.get("backup_server", sid) if isinstance(sid, str) else None
        copies = c.get("latest_backup_copies")
        if isinstance(copies, list):
            for cp in copies:
                _copy(facts, cp, s)
        hid = c.get("host")
        key = hidx.lookup(hid) if isinstance(hid, str) else None
        if not _has(c, "latest_restore_test"):
            if key is None:
                _unknown(c, "latest_restore_test", why_unknown(c, "host", f"client {c['id']}: its host is unknown"))
            elif dr_failed:
                _unknown(c, "latest_restore_test", dr_failed)
            elif key in dr_bad:
                _unknown(c, "latest_restore_test", dr_bad[key])
            elif key in dr_latest:
                _derived(c, "latest_restore_test", dr_latest[key][1])
            elif dr_provided:
                _derived(c, "latest_restore_test", None)
            else:
                _unknown(c, "latest_restore_test", "no source records restore tests (add dr_test facts)")
        if s is not None:
            per_server.setdefault(s["id"], []).append(c)
        if key is not None and isinstance(sid, str):
            protected.setdefault(key, set()).add(s["id"] if s is not None else sid)
        elif key is None and ("host" in (c.get("_unknown") or ()) or "host" in (c.get("_conflicts") or ())):
            unattributed = unattributed or f"client {c['id']}: " + why_unknown(c, "host", "its host is unknown")
        elif key is not None:
            unattributed = unattributed or f"client {c['id']}: " + why_unknown(
                c, "backup_server", "its backup server is unknown")
    def knowable(e, attr, none_reason) -> bool:
        """Whether ``attr`` of ``e`` can be derived from the client records; else it is made unknown."""
        if _has(e, attr):
            return False
        if failed or not provided:
            _unknown(e, attr, failed or none_reason)
            return False
        return True

    for s in facts.entities("backup_server"):
        if not knowable(s, "client_backup_copies", "no source describes its clients"):
            continue
        out, partial = [], facts.incomplete("client", s["id"])
        for c in per_server.get(s["id"], ()):
            copies = c.get("latest_backup_copies")
            if isinstance(copies, list):
                for cp in copies:  # the client's own copy objects (no second copy of 100k dicts), named
                    if isinstance(cp, dict):
                        cp.setdefault("client", c["id"])
                        out.append(cp)
            elif c.get("last_successful_backup", "?") is not None:
                partial = partial or f"client {c['id']}: " + why_unknown(
                    c, "latest_backup_copies", "the copies of its latest backup are unknown")
        _derived(s, "client_backup_copies", out)
        if partial:
            _partial(s, "client_backup_copies", partial)
    servers = sorted(s["id"] for s in facts.entities("backup_server"))
    for h in facts.entities("host"):
        if not knowable(h, "protected_by", "no source describes backup clients"):
            continue
        by = sorted(protected.get(h["id"], ()))
        h["protected_by"] = by
        if by:
            h.setdefault("_attr_sources", {})["protected_by"] = "derived from client records of " + ", ".join(by)
        else:
            shown = ", ".join(servers[:10]) + (f" and {len(servers) - 10} more" if len(servers) > 10 else "")
            known = ", ".join(h.get("_sources") or ()) or "the facts"
            h.setdefault("_attr_sources", {})["protected_by"] = (
                f"derived: no client record of {shown or 'any backup server (none is described)'} names this "
                f"host; the host is known to {known}")
        why = inc_all or unattributed
        if why:
            _partial(h, "protected_by", why)


def _disk_dss(disks, dss):
    """The VM's disks (the mappings among them) paired with their datastores, in order."""
    return zip([d for d in disks if isinstance(d, dict)], dss)


def _disk_name(d) -> str:
    return str(d.get("label") or d.get("name") or d.get("datastore") or "?")


def _datastores_and_vms(facts):
    for ds in facts.entities("datastore"):
        if not _has(ds, "shared"):
            if isinstance(ds.get("hosts"), list):
                _derived(ds, "shared", len(ds["hosts"]) >= 2)
            else:
                _unknown(ds, "shared", "which hosts mount it is unknown")
    hosts_of_cluster: dict = {}
    for h in facts.entities("hypervisor_host"):
        if h.get("cluster"):
            hosts_of_cluster.setdefault(h["cluster"], []).append(h["id"])
    for vm in facts.entities("vm"):
        disks = vm.get("disks")
        dss = []
        if isinstance(disks, list):
            for d in disks:
                if not isinstance(d, dict):
                    continue
                ds = facts.get("datastore", d.get("datastore")) if d.get("datastore") else None
                if ds is not None:
                    dss.append(ds)
                    if "shared" not in d and "shared" in ds:
                        _derived(d, "shared", ds["shared"])
                else:
                    dss.append(None)
        if _has(vm, "eligible_hosts"):
            continue
        cl = facts.get("cluster", vm.get("cluster")) if vm.get("cluster") else None
        if cl is not None:
            candidates = cl.get("hosts") or hosts_of_cluster.get(cl["id"], [])
        elif vm.get("cluster", "absent") is None and vm.get("host"):
            candidates = [vm["host"]]
        else:
            _unknown(vm, "eligible_hosts", "its cluster is unknown")
            continue
        if disks is None or any(ds is None for ds in dss):
            _unknown(vm, "eligible_hosts", "its disks' datastores are unknown")
            continue
        rules = vm.get("host_rules")
        if rules is not None and not isinstance(rules, list):
            _unknown(vm, "eligible_hosts", "its host_rules are not a list")
            continue
        mandatory = [set(x for x in (r.get("hosts") or ()) if isinstance(x, str)) for r in rules or ()
                     if isinstance(r, dict) and r.get("mandatory") and r.get("enabled", True)]
        mandatory_names = [str(r.get("name") or "?") for r in rules or ()
                           if isinstance(r, dict) and r.get("mandatory") and r.get("enabled", True)]
        eligible = []
        unknown = None
        why = {}  # host -> why it is not eligible (what made the derived list so; results unchanged)
        for hid in candidates:
            h = facts.get("hypervisor_host", hid)
            if h is None:
                unknown = f"host {hid} of its cluster is not described"
                break
            if h.get("connection_state") != "connected" or h.get("maintenance") is not False:
                if "connection_state" not in h or "maintenance" not in h:
                    unknown = f"state of host {hid} is unknown"
                    break
                why[h["id"]] = ("in maintenance" if h.get("connection_state") == "connected"
                                else f"connection state {h.get('connection_state')}"
                                + (", in maintenance" if h.get("maintenance") else ""))
                continue
            if any(ds.get("hosts") is not None and h["id"] not in ds["hosts"] for ds in dss):
                why[h["id"]] = "; ".join(
                    f"does not mount datastore {ds['id']} of disk '{_disk_name(d)}'" for d, ds in _disk_dss(disks, dss)
                    if ds.get("hosts") is not None and h["id"] not in ds["hosts"])
                continue
            if any(h["id"] not in rule for rule in mandatory):
                why[h["id"]] = "excluded by mandatory rule " + ", ".join(
                    f"'{n}'" for n, rule in zip(mandatory_names, mandatory) if h["id"] not in rule)
                continue
            eligible.append(h["id"])
        if unknown:
            _unknown(vm, "eligible_hosts", unknown)
        else:
            _derived(vm, "eligible_hosts", eligible)
            if why:
                vm.setdefault("_why", {})["eligible_hosts"] = why


def _dependencies(facts):
    servers = facts.entities("backup_server")
    if not servers:
        return
    protected_by: dict = {}
    hidx = facts.alias_index("host")
    unsure: dict = {}  # host -> why we cannot tell which servers protect it
    for c in facts.entities("client"):
        name = c.get("host") or c.get("hostname") or c["id"]
        if not isinstance(name, str):
            continue
        key = hidx.lookup(name) or norm(name)
        if "backup_server" in c and isinstance(c["backup_server"], str):
            protected_by.setdefault(key, set()).add(c["backup_server"])
        else:
            unsure.setdefault(key, why_unknown(c, "backup_server", f"client {c['id']}: its backup server is unknown"))
    client_inc = facts.incomplete("client")
    for s in servers:
        if _has(s, "dependency_closure") and _has(s, "circular_dependencies"):
            continue
        h = facts.get("host", s.get("host")) if s.get("host") else None
        if h is None:
            _unknown(s, "dependency_closure", "no inventory describes its host")
            _unknown(s, "circular_dependencies", "no inventory describes its host")
            continue
        if "depends_on" not in h:
            reason = why_unknown(h, "depends_on", f"depends_on of host {h['id']} is unknown")
            _unknown(s, "dependency_closure", reason)
            _unknown(s, "circular_dependencies", reason)
            continue
        seen: list = []
        stack = list(h.get("depends_on") or ())
        missing = None
        partial = (h.get("_partial") or {}).get("depends_on")
        while stack:
            d = stack.pop(0)
            dh = facts.get("host", d)
            did = dh["id"] if dh else d
            if did in seen or did == h["id"]:
                continue
            seen.append(did)
            if dh is None:
                missing = missing or f"{d!r} (a dependency) is not described by any source"
            elif "depends_on" in dh:
                stack.extend(dh.get("depends_on") or ())
                partial = partial or (dh.get("_partial") or {}).get("depends_on")
            elif (dh.get("_unknown") or {}).get("depends_on") or (dh.get("_conflicts") or {}).get("depends_on"):
                missing = missing or f"host {did}: {why_unknown(dh, 'depends_on', 'depends_on unknown')}"
        if not _has(s, "dependency_closure"):
            if missing:
                _unknown(s, "dependency_closure", missing)
            else:
                _derived(s, "dependency_closure", seen)
                if partial:
                    _partial(s, "dependency_closure", partial)
        if _has(s, "circular_dependencies"):
            continue
        if missing:
            _unknown(s, "circular_dependencies", missing)
            continue
        circular = []
        why = None
        for did in seen:
            dh = facts.get("host", did)
            if dh is not None and dh.get("independent_recovery"):
                continue
            servers_of = protected_by.get(did) or protected_by.get(norm(did), set())
            if did in unsure:
                why = why or f"dependency {did}: {unsure[did]}"
            if servers_of and servers_of <= {s["id"]}:
                circular.append(did)
        if (why or client_inc) and not circular:
            _unknown(s, "circular_dependencies", why or f"which servers protect its dependencies is unknown: {client_inc}")
            continue
        _derived(s, "circular_dependencies", circular)
        if partial:
            _partial(s, "circular_dependencies", partial)
