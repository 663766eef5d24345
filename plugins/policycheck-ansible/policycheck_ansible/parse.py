"""Pure reading of ansible-inventory's --list JSON: every host, its (transitive) groups and its hostvars."""
from __future__ import annotations

from dataclasses import dataclass, field

from policycheck.api import CollectorError

_RESERVED = {"_meta"}


@dataclass
class InventoryHost:
    name: str
    groups: list[str] = field(default_factory=list)   # every group it belongs to, ancestors included
    vars: dict = field(default_factory=dict)


def parse(data: dict) -> list[InventoryHost]:
    """Hosts of an ``ansible-inventory --list`` document, in a stable order.

    Hosts without variables are absent from ``_meta.hostvars``, so membership is read from the
    groups; a host is in a group when it is listed there or in any of its descendants.
    """
    hostvars = (data.get("_meta") or {}).get("hostvars") or {}
    if not isinstance(hostvars, dict):
        raise CollectorError("ansible-inventory output has a _meta.hostvars that is not an object")
    groups = {g: v for g, v in data.items() if g not in _RESERVED}
    for g, v in groups.items():
        if not isinstance(v, dict):
            raise CollectorError(f"ansible-inventory output: group {g!r} is not an object")
        for key in ("hosts", "children"):
            if not isinstance(v.get(key, []), list):
                raise CollectorError(f"ansible-inventory output: {g}.{key} is not a list")

    parents: dict[str, set[str]] = {}
    for g, v in groups.items():
        for child in v.get("children", []):
            parents.setdefault(child, set()).add(g)

    def ancestors(group: str) -> set[str]:
        seen: set[str] = set()
        stack = [group]
        while stack:
            cur = stack.pop()
            if cur in seen:
                continue
            seen.add(cur)
            stack.extend(parents.get(cur, ()))
        return seen

    membership: dict[str, set[str]] = {}
    for g, v in groups.items():
        for h in v.get("hosts", []):
            membership.setdefault(h, set()).update(ancestors(g))
    for h in hostvars:
        membership.setdefault(h, set()).add("all")

    hosts = []
    for name in sorted(membership):
        hv = hostvars.get(name, {})
        if not isinstance(hv, dict):
            raise CollectorError(f"ansible-inventory output: hostvars of {name!r} is not an object")
        grp = sorted(membership[name] - {"all", "ungrouped"})
        hosts.append(InventoryHost(name=name, groups=grp, vars=hv))
    return hosts
