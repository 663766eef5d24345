"""Pure readers of one NetBox object's fields: platform -> os, role, tags, services, custom fields, exemption."""
from __future__ import annotations

import re

from policycheck.kit.names import norm_label

DEVICE = "dcim.device"
VM = "virtualization.virtualmachine"


def strip_prefix(address: str) -> str:
    return address.split("/", 1)[0]


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
    return [norm_label(role.get("slug") or role.get("name") or "")] if (role.get("slug") or role.get("name")) else []


def tag_names(obj: dict) -> list[tuple[str, str]]:
    tags = obj.get("tags")
    return [(str(t.get("name") or ""), str(t.get("slug") or "")) for t in (tags if isinstance(tags, list) else [])
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
    """The policycheck service of an IPAM service; ValueError (the reason) when its fields are malformed."""
    smap = cfg["service_map"]
    raw_name, ports, proto = svc.get("name"), svc.get("ports"), svc.get("protocol")
    if raw_name is not None and not isinstance(raw_name, str):
        raise ValueError(f"has name {type(raw_name).__name__} {str(raw_name)[:60]!r}, not text")
    if ports is not None and (not isinstance(ports, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in ports)):
        raise ValueError(f"has ports {type(ports).__name__} {str(ports)[:60]!r}, not a list of port numbers")
    if isinstance(proto, dict):
        proto = proto.get("value")
    if proto is not None and not isinstance(proto, str):
        raise ValueError(f"has protocol {type(proto).__name__} {str(proto)[:60]!r}, not tcp/udp/sctp")
    name = (raw_name or "").strip().lower()
    if not name and not ports:
        raise ValueError("has neither a name nor ports")
    if name in smap and smap[name]:
        return smap[name]
    for port in ports or []:
        key = f"{port}/{(proto or '').lower()}"
        if key in smap and smap[key]:
            return smap[key]
    return norm_label(name) if name else f"port_{'_'.join(str(p) for p in ports)}"


def _ref_values(value, resolve) -> list[str]:
    """A custom field value as a list of strings: text ("a, b"), select/multi-select (NetBox 4.7 gives
    {"value", "label"} per choice; older ones plain strings), JSON list, object / multi-object (brief
    objects with a url, resolved to our host ids). ValueError (the reason) for any other shape: an
    element that cannot be read is never dropped."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, str):
        return [v for v in (x.strip() for x in re.split(r"[,\s;]+", value)) if v]
    if not isinstance(value, list):
        raise ValueError(f"holds {type(value).__name__} {str(value)[:60]!r}, not text, a list or objects")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, dict) and "value" in v and "url" not in v:
            choice = v["value"]  # (multi-)select choice: {"value", "label"}
            if not isinstance(choice, str) or not choice.strip():
                raise ValueError(f"item {i} is a choice with value {str(choice)[:60]!r}, not text")
            out.append(choice.strip())
        elif isinstance(v, dict):
            out.append(resolve(v))
        elif isinstance(v, str) and v.strip():
            out.append(v.strip())
        elif isinstance(v, int) and not isinstance(v, bool):
            out.append(str(v))
        else:
            raise ValueError(f"item {i} is {type(v).__name__} {str(v)[:60]!r}, not a name or an object")
    return out


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
            try:
                values += _ref_values(cfs[cf_name], resolve)
            except ValueError as exc:
                raise ValueError(f"custom field '{cf_name}' {exc}") from None
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


def _text_value(v: object, what: str) -> str | None:
    """A text-like custom field value: text, a selection choice {"value", "label"}, or a brief object
    (user, contact: display / name / username). None when empty; ValueError for any other shape."""
    if v is None:
        return None
    if isinstance(v, dict):
        for key in ("label", "value", "display", "name", "username"):
            got = v.get(key)
            if isinstance(got, str) and got.strip():
                return got.strip()
        raise ValueError(f"{what} holds an object without a name or label ({repr(v)[:60]})")
    if isinstance(v, str):
        return v.strip() or None
    raise ValueError(f"{what} holds {type(v).__name__} {repr(v)[:60]}, not text (make it a Text field)")


def exemption(obj: dict, spec: dict, tag_keys: set[str]) -> tuple[dict | None, str | None]:
    """(the backup exemption or None, a note when the exemption tag is set without a reason).

    A non-empty reason custom field exempts the object with that reason; the exemption tag alone has
    no reason, so it is reported as ``{exempt: true, reason: null}`` (which counts for nothing: COV-001
    judges the host) with a note. ValueError (the reason, naming the field) for a malformed value:
    never a silent exemption. ``tag_keys``: the object's tag slugs and names, lower-cased."""
    cfs = obj.get("custom_fields")
    cfs = cfs if isinstance(cfs, dict) else {}
    rcf, ocf, tag = spec.get("reason_custom_field"), spec.get("owner_custom_field"), spec.get("tag")
    reason = owner = None
    if rcf and rcf in cfs:
        v = cfs[rcf]
        if isinstance(v, dict) and not ("value" in v and "url" not in v):  # a selection choice is text
            raise ValueError(f"custom field '{rcf}' holds an object, not text (make it a Text field)")
        reason = _text_value(v, f"custom field '{rcf}'")
    if ocf and ocf in cfs:
        owner = _text_value(cfs[ocf], f"custom field '{ocf}'")
    tagged = bool(tag) and tag.lower() in tag_keys
    if reason:
        return {"exempt": True, "reason": reason, "owner": owner}, None
    if tagged:
        where = f"custom field '{rcf}'" if rcf else "a reason custom field (backup_exemption.reason_custom_field)"
        return ({"exempt": True, "reason": None, "owner": owner},
                f"tagged '{tag}' without a reason in {where}: not an exemption until the reason is recorded, "
                "so COV-001 judges it")
    return None, None
