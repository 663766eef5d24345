"""Pure: which device or VM an IPAM service, an IP address or an FHRP group assignment belongs to."""
from __future__ import annotations

from typing import Any

from policycheck_netbox import fields as m

EP_FHRP = "/api/ipam/fhrp-group-assignments/"
FHRP = "ipam.fhrpgroup"


def is_id(v: object) -> bool:
    """A NetBox numeric id (an int, not a bool)."""
    return isinstance(v, int) and not isinstance(v, bool)


def show(v: object) -> str:
    """A NetBox value for a reason: its type and a short repr (values from NetBox, never our secrets)."""
    text = repr(v)
    return f"{type(v).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def owner_of(nested: object) -> tuple[str, int] | None:
    """(type, id) of the device or VM an interface-like brief object belongs to, else None."""
    if not isinstance(nested, dict):
        return None
    for key, otype in (("device", m.DEVICE), ("virtual_machine", m.VM)):
        ref = nested.get(key)
        if isinstance(ref, dict) and is_id(ref.get("id")):
            return (otype, ref["id"])
    return None


def fhrp_members(assignments: list[Any], malformed: list[str]) -> dict[Any, set[Any]]:
    """FHRP group id -> the devices/VMs whose interfaces are assigned to it."""
    out: dict[Any, set[Any]] = {}
    for i, a in enumerate(assignments):
        gid = a.get("group", {}).get("id") if isinstance(a, dict) and isinstance(a.get("group"), dict) else None
        owner = owner_of(a.get("interface")) if isinstance(a, dict) else None
        if not is_id(gid) or owner is None:
            aid = a.get("id") if isinstance(a, dict) else i
            malformed.append(f"GET {EP_FHRP}: assignment {aid!r} names no FHRP group id or no interface of a "
                             "device/VM; services on FHRP groups cannot be attributed")
            out.setdefault("?", set()).add(str(aid))
            continue
        out.setdefault(gid, set()).add(owner)
    return out


def service_owners(s: dict[str, Any], fhrp: dict[Any, set[Any]] | str | None) -> tuple[list[Any], str | None]:
    """([(type, id)...], None) for the hosts that serve an IPAM service, or ([], why) when the service's
    parent cannot be told. ``fhrp`` is the FHRP membership (dict), the reason it could not be read
    (str), or None when it was not needed."""
    ptype, pid = s.get("parent_object_type"), s.get("parent_object_id")
    if ptype is None:  # NetBox < 4.3: device / virtual_machine
        for key, otype in (("device", m.DEVICE), ("virtual_machine", m.VM)):
            ref = s.get(key)
            if ref is not None:
                if isinstance(ref, dict) and is_id(ref.get("id")):
                    return [(otype, ref["id"])], None
                return [], f"has {key} {show(ref)}, not an object with a numeric id"
        return [], "has no parent_object_type (nor device / virtual_machine)"
    if ptype in (m.DEVICE, m.VM):
        if is_id(pid):
            return [(ptype, pid)], None
        return [], f"has parent_object_id {show(pid)}, not a number"
    if ptype == FHRP:
        if not is_id(pid):
            return [], f"has parent_object_id {show(pid)}, not a number"
        if isinstance(fhrp, str):
            return [], f"sits on FHRP group {pid}, whose members could not be read ({fhrp})"
        if isinstance(fhrp, dict) and "?" in fhrp:
            return [], (f"sits on FHRP group {pid}, and FHRP assignment(s) {', '.join(sorted(fhrp['?']))} "
                        "are malformed")
        return sorted((fhrp or {}).get(pid, ())), None
    return [], (f"has parent_object_type {show(ptype)}, which this collector does not know "
                f"({m.DEVICE}, {m.VM}, {FHRP})")
