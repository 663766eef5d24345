"""Derived facts computed after merging: joins across kinds (host↔vm, client→host), device locality,
latest bootstrap, dependency closure and circular dependencies, VM mobility. Fills only what is absent."""
from __future__ import annotations

from policycheck.facts import Facts, norm
from policycheck.timeutil import parse_time

#: derived attribute -> the kinds it is computed from (a failed source of those kinds makes
#: policies reading the attribute report error, not pass)
DERIVED_FROM = {
    ("backup_server", "latest_bootstrap"): {"bootstrap"},
    ("backup_server", "last_dr_test"): {"dr_test"},
    ("backup_server", "dependency_closure"): {"host"},
    ("backup_server", "circular_dependencies"): {"host", "client"},
    ("backup_server", "client_devices_local"): {"device"},
    ("backup_server", "virtual"): {"host"},
    ("backup_server", "vm"): {"host", "vm"},
    ("backup_server", "hosted_roles"): {"host"},
    ("backup_server", "hosted_services"): {"host"},
    ("vm", "eligible_hosts"): {"hypervisor_host", "cluster", "datastore"},
    ("client", "host"): {"host"},
}


def derive(facts: Facts) -> None:
    """Add every derived fact in place (idempotent: values already present are kept)."""
    _join_vms(facts)
    _client_hosts(facts)
    _servers(facts)
    _devices(facts)
    _bootstraps(facts)
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


def _join_vms(facts):
    hosts = facts.entities("host")
    if not hosts:
        return
    vms = facts.entities("vm")
    hidx = facts.alias_index("host")
    provided, failed = facts.kind_state("vm")
    for vm in vms:
        for name in (vm.get("guest_hostname"), vm.get("name"), vm["id"], *(vm.get("aliases") or ())):
            hid = hidx.lookup(name) if name else None
            if hid is not None:
                h = facts.get("host", hid)
                if "vm" not in h:
                    h["vm"] = vm["id"]
                break
    for h in hosts:
        if "vm" in h:
            continue
        platform = h.get("platform")
        if platform in ("physical", "blade"):
            h["vm"] = None
        elif platform == "virtual":
            _unknown(h, "vm", failed or ("no virtual machine in the hypervisor facts matches this host's names"
                                         if provided else "no hypervisor source was collected, so its VM is unknown"))


def _client_hosts(facts):
    hidx = facts.alias_index("host")
    if not facts.entities("host"):
        return
    for c in facts.entities("client"):
        if "host" in c:
            continue
        for name in (c.get("hostname"), c["id"], *(c.get("aliases") or ())):
            hid = hidx.lookup(name) if name else None
            if hid is not None:
                c["host"] = hid
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
        if "virtual" not in s and h.get("platform"):
            _derived(s, "virtual", h["platform"] == "virtual")
        elif "virtual" not in s:
            _unknown(s, "virtual", why_unknown(h, "platform", f"the platform of host {h['id']} is unknown"))
        if "vm" not in s:
            if "vm" in h:
                _derived(s, "vm", h["vm"])
            elif h.get("_unknown", {}).get("vm"):
                _unknown(s, "vm", h["_unknown"]["vm"])
        for attr, src in (("hosted_roles", "roles"), ("hosted_services", "services")):
            if attr not in s and src in h:
                _derived(s, attr, h[src])


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
        if "local_to_server" not in d:
            if s is not None and "host" in d and s.get("host"):
                _derived(d, "local_to_server", _same_host(facts, d["host"], s["host"]))
            else:
                _unknown(d, "local_to_server", "its host or its backup server's host is unknown")
        if "on_system_disk" not in d and s is not None:
            vm = facts.get("vm", s.get("vm")) if s.get("vm") else None
            if d.get("vm_disk") is None and "vm_disk" in d:
                d["on_system_disk"] = False
            elif vm is not None and d.get("vm_disk"):
                disk = next((x for x in vm.get("disks") or () if x.get("label") == d["vm_disk"]), None)
                if disk is not None and "system" in disk:
                    d["on_system_disk"] = bool(disk["system"])
    provided, failed = facts.kind_state("device")
    for s in facts.entities("backup_server"):
        if "client_devices_local" in s:
            continue
        devs = per_server.get(s["id"], [])
        if failed or (not devs and not provided):
            _unknown(s, "client_devices_local", failed or "no source describes its devices")
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


def _bootstraps(facts):
    latest: dict = {}
    for b in facts.entities("bootstrap"):
        sid = b.get("backup_server")
        s = facts.get("backup_server", sid) if sid else None
        for c in b.get("copies") or ():
            if not isinstance(c, dict) or "local_to_server" in c:
                continue
            dev = facts.get("device", c.get("device")) if c.get("device") else None
            if dev is not None and dev.get("local_to_server") is not None:
                c["local_to_server"] = dev["local_to_server"]
            elif c.get("device") is None and c.get("location"):
                c["local_to_server"] = bool(s is not None and c.get("location_host")
                                            and _same_host(facts, c["location_host"], s.get("host")))
        if s is None or not b.get("time"):
            continue
        try:
            t = parse_time(b["time"])
        except ValueError:
            continue
        cur = latest.get(s["id"])
        if cur is None or t > cur[0]:
            latest[s["id"]] = (t, b["id"])
    provided, failed = facts.kind_state("bootstrap")
    dr_latest: dict = {}
    for t in facts.entities("dr_test"):
        if t.get("result") == "success" and t.get("host") and t.get("time"):
            try:
                when = parse_time(t["time"])
            except ValueError:
                continue
            key = facts.alias_index("host").lookup(t["host"]) or norm(t["host"])
            if key not in dr_latest or when > dr_latest[key][0]:
                dr_latest[key] = (when, t["time"])
    dr_provided, dr_failed = facts.kind_state("dr_test")
    for s in facts.entities("backup_server"):
        if "latest_bootstrap" not in s:
            if failed:
                _unknown(s, "latest_bootstrap", failed)
            elif s["id"] in latest:
                _derived(s, "latest_bootstrap", latest[s["id"]][1])
            elif provided:
                _derived(s, "latest_bootstrap", None)
            else:
                _unknown(s, "latest_bootstrap", "no source describes bootstrap backups")
        if "last_dr_test" not in s:
            host = s.get("host")
            key = (facts.alias_index("host").lookup(host) or norm(host)) if host else None
            if dr_failed:
                _unknown(s, "last_dr_test", dr_failed)
            elif key in dr_latest:
                _derived(s, "last_dr_test", dr_latest[key][1])
            elif dr_provided:
                _derived(s, "last_dr_test", None)
            else:
                _unknown(s, "last_dr_test", "no source records DR tests (add dr_test facts)")


def _datastores_and_vms(facts):
    for ds in facts.entities("datastore"):
        if "shared" not in ds:
            if isinstance(ds.get("hosts"), list):
                ds["shared"] = len(ds["hosts"]) >= 2
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
                        d["shared"] = ds["shared"]
                else:
                    dss.append(None)
        if "eligible_hosts" in vm:
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
        eligible = []
        unknown = None
        for hid in candidates:
            h = facts.get("hypervisor_host", hid)
            if h is None:
                unknown = f"host {hid} of its cluster is not described"
                break
            if h.get("connection_state") != "connected" or h.get("maintenance") is not False:
                if "connection_state" not in h or "maintenance" not in h:
                    unknown = f"state of host {hid} is unknown"
                    break
                continue
            if any(ds.get("hosts") is not None and h["id"] not in ds["hosts"] for ds in dss):
                continue
            if any(h["id"] not in rule for rule in mandatory):
                continue
            eligible.append(h["id"])
        if unknown:
            _unknown(vm, "eligible_hosts", unknown)
        else:
            _derived(vm, "eligible_hosts", eligible)


def _dependencies(facts):
    servers = facts.entities("backup_server")
    if not servers:
        return
    protected_by: dict = {}
    hidx = facts.alias_index("host")
    for c in facts.entities("client"):
        name = c.get("host") or c.get("hostname") or c["id"]
        protected_by.setdefault(hidx.lookup(name) or norm(name), set()).add(c.get("backup_server"))
    for s in servers:
        if "dependency_closure" in s and "circular_dependencies" in s:
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
        while stack:
            d = stack.pop(0)
            dh = facts.get("host", d)
            did = dh["id"] if dh else d
            if did in seen or did == h["id"]:
                continue
            seen.append(did)
            if dh is not None:
                if "depends_on" in dh:
                    stack.extend(dh.get("depends_on") or ())
                elif (dh.get("_unknown") or {}).get("depends_on") or (dh.get("_conflicts") or {}).get("depends_on"):
                    missing = f"host {did}: {why_unknown(dh, 'depends_on', 'depends_on unknown')}"
        if "dependency_closure" not in s:
            _derived(s, "dependency_closure", seen)
        if missing:
            _unknown(s, "circular_dependencies", missing)
            continue
        circular = []
        for did in seen:
            dh = facts.get("host", did)
            if dh is not None and dh.get("independent_recovery"):
                continue
            servers_of = protected_by.get(did) or protected_by.get(norm(did), set())
            if servers_of and servers_of <= {s["id"]}:
                circular.append(did)
        if "circular_dependencies" not in s:
            _derived(s, "circular_dependencies", circular)
