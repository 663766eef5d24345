"""A backup server's dependencies: the transitive closure of its host's depends_on, and those of them
only this server protects (a circular dependency: DR deadlocks)."""
from __future__ import annotations

from itertools import repeat
from typing import Any

from policycheck.derivations.base import Entity, derived, has, lacking, partial, unknown, why_unknown
from policycheck.facts import Facts, norm


def dependencies(facts: Facts) -> None:
    """backup_server.dependency_closure and backup_server.circular_dependencies."""
    servers = facts.entities("backup_server")
    if not servers:
        return
    if not lacking(servers, "dependency_closure") and not lacking(servers, "circular_dependencies") \
            and set(map(type, map(dict.get, facts.entities("client"), repeat("backup_server")))) <= {str}:
        # every server has both (or knows them unknown): no client needs reading. The loop skipped could
        # not have raised (each client names its server); the one thing read after it is asked still,
        # for the error an odd `incomplete` gives
        facts.incomplete("client")
        return
    protected_by: dict[str, set[str]] = {}
    credit: dict[str, Entity] = {}  # host -> a client record naming its backup server (the source of "protected by")
    hidx = facts.alias_index("host")
    unsure: dict[str, str] = {}  # host -> why we cannot tell which servers protect it
    for c in facts.entities("client"):
        name = c.get("host") or c.get("hostname") or c["id"]
        if not isinstance(name, str):
            continue
        key = hidx.lookup(name) or norm(name)
        if "backup_server" in c and isinstance(c["backup_server"], str):
            protected_by.setdefault(key, set()).add(c["backup_server"])
            credit.setdefault(key, c)
        else:
            unsure.setdefault(key, why_unknown(c, "backup_server", f"client {c['id']}: its backup server is unknown"))
    client_inc = facts.incomplete("client")
    for s in servers:
        if has(s, "dependency_closure") and has(s, "circular_dependencies"):
            continue
        h = facts.get("host", s.get("host")) if s.get("host") else None
        if h is None:
            unknown(s, "dependency_closure", "no inventory describes its host")
            unknown(s, "circular_dependencies", "no inventory describes its host")
            continue
        if "depends_on" not in h:
            reason = why_unknown(h, "depends_on", f"depends_on of host {h['id']} is unknown")
            unknown(s, "dependency_closure", reason)
            unknown(s, "circular_dependencies", reason)
            continue
        seen: list[Any] = []
        walked = [(h, "depends_on")]
        stack = list(h.get("depends_on") or ())
        missing = None
        part = (h.get("_partial") or {}).get("depends_on")
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
                walked.append((dh, "depends_on"))
                part = part or (dh.get("_partial") or {}).get("depends_on")
            elif (dh.get("_unknown") or {}).get("depends_on") or (dh.get("_conflicts") or {}).get("depends_on"):
                missing = missing or f"host {did}: {why_unknown(dh, 'depends_on', 'depends_on unknown')}"
        if not has(s, "dependency_closure"):
            if missing:
                unknown(s, "dependency_closure", missing)
            else:
                derived(s, "dependency_closure", seen, *walked)
                if part:
                    partial(s, "dependency_closure", part)
        if has(s, "circular_dependencies"):
            continue
        if missing:
            unknown(s, "circular_dependencies", missing)
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
            unknown(s, "circular_dependencies", why or f"which servers protect its dependencies is unknown: {client_inc}")
            continue
        derived(s, "circular_dependencies", circular, *walked,
                *((credit.get(did) or credit.get(norm(did)), "backup_server") for did in circular))
        if part:
            partial(s, "circular_dependencies", part)
