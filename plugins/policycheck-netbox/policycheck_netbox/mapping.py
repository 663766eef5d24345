"""Pure mapping from NetBox API objects to policycheck facts (host, backup_server, vm, cluster)."""
from __future__ import annotations

import ipaddress
import re

DEVICE = "dcim.device"
VM = "virtualization.virtualmachine"


def norm(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def strip_prefix(address: str) -> str:
    return address.split("/", 1)[0]


def short(name: str) -> str:
    try:
        ipaddress.ip_address(name)
        return name
    except ValueError:
        return name.split(".", 1)[0]


def map_os(platform: dict | None, cfg: dict, rules) -> str | None:
    """The os from a NetBox platform (brief: id, name, slug). None when there is no platform."""
    if not platform:
        return None
    slug = str(platform.get("slug") or "").lower()
    name = str(platform.get("name") or "").lower()
    for key in (slug, name):
        if key in cfg["os_map"]:
            return cfg["os_map"][key]
    for needle, os_name in rules:
        if needle in slug or needle in name:
            return os_name
    return "other"


def map_role(role: dict | None, cfg: dict) -> list[str]:
    if not role:
        return []
    rmap = cfg["role_map"]
    for key in (str(role.get("slug") or "").lower(), str(role.get("name") or "").lower()):
        if key and key in rmap:
            return [rmap[key]] if rmap[key] else []
    return [norm(role.get("slug") or role.get("name") or "")] if (role.get("slug") or role.get("name")) else []


def tag_names(obj: dict) -> list[tuple[str, str]]:
    return [(str(t.get("name") or ""), str(t.get("slug") or "")) for t in obj.get("tags") or []
            if isinstance(t, dict)]


def tag_values(obj: dict, prefix: str) -> list[str]:
    """Values of tags named PREFIXvalue (by name, or by slug for a prefix that is slug-shaped)."""
    out = []
    p = prefix.lower()
    ps = re.sub(r"[^a-z0-9_-]", "-", p)
    for name, slug in tag_names(obj):
        if name.lower().startswith(p) and len(name) > len(p):
            out.append(name[len(prefix):].strip())
        elif slug.lower().startswith(ps) and len(slug) > len(ps):
            out.append(slug[len(ps):].strip())
    return out


def map_service(svc: dict, cfg: dict) -> str:
    smap = cfg["service_map"]
    name = str(svc.get("name") or "").strip().lower()
    if name in smap and smap[name]:
        return smap[name]
    proto = str((svc.get("protocol") or {}).get("value") if isinstance(svc.get("protocol"), dict)
                else svc.get("protocol") or "").lower()
    for port in svc.get("ports") or []:
        key = f"{port}/{proto}"
        if key in smap and smap[key]:
            return smap[key]
    return norm(name) if name else f"port_{'_'.join(str(p) for p in svc.get('ports') or [])}"


def _ref_values(value, resolve) -> list[str]:
    """A custom field value as a list of strings: text ("a, b"), select/multi-select (NetBox 4.7 gives
    {"value", "label"} per choice; older ones plain strings), JSON list, object / multi-object (brief
    objects with a url, resolved to our host ids)."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, str):
        return [v for v in (x.strip() for x in re.split(r"[,\s;]+", value)) if v]
    if isinstance(value, list):
        out = []
        for v in value:
            if isinstance(v, dict) and "value" in v and "url" not in v:
                out.append(str(v["value"] or "").strip())  # (multi-)select choice: {"value", "label"}
            elif isinstance(v, dict):
                out.append(resolve(v))
            elif isinstance(v, (str, int)) and str(v).strip():
                out.append(str(v).strip())
        return [v for v in out if v]
    return [str(value)]


def list_attr(obj: dict, kind_label: str, attr: str, spec: dict, resolve, unknown: dict):
    """A list attribute from a custom field and/or tags. Returns the list when NetBox says what it is
    ([] when the field is empty), or None when it cannot say (then ``unknown`` gets the reason)."""
    cf, prefix = spec.get("custom_field"), spec.get("tag_prefix")
    cf_names = [cf] if isinstance(cf, str) else list(cf or [])
    if not cf_names and not prefix:
        return None
    values: list[str] = []
    known = False
    cfs = obj.get("custom_fields")
    for cf_name in cf_names:  # several: NetBox object fields reference one type (devices OR VMs)
        if isinstance(cfs, dict) and cf_name in cfs:
            values += _ref_values(cfs[cf_name], resolve)
            known = True
    if prefix:
        values += tag_values(obj, prefix)
        known = True
    if not known:
        names = ", ".join(f"'{n}'" for n in cf_names)
        unknown[attr] = (f"NetBox has no custom field {names} on {kind_label}s (create it, or set "
                         f"{attr}.custom_field / {attr}.tag_prefix in the source config)")
        return None
    seen, out = set(), []
    for v in values:
        if v.lower() not in seen:
            seen.add(v.lower())
            out.append(v)
    return out


def bool_attr(obj: dict, cf_name: str | None):
    """(present, value) of a boolean custom field."""
    cfs = obj.get("custom_fields")
    if not cf_name or not isinstance(cfs, dict) or cf_name not in cfs:
        return False, None
    v = cfs[cf_name]
    if isinstance(v, bool) or v is None:
        return True, v
    if isinstance(v, str) and v.lower() in ("true", "yes", "1", "false", "no", "0"):
        return True, v.lower() in ("true", "yes", "1")
    raise ValueError(f"custom field '{cf_name}' holds {str(v)[:60]!r}, not a boolean (make it a Boolean field)")
