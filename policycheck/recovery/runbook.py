"""The recovery order after a total loss, per backup server, from the merged dependency graph.

For each backup server: (1) the hosts its own recovery needs (its transitive ``depends_on``), in
dependency order, each with how it comes back without this server, or named as a deadlock (BSRV-003's
``circular_dependencies``, or a ``depends_on`` cycle through the server's host); (2) the server itself,
with its BMR path and where the copies of its latest bootstrap are; (3) its storage nodes and devices;
(4) its clients in dependency order (a topological order over ``depends_on``, ties by role, then name).
A step whose recovery path the facts cannot tell says so, with the reason: never a silent "ok".

Pure: :func:`build` returns a JSON-able dict, :func:`render_text` and :func:`render_markdown` strings.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

from policycheck.derive import why_unknown
from policycheck.facts import norm
from policycheck.timeutil import format_duration, parse_time

if TYPE_CHECKING:
    from policycheck.facts import Facts

#: who comes back first among steps that do not depend on each other
ROLE_ORDER = ("dns", "dhcp", "directory", "license_server", "hypervisor_manager", "storage_appliance",
              "storage_node", "database", "file_server", "mail_server", "application", "web_server",
              "print_server", "terminal_server", "vdi_server", "sunray_server")
POLICIES = ("BSRV-003", "BOOT-001", "BOOT-002", "BMR-002")


def _role_rank(h: dict[str, Any] | None) -> int:
    roles = [r for r in (h or {}).get("roles") or () if isinstance(r, str)]
    ranks = [ROLE_ORDER.index(r) for r in roles if r in ROLE_ORDER]
    return min(ranks) if ranks else len(ROLE_ORDER)


def _lst(v: Any) -> list[str]:
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


class _Graph:
    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.hidx = facts.alias_index("host")
        self.protected_by: dict[str, set[str]] = {}   # host id -> {server id}
        self.client_of: dict[tuple[str, str], dict[str, Any]] = {}      # (server id, host id) -> client record
        for c in facts.entities("client"):
            name = c.get("host") or c.get("hostname") or c["id"]
            if not isinstance(name, str):
                continue
            hid = self.hidx.lookup(name) or norm(name)
            bs = c.get("backup_server")
            if isinstance(bs, str):
                s = facts.get("backup_server", bs)
                bs = s["id"] if s else bs
                self.protected_by.setdefault(hid, set()).add(bs)
                self.client_of.setdefault((bs, hid), c)

    def host(self, name: object) -> dict[str, Any] | None:
        return self.facts.get("host", name) if isinstance(name, str) else None

    @overload
    def hid(self, name: str) -> str: ...
    @overload
    def hid(self, name: object) -> str | None: ...

    def hid(self, name: object) -> str | None:
        h = self.host(name)
        return h["id"] if h else (norm(name) if isinstance(name, str) else None)

    def deps(self, hid: str) -> tuple[list[str], str | None]:
        h = self.host(hid)
        if h is None:
            return [], f"no source describes host {hid}"
        if "depends_on" not in h:
            return [], why_unknown(h, "depends_on", f"depends_on of {hid} is unknown")
        return [self.hid(d) for d in _lst(h.get("depends_on"))], None


def _toposort(nodes: Iterable[str], edges: Mapping[str, Iterable[str]],
              rank: Callable[[str], Any]) -> tuple[list[str], list[list[str]]]:
    """Kahn's order over ``nodes`` (edges: node -> its prerequisites within nodes), ties by ``rank``;
    returns (order, cycles) where each cycle is a list of nodes [a, b, ..., a]."""
    nodes = list(dict.fromkeys(nodes))
    pre = {n: [d for d in edges.get(n, ()) if d in nodes and d != n] for n in nodes}
    indeg = {n: len(set(pre[n])) for n in nodes}
    users: dict[str, list[str]] = {n: [] for n in nodes}
    for n in nodes:
        for d in set(pre[n]):
            users[d].append(n)
    ready = sorted((n for n in nodes if indeg[n] == 0), key=rank)
    order: list[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for u in users[n]:
            indeg[u] -= 1
            if indeg[u] == 0:
                ready.append(u)
        ready.sort(key=rank)
    left = [n for n in nodes if n not in order]
    cycles: list[list[str]] = []
    seen: set[str] = set()
    for start in sorted(left, key=rank):
        if start in seen:
            continue
        path, cur = [start], start  # walk prerequisites inside the leftover set until a node repeats
        while True:
            nxt = next((d for d in pre[cur] if d in left), None)
            if nxt is None:
                break
            if nxt in path:
                cyc = path[path.index(nxt):] + [nxt]
                if not set(cyc) & seen:
                    cycles.append(cyc)
                seen.update(cyc)
                break
            path.append(nxt)
            cur = nxt
        seen.add(start)
    return order, cycles


def _how(g: _Graph, hid: str, server_id: str, now: datetime) -> tuple[list[str], list[str]]:
    """Ways ``hid`` comes back (each a sentence) and what the facts cannot tell about them."""
    facts = g.facts
    h = g.host(hid)
    paths: list[str] = []
    unknown: list[str] = []
    if h is None:
        return [], [f"no source describes host {hid}: its recovery path is unknown"]
    if h.get("independent_recovery") is True:
        paths.append("independent recovery recorded in the inventory (replica or rebuild that needs no backup "
                     "server of this datazone)")
    elif "independent_recovery" in (h.get("_unknown") or {}):
        unknown.append(f"independent_recovery: {why_unknown(h, 'independent_recovery', 'unknown')}")
    methods = _lst(h.get("bmr_methods"))
    if methods:
        paths.append("bare-metal recovery: " + ", ".join(methods))
    elif "bmr_methods" not in h:
        unknown.append("bmr_methods: " + why_unknown(h, "bmr_methods", "not recorded by any source"))
    vm = facts.get("vm", h.get("vm")) if isinstance(h.get("vm"), str) else None
    if vm is not None:
        if vm.get("template"):
            paths.append(f"redeploy VM {vm['id']} from template {vm['template']}")
        snaps = [s for s in vm.get("snapshots") or () if isinstance(s, dict)]
        if snaps:
            last = max(snaps, key=lambda s: str(s.get("time")))
            paths.append(f"revert VM {vm['id']} to snapshot '{last.get('name')}' ({last.get('time')})")
    elif h.get("platform") == "virtual":
        unknown.append("its VM: " + why_unknown(h, "vm", "no hypervisor facts match it"))
    for bs in sorted(g.protected_by.get(hid, ())):
        c = g.client_of.get((bs, hid)) or {}
        kinds: list[str] = []
        for attr, label in (("last_bmr_backup", "BMR save set"), ("last_image_backup", "image backup"),
                            ("last_filesystem_backup", "file-system backup")):
            if c.get(attr):
                kinds.append(f"{label} {c[attr]} ({_age(c[attr], now)} old)")
        what = "; ".join(kinds) or "no successful backup recorded"
        if bs == server_id:
            paths.append(f"restore from {bs} once it is back: {what}")
        else:
            paths.append(f"restore from backup server {bs} (recover it first, see its runbook): {what}")
    return paths, unknown


#: bare-metal methods that restore through the backup server itself: no way out of a deadlock
NEEDS_BACKUP_SERVER = {"networker_bmr", "windows_bmr", "bacula_bmr", "bareos_bmr"}


def _way_out(g: _Graph, hid: str) -> list[str]:
    """Ways to bring ``hid`` back that need no restore from a backup server (for a deadlock)."""
    h = g.host(hid) or {}
    out: list[str] = []
    methods = [m for m in _lst(h.get("bmr_methods")) if m not in NEEDS_BACKUP_SERVER]
    if methods:
        out.append("rebuild with " + ", ".join(methods))
    vm = g.facts.get("vm", h.get("vm")) if isinstance(h.get("vm"), str) else None
    if vm is not None and vm.get("template"):
        out.append(f"redeploy VM {vm['id']} from template {vm['template']}")
    if vm is not None and [s for s in vm.get("snapshots") or () if isinstance(s, dict)]:
        out.append(f"revert VM {vm['id']} to its latest snapshot (if its datastore survived)")
    return out


def _age(t: Any, now: datetime) -> str:
    try:
        return format_duration((now - parse_time(t)).total_seconds())
    except (ValueError, TypeError):
        return "unknown age"


def _step(g: _Graph, hid: str, phase: str, server_id: str, now: datetime, **extra: Any) -> dict[str, Any]:
    h = g.host(hid) or {}
    paths, unknown = _how(g, hid, server_id, now)
    deps, why = g.deps(hid)
    step: dict[str, Any] = {"phase": phase, "host": hid, "os": h.get("os"), "platform": h.get("platform"),
            "roles": _lst(h.get("roles")), "needs": deps, "how": paths, "unknown": unknown, "status": "ok",
            "notes": []}
    if why:
        step["unknown"].append(f"depends_on: {why}")
    step.update(extra)
    if step["status"] == "ok":
        if step["unknown"] and not [p for p in paths if not p.startswith("restore from " + server_id)]:
            step["status"] = "unknown"
        elif not paths:
            step["status"] = "no-path"
    return step


def build(facts: Facts, results: Mapping[tuple[str, str], tuple[str, str]] | None = None) -> dict[str, Any]:
    """The runbook of every backup server. ``results``: {(policy id, backup server id): (status, message)}
    from the engine (BSRV-003's verdict names the deadlocks; BOOT-001/002 and BMR-002 are shown too)."""
    results = results or {}
    now = parse_time(facts.as_of or facts.collected_at)
    g = _Graph(facts)
    out: dict[str, Any] = {"as_of": facts.as_of or facts.collected_at, "collected_at": facts.collected_at, "servers": []}
    for s in facts.entities("backup_server"):
        out["servers"].append(_server(g, s, results, now))
    return out


def _server(g: _Graph, s: dict[str, Any], results: Mapping[tuple[str, str], tuple[str, str]],
            now: datetime) -> dict[str, Any]:
    facts = g.facts
    sid = s["id"]
    shost = g.hid(s.get("host")) if isinstance(s.get("host"), str) else None
    checks = {p: {"status": results[(p, sid)][0], "message": results[(p, sid)][1]}
              for p in POLICIES if (p, sid) in results}
    rb: dict[str, Any] = {"server": sid, "host": shost, "product": s.get("product"), "version": s.get("version"),
          "checks": checks, "deadlocks": [], "unknown": [], "steps": []}
    steps = rb["steps"]
    # 1. what the server's own recovery needs
    closure = s.get("dependency_closure")
    if isinstance(closure, list):
        closure = [g.hid(x) for x in _lst(closure)]
    else:
        rb["unknown"].append("the hosts this server depends on: "
                             + why_unknown(s, "dependency_closure", "unknown"))
        closure, frontier = [], [shost] if shost else []  # what is known, walked by hand
        while frontier:
            deps, _ = g.deps(frontier.pop(0))
            for d in deps:
                if d not in closure and d != shost:
                    closure.append(d)
                    frontier.append(d)
    circular = s.get("circular_dependencies")
    if isinstance(circular, list):
        circular = {g.hid(x) for x in _lst(circular)}
    else:
        rb["unknown"].append("whether a dependency can only be restored by this server (BSRV-003): "
                             + why_unknown(s, "circular_dependencies", "unknown"))
        circular = set()
    nodes = closure + ([shost] if shost else [])
    edges = {n: g.deps(n)[0] for n in nodes}
    order, cycles = _toposort(nodes, edges, lambda n: (n == shost, _role_rank(g.host(n)), n))
    bsrv3 = checks.get("BSRV-003")
    for hid in closure:
        if hid in circular:
            rb["deadlocks"].append({
                "hosts": [shost, hid, shost], "kind": "backup",
                "why": f"{sid} needs {hid} to recover, and {hid} can only be restored by {sid}: no other backup "
                       "server protects it and it has no independent recovery",
                "bsrv_003": bsrv3})
    for cyc in cycles:
        rb["deadlocks"].append({"hosts": cyc, "kind": "depends_on",
                                "why": "a depends_on cycle: " + " -> ".join(cyc) + " (each needs the next to start)",
                                "bsrv_003": bsrv3})
    in_cycle = {n for c in cycles for n in c}
    for hid in order + [n for n in nodes if n not in order]:
        if hid == shost:
            continue
        st = _step(g, hid, "dependency", sid, now)
        if hid in circular or hid in in_cycle:
            st["status"] = "deadlock"
            st["notes"].append("DEADLOCK: " + ("only " + sid + " can restore it" if hid in circular
                                                else "in a depends_on cycle with " + sid + "'s host")
                               + (f"; BSRV-003 {bsrv3['status']}: {bsrv3['message']}" if bsrv3 else ""))
            others = _way_out(g, hid)
            st["notes"].append("way out: " + ("; ".join(others) + ", without a restore from " + sid if others else
                                              "rebuild it by hand (a documented build, a replica elsewhere) or "
                                              f"bring {sid} up without it (e.g. static name resolution)"))
        steps.append(st)
    # 2. the backup server itself
    if shost:
        st = _step(g, shost, "backup_server", sid, now)
        st["how"] = [p for p in st["how"] if not p.startswith("restore from " + sid)] or st["how"]
        if not [p for p in st["how"] if not p.startswith("restore from ")]:
            st["status"] = "unknown" if st["unknown"] else "no-path"
        st["bootstrap"] = _bootstrap(facts, s, now)
        st["dr_test"] = _dr_test(facts, s)
        if shost in in_cycle:
            st["status"] = "deadlock"
        steps.append(st)
    else:
        rb["unknown"].append("the host of the backup server: " + why_unknown(s, "host", "unknown"))
    done = {st["host"] for st in steps}
    # 3. storage nodes and devices
    for n in facts.entities("storage_node"):
        if n.get("backup_server") != sid:
            continue
        nh = g.hid(n.get("host")) if isinstance(n.get("host"), str) else None
        if nh is None:
            rb["unknown"].append(f"the host of storage node {n['id']}: " + why_unknown(n, "host", "unknown"))
            continue
        if nh in done:
            continue
        st = _step(g, nh, "storage_node", sid, now, storage_node=n["id"])
        steps.append(st)
        done.add(nh)
    rb["devices"] = [{"id": d["id"], "media_type": d.get("media_type"), "host": d.get("host"),
                      "storage_node": d.get("storage_node"), "enabled": d.get("enabled"),
                      "client_data": d.get("client_data")}
                     for d in facts.entities("device") if d.get("backup_server") == sid]
    dev_inc = facts.incomplete("device", sid)
    if dev_inc:
        rb["unknown"].append("its devices: " + dev_inc)
    # 4. clients in dependency order
    clients = [h for (bs, h) in g.client_of if bs == sid and h not in done]
    edges = {c: g.deps(c)[0] for c in clients}
    order, cycles = _toposort(clients, edges, lambda n: (_role_rank(g.host(n)), n))
    for cyc in cycles:
        rb["deadlocks"].append({"hosts": cyc, "kind": "depends_on",
                                "why": "clients in a depends_on cycle: " + " -> ".join(cyc), "bsrv_003": bsrv3})
    in_cycle = {n for c in cycles for n in c}
    for hid in order + [c for c in clients if c not in order]:
        st = _step(g, hid, "client", sid, now)
        if hid in in_cycle:
            st["status"] = "deadlock"
            st["notes"].append("DEADLOCK: in a depends_on cycle with other clients")
        later = [d for d in st["needs"] if d in clients and order.index(d) > order.index(hid)] \
            if hid in order else []
        for d in later:
            st["notes"].append(f"needs {d}, which comes later")
        steps.append(st)
    inc = facts.incomplete("client", sid)
    if inc:
        rb["unknown"].append("its client list is incomplete: " + inc)
    for i, st in enumerate(steps, 1):
        st["n"] = i
    number = {st["host"]: st["n"] for st in steps}
    for st in steps:
        st["needs_steps"] = {d: number.get(d) for d in st["needs"]}
    return rb


def _bootstrap(facts: Facts, s: dict[str, Any], now: datetime) -> dict[str, Any]:
    lb = s.get("latest_bootstrap")
    if "latest_bootstrap" not in s:
        return {"status": "unknown", "why": why_unknown(s, "latest_bootstrap", "no source describes bootstrap backups")}
    if lb is None:
        return {"status": "none", "why": "no bootstrap backup ever ran"}
    b = facts.get("bootstrap", lb)
    if b is None:
        return {"status": "unknown", "why": f"bootstrap {lb} is not described"}
    copies: list[dict[str, Any]] = []
    for c in b.get("copies") or ():
        if not isinstance(c, dict):
            continue
        d = facts.get("device", c.get("device")) if isinstance(c.get("device"), str) else None
        copies.append({"device": c.get("device"), "volume": c.get("volume"), "clone": c.get("clone"),
                       "location": c.get("location") or c.get("location_host"),
                       "media_type": d.get("media_type") if d else None,
                       "device_host": d.get("host") if d else None,
                       "storage_node": d.get("storage_node") if d else None,
                       "offsite": c.get("offsite"),
                       "local_to_server": c.get("local_to_server"),
                       "unknown": dict(c.get("_unknown") or {})})
    return {"status": "ok", "id": b["id"], "time": b.get("time"), "age": _age(b.get("time"), now),
            "level": b.get("level"), "copies": copies,
            "off_server": [c for c in copies if c["local_to_server"] is False] != []}


def _dr_test(facts: Facts, s: dict[str, Any]) -> dict[str, Any]:
    if "latest_dr_test" not in s:
        return {"status": "unknown", "why": why_unknown(s, "latest_dr_test", "unknown")}
    t = facts.get("dr_test", s["latest_dr_test"]) if s["latest_dr_test"] else None
    if t is None:
        return {"status": "none", "why": "no DR test recorded"}
    return {"status": "ok", "id": t["id"], "time": t.get("time"), "result": t.get("result"), "kind": t.get("kind")}


# ---- rendering ------------------------------------------------------------------------------------
PHASES = {"dependency": "what the backup server needs", "backup_server": "the backup server",
          "storage_node": "storage node", "client": "client"}


def _copy_line(c: dict[str, Any]) -> str:
    where = f"device {c['device']}" if c["device"] else f"location {c['location']}"
    bits = [where]
    if c["volume"]:
        bits.append(f"volume {c['volume']}")
    if c["media_type"]:
        bits.append(c["media_type"])
    if c["device_host"]:
        bits.append(f"on {c['device_host']}")
    if c["offsite"]:
        bits.append("offsite")
    loc = {True: "LOCAL to the server (lost with it)", False: "off the server",
           None: "locality unknown"}[c["local_to_server"]]
    return ", ".join(bits) + f": {loc}"


def _lines(rb: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, text) lines of one server's runbook, for both renderers."""
    out = [("h2", f"Backup server {rb['server']} ({rb.get('product') or 'product unknown'}"
                  f"{' ' + rb['version'] if rb.get('version') else ''}) on {rb['host'] or 'an unknown host'}")]
    for d in rb["deadlocks"]:
        v = d.get("bsrv_003")
        out.append(("warn", f"DEADLOCK {' -> '.join(d['hosts'])}: {d['why']}"
                            + (f" [BSRV-003 {v['status']}: {v['message']}]" if v else "")))
    for u in rb["unknown"]:
        out.append(("warn", f"UNKNOWN {u}"))
    for st in rb["steps"]:
        label = PHASES[st["phase"]] + (f" {st['storage_node']}" if st.get("storage_node") else "")
        facts_bits = ", ".join(x for x in (st["os"], st["platform"]) if x) or "os and platform unknown"
        roles = ", ".join(st["roles"]) or "no roles recorded"
        status = {"ok": "", "deadlock": "  [DEADLOCK]", "unknown": "  [RECOVERY PATH UNKNOWN]",
                  "no-path": "  [NO RECOVERY PATH]"}[st["status"]]
        out.append(("step", f"{st['n']}. {st['host']} ({label}; {facts_bits}; roles {roles}){status}"))
        if st["needs"]:
            out.append(("item", "needs: " + ", ".join(
                f"{d} (step {n})" if n else f"{d} (not in this runbook)" for d, n in st["needs_steps"].items())))
        for p in st["how"]:
            out.append(("item", "how: " + p))
        if not st["how"]:
            out.append(("item", "how: no recovery path in the facts"))
        for u in st["unknown"]:
            out.append(("item", "unknown: " + u))
        for n in st["notes"]:
            out.append(("item", n))
        if "bootstrap" in st:
            b = st["bootstrap"]
            if b["status"] == "ok":
                out.append(("item", f"latest bootstrap {b['id']}: {b['time']} ({b['age']} old), level {b['level']}"))
                for c in b["copies"]:
                    out.append(("sub", "copy: " + _copy_line(c)))
                if not b["off_server"]:
                    out.append(("sub", "NO COPY OFF THE SERVER: the bootstrap is lost with it"))
            else:
                out.append(("item", f"latest bootstrap: {b['status']}: {b['why']}"))
            t = st["dr_test"]
            out.append(("item", f"latest DR test {t['id']}: {t['time']}, {t['result']} ({t['kind']})"
                        if t["status"] == "ok" else f"latest DR test: {t['status']}: {t['why']}"))
            for pid, v in rb["checks"].items():
                if pid != "BSRV-003":
                    out.append(("item", f"{pid} {v['status']}" + (f": {v['message']}" if v["message"] else "")))
    if rb["devices"]:
        out.append(("para", "Devices: " + "; ".join(
            f"{d['id']} ({d['media_type'] or '?'} on {d['host'] or '?'}"
            + (f", storage node {d['storage_node']}" if d["storage_node"] else "")
            + (", disabled" if d["enabled"] is False else "") + ")" for d in rb["devices"])))
    return out


def render_text(book: dict[str, Any]) -> str:
    out = [f"Recovery runbook (facts collected {book['collected_at']}, ages as of {book['as_of']})", ""]
    if not book["servers"]:
        out.append("No backup server in the facts.")
    for rb in book["servers"]:
        for kind, text in _lines(rb):
            out.append({"h2": "== " + text + " ==", "warn": "  " + text, "step": "  " + text,
                        "item": "       " + text, "sub": "         - " + text, "para": "  " + text}[kind])
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _md(text: object) -> str:
    return (str(text).replace("\\", "\\\\").replace("`", "'").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;").replace("*", "\\*").replace("_", "\\_").replace("[", "\\["))


def render_markdown(book: dict[str, Any]) -> str:
    out = ["# Recovery runbook", "",
           f"Facts collected {_md(book['collected_at'])}; ages as of {_md(book['as_of'])}. Print it, practise it, "
           "and tick each step off.", ""]
    if not book["servers"]:
        out.append("No backup server in the facts.")
    for rb in book["servers"]:
        for kind, text in _lines(rb):
            if kind == "h2":
                out += [f"## {_md(text)}", ""]
            elif kind == "warn":
                out.append(f"> **{_md(text)}**")
                out.append("")
            elif kind == "step":
                out.append(f"- [ ] {_md(text)}")
            elif kind == "item":
                out.append(f"  - {_md(text)}")
            elif kind == "sub":
                out.append(f"    - {_md(text)}")
            else:
                out += ["", _md(text)]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
