"""The documented facts model as data (docs/facts.md): each kind's attributes (and each structured list
item's, such as a bootstrap copy) with their types, enumerations, references and which are derived.
Two users: facts files and snapshots are validated against it before anything is judged
(:func:`check_entities`, :func:`check_document`), and ``policies validate`` checks every fact path of
a policy against it (:class:`ModelChecker`), so a typo (`prodcut`) is refused before a gate runs.

tests/test_policy_validate.py keeps this registry and docs/facts.md's tables equal."""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

from policycheck.conditions import COMBINATORS, QUANTIFIERS
from policycheck.derivations.core import DERIVATIONS
from policycheck.textutil import suggest

if TYPE_CHECKING:
    from policycheck.policy import Policy

#: attribute type notation: "str", "bool", "num", "time", "enum:a|b", "ref:KIND", "[T]" (a list of T),
#: "obj:NAME" (an object described in OBJECTS); a trailing "?" allows null
KINDS_MODEL: dict[str, dict[str, str]] = {
    "host": {"hostname": "str", "fqdn": "str", "addresses": "[str]",
             "os": "enum:linux|windows|solaris|aix|hpux|macos|esxi|other?", "os_version": "str?",
             "platform": "enum:physical|blade|virtual", "roles": "[str]", "services": "[str]",
             "depends_on": "[ref:host]", "bmr_methods": "[str]", "independent_recovery": "bool",
             "vm": "ref:vm?", "tags": "[str]", "backup": "obj:backup_exemption?",
             "protected_by": "[ref:backup_server]"},
    "backup_server": {"host": "ref:host", "product": "str", "version": "str?", "virtual": "bool",
                      "vm": "ref:vm?", "latest_bootstrap": "ref:bootstrap?", "last_dr_test": "time?",
                      "latest_dr_test": "ref:dr_test?", "dependency_closure": "[ref:host]",
                      "circular_dependencies": "[ref:host]", "client_devices_local": "[ref:device]",
                      "hosted_roles": "[str]", "hosted_services": "[str]", "client_backup_copies": "[obj:copy]"},
    "storage_node": {"host": "ref:host", "backup_server": "ref:backup_server"},
    "device": {"backup_server": "ref:backup_server", "storage_node": "ref:storage_node?", "host": "ref:host?",
               "media_type": "enum:disk|file|tape|vtl|dedup|cloud", "enabled": "bool", "client_data": "bool",
               "vm_disk": "str?", "on_system_disk": "bool", "local_to_server": "bool", "immutable": "bool"},
    "bootstrap": {"backup_server": "ref:backup_server", "time": "time", "level": "str?",
                  "copies": "[obj:copy]"},
    "client": {"hostname": "str", "host": "ref:host", "backup_server": "ref:backup_server",
               "os": "enum:linux|windows|solaris|aix|hpux|macos|esxi|other?", "last_filesystem_backup": "time?",
               "last_image_backup": "time?", "last_bmr_backup": "time?", "last_successful_backup": "time?",
               "last_failed_backup": "time?", "latest_backup_copies": "[obj:copy]",
               "latest_restore_test": "ref:dr_test?"},
    "vm": {"name": "str", "datacenter": "str?", "guest_hostname": "str?", "power_state": "enum:on|off|suspended",
           "is_template": "bool", "template": "str?", "cluster": "ref:cluster?", "host": "ref:hypervisor_host?",
           "disks": "[obj:disk]", "passthrough_devices": "[obj:passthrough_device]", "host_rules": "[obj:host_rule]",
           "ha_disabled": "bool", "drs_disabled": "bool", "snapshots": "[obj:snapshot]",
           "eligible_hosts": "[ref:hypervisor_host]"},
    "hypervisor_host": {"name": "str", "datacenter": "str?", "cluster": "ref:cluster?",
                        "connection_state": "enum:connected|disconnected|not_responding",
                        "maintenance": "bool", "vmotion_enabled": "bool", "datastores": "[ref:datastore]"},
    "cluster": {"name": "str", "datacenter": "str?", "hosts": "[ref:hypervisor_host]", "ha_enabled": "bool", "drs_enabled": "bool",
                "drs_automation": "enum:manual|partially_automated|fully_automated?"},
    "datastore": {"name": "str", "datacenter": "str?", "type": "str", "hosts": "[ref:hypervisor_host]", "shared": "bool"},
    "dr_test": {"host": "ref:host", "time": "time", "result": "enum:success|failure", "kind": "str"},
}

OBJECTS: dict[str, dict[str, str]] = {
    "copy": {"device": "ref:device?", "volume": "str?", "clone": "bool", "location": "str?",
             "location_host": "str?", "offsite": "bool", "local_to_server": "bool", "immutable": "bool",
             "offline": "bool", "client": "ref:client"},
    "backup_exemption": {"exempt": "bool", "reason": "str?", "owner": "str?"},
    "disk": {"label": "str", "datastore": "ref:datastore", "system": "bool", "size_gb": "num", "shared": "bool"},
    "passthrough_device": {"type": "enum:pci|usb|scsi|serial|parallel|cdrom", "name": "str", "id": "str",
                           "label": "str", "description": "str?", "backing": "str?",
                           "class": "enum:tape|changer|hba|other"},
    "host_rule": {"name": "str", "mandatory": "bool", "hosts": "[ref:hypervisor_host]", "enabled": "bool"},
    "snapshot": {"name": "str", "time": "time"},
}

#: words people write for an enumerated value, for the "did you mean" of a validation error
SYNONYMS = {"vm": "virtual", "virtual_machine": "virtual", "guest": "virtual", "baremetal": "physical",
            "bare_metal": "physical", "bare-metal": "physical", "hardware": "physical", "up": "connected",
            "poweredOn": "on", "poweredOff": "off", "ok": "success", "passed": "success", "failed": "failure",
            "fail": "failure", "pass": "success", "disk_file": "file", "adv_file": "file", "lto": "tape"}

#: a JSON path (keys and indexes) and a problem found there
JPath = tuple[Any, ...]
JPathProblem = tuple[JPath, str]

RESERVED = ("id", "aliases", "_sources", "_observed_at", "_unknown", "_partial", "_attr_sources", "_conflicts",
            "_unresolved")
@dataclass(frozen=True)
class Attr:
    ref: str | None = None      # the kind it refers to (a list of references has ``many``)
    items: str | None = None    # the scope of each item of a list of structures (copy, disk, ...)
    many: bool = False          # a list
    derived: bool = False
    loose: bool = False         # declared elsewhere (a plugin, a derivation): what lies below is not checked


#: attributes the core derives (docs/facts.md "Derived facts"), from the derivation registry; a
#: source may still give them
DERIVED = {d.key for d in DERIVATIONS}


def _attr(scope: str, name: str, t: str) -> Attr:
    base = t.rstrip("?")
    derived = (scope, name) in DERIVED
    many = base.startswith("[")
    inner = base[1:-1] if many else base
    if inner.startswith("ref:"):
        return Attr(ref=inner[4:], many=many, derived=derived)
    if inner.startswith("obj:"):
        return Attr(items=inner[4:], many=many, derived=derived)
    return Attr(many=many, derived=derived)


MODEL: dict[str, dict[str, Attr]] = {scope: {name: _attr(scope, name, t) for name, t in attrs.items()}
               for scope, attrs in {**KINDS_MODEL, **OBJECTS}.items()}

ITEM_SCOPES = {"copy": "bootstrap.copies", "disk": "vm.disks", "passthrough_device": "vm.passthrough_devices",
               "host_rule": "vm.host_rules", "snapshot": "vm.snapshots", "backup_exemption": "host.backup"}
RESERVED_ATTRS = {"id": Attr(), "aliases": Attr(many=True), "_sources": Attr(many=True), "_observed_at": Attr(),
            "_unknown": Attr(loose=True), "_attr_sources": Attr(loose=True), "_partial": Attr(loose=True)}
# The plugins of this repository: their attributes (networker_resource_id, ...) are accepted even
# where the plugin is not installed (a pre-commit environment, a CI job that only validates).
KNOWN_PLUGINS = ("ansible", "bacula", "netbox", "networker", "vsphere", "file")


def attributes(scope: str, extra: dict[str, Any] | None = None) -> dict[str, Attr]:
    """The attributes of ``scope``: documented, derived by the core (the derivation registry), and
    declared by plugins in ``extra`` ({kind: [name, ...]})."""
    out = dict(MODEL.get(scope, {}))
    if scope in MODEL and scope not in ITEM_SCOPES:
        out.update(RESERVED_ATTRS)
    for (kind, name) in DERIVED:
        if kind == scope and name not in out:
            out[name] = Attr(derived=True, loose=True)
    for name in (extra or {}).get(scope, ()):
        out.setdefault(name, Attr(loose=True))
    return out


def _describe(scope: str) -> str:
    return f"an item of {ITEM_SCOPES[scope]}" if scope in ITEM_SCOPES else f"a {scope}"


class ModelChecker:
    """Checks a policy's fact paths against the model; ``prefixes`` are plugin names whose
    ``<name>_...`` attributes are accepted, ``extra`` attributes plugins declare per kind."""

    def __init__(self, prefixes: Iterable[str] = (), extra: dict[str, Any] | None = None) -> None:
        self.prefixes = tuple(sorted(set(KNOWN_PLUGINS) | {p.replace("-", "_") for p in prefixes if p}))
        self.extra = extra or {}
        self.reads: list[tuple[str, str]] | None = None  # when a list: every (scope, attribute) a path step reads

    def check(self, policy: Policy) -> list[JPathProblem]:
        """Every problem as (JSON path in the policy document, message)."""
        out: list[JPathProblem] = []
        if policy.target not in MODEL:
            return out
        for key in ("when", "require"):
            node = getattr(policy, key)
            if node is not None:
                self._walk(node, (key,), policy.target, policy.target, out)
        for i, text in enumerate(getattr(policy, "context", None) or ()):
            self._path(text, ("context", i), policy.target, policy.target, out)
        return out

    def _walk(self, node: Any, jpath: JPath, scope: str | None, target: str, out: list[JPathProblem]) -> None:
        if not isinstance(node, dict):
            return
        if "fact" in node:
            self._path(node["fact"], jpath + ("fact",), scope, target, out)
            for op, value in node.items():  # another fact as the operand: {lt: {fact: PATH}}
                if isinstance(value, dict) and set(value) == {"fact"}:
                    self._path(value["fact"], jpath + (op, "fact"), scope, target, out)
            return
        if "latest" in node:
            inner = self._path(node["latest"], jpath + ("latest",), scope, target, out, items=True)
            by = node.get("by")
            if inner is not None and isinstance(by, str) and by not in attributes(inner, self.extra) \
                    and not any(by.startswith(p + "_") for p in self.prefixes):
                out.append((jpath + ("by",), f"latest: {_describe(inner)} has no attribute '{by}'"
                            + suggest(by, [n for n in attributes(inner, self.extra) if not n.startswith("_")])))
            self._walk(node.get("require"), jpath + ("require",), inner, target, out)
            return
        for head in COMBINATORS:
            if head not in node:
                continue
            body = node[head]
            if head == "not":
                self._walk(body, jpath + ("not",), scope, target, out)
            else:
                for i, child in enumerate(body or ()):
                    self._walk(child, jpath + (head, i), scope, target, out)
        for head in QUANTIFIERS:
            if head in node:
                inner = self._path(node[head], jpath + (head,), scope, target, out, items=True)
                self._walk(node.get("require"), jpath + ("require",), inner, target, out)

    def _path(self, text: Any, jpath: JPath, scope: str | None, target: str, out: list[JPathProblem],
              items: bool = False) -> str | None:
        """Check one path; return the scope of its value's items (for a quantifier) or None."""
        if not isinstance(text, str):
            return None
        if text.startswith("@target."):
            text_body, scope = text[len("@target."):], target
        else:
            text_body = text
        segs = text_body.split(".")
        for i, seg in enumerate(segs):
            if scope is None:
                return None
            if "<-" in seg:  # a reverse reference: the KIND entities whose ATTR refers to this one
                rkind, _, rattr = seg.partition("<-")
                if self.reads is not None:
                    self.reads.append((rkind, rattr))
                rspec = attributes(rkind, self.extra).get(rattr) if rkind in MODEL else None
                if rspec is None:
                    out.append((jpath, f"fact path {text!r}: {_describe(rkind)} has no attribute '{rattr}'"
                                + suggest(rattr, [n for n in attributes(rkind, self.extra) if not n.startswith("_")])))
                    return None
                if not rspec.loose and rspec.ref != scope:
                    out.append((jpath, f"fact path {text!r}: '{rattr}' of {_describe(rkind)} refers to "
                                       f"{rspec.ref or 'no entity'}, not to {_describe(scope)}"))
                    return None
                scope = rkind
                continue
            attr, _, kind = seg.partition("->")
            last = i == len(segs) - 1
            known = attributes(scope, self.extra)
            spec = known.get(attr)
            if self.reads is not None:
                self.reads.append((scope, attr))
            if spec is None:
                if any(attr.startswith(p + "_") for p in self.prefixes):
                    return None
                documented = [n for n in known if not n.startswith("_")]
                out.append((jpath, f"fact path {text!r}: {_describe(scope)} has no attribute '{attr}'"
                                   + suggest(attr, documented)
                                   + f" (documented in docs/facts.md: {', '.join(sorted(documented))}; "
                                   "a plugin's own attribute starts with its name, e.g. networker_...)"))
                return None
            if spec.loose:
                return None
            if kind:
                if spec.ref is None:
                    out.append((jpath, f"fact path {text!r}: '{attr}' of {_describe(scope)} is not a reference, "
                                       f"so '->{kind}' cannot follow it"))
                    return None
                if spec.ref != kind:
                    out.append((jpath, f"fact path {text!r}: '{attr}' of {_describe(scope)} refers to a "
                                       f"{spec.ref}, not a {kind} (write '{attr}->{spec.ref}')"))
                    return None
                scope = kind
                continue
            if spec.ref is not None:
                if not last:
                    out.append((jpath, f"fact path {text!r}: '{attr}' is a reference to a {spec.ref}: write "
                                       f"'{attr}->{spec.ref}.{segs[i + 1]}' to read its attributes"))
                return None
            if spec.items is not None:
                scope = spec.items
                continue
            if not last:
                out.append((jpath, f"fact path {text!r}: '{attr}' of {_describe(scope)} is a plain value; it has "
                                   f"no attribute '{segs[i + 1].partition('->')[0]}'"))
            return None
        return scope if items else None


def fact_reads(policy: Policy, extra: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """Every (kind or item scope, attribute) a policy's fact paths read, in order, each once."""
    checker = ModelChecker(extra=extra)
    checker.reads = []
    checker.check(policy)
    return list(dict.fromkeys(checker.reads))


# ---- validating facts files and snapshots -------------------------------------------------------
MAX_PROBLEMS = 50
_OFFSET = re.compile(r"(Z|z|[+-]\d\d:?\d\d)$")
_ISO = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|z|[+-]\d\d:?\d\d)?$")


class _Checker:
    def __init__(self, limit: int = MAX_PROBLEMS) -> None:
        self.problems: list[JPathProblem] = []
        self.limit = limit
        self.compiled: dict[str, tuple[bool, str]] = {}

    def add(self, jpath: Iterable[Any], msg: str) -> None:
        if len(self.problems) < self.limit:
            self.problems.append((tuple(jpath), msg))

    def spec(self, t: str) -> tuple[bool, str]:
        hit = self.compiled.get(t)
        if hit is None:
            nullable = t.endswith("?")
            base = t[:-1] if nullable else t
            hit = self.compiled[t] = (nullable, base)
        return hit

    def value(self, v: Any, t: str, jpath: JPath) -> None:
        nullable, base = self.spec(t)
        if v is None:
            if not nullable and not base.startswith("["):
                self.add(jpath, "is null; expected " + _describe_type(base) + " (leave it out if it is unknown)")
            return
        if base.startswith("["):
            if v.__class__ is not list:
                self.add(jpath, f"is {_typename(v)}; expected a list ({_describe_type(base[1:-1])} each)")
                return
            inner = base[1:-1]
            for i, x in enumerate(v):
                self.value(x, inner, jpath + (i,))
            return
        if base == "str":
            if v.__class__ is not str:
                self.add(jpath, f"is {_typename(v)}; expected a string")
        elif base == "bool":
            if v.__class__ is not bool:
                self.add(jpath, f"is {_typename(v)} {_short(v)}; expected true or false")
        elif base == "num":
            if v.__class__ not in (int, float):
                self.add(jpath, f"is {_typename(v)}; expected a number")
        elif base == "time":
            self.time(v, jpath)
        elif base.startswith("ref:"):
            if v.__class__ is not str:
                self.add(jpath, f"is {_typename(v)}; expected the id (or a name) of a {base[4:]}")
        elif base.startswith("enum:"):
            allowed = base[5:].split("|")
            if v not in allowed:
                m = [SYNONYMS[v]] if isinstance(v, str) and SYNONYMS.get(v) in allowed else \
                    difflib.get_close_matches(str(v), allowed, n=1, cutoff=0.5)
                self.add(jpath, f"is {_short(v)}; expected one of {', '.join(allowed)}"
                         + (f" (did you mean '{m[0]}'?)" if m else ""))
        elif base.startswith("obj:"):
            if v.__class__ is not dict:
                self.add(jpath, f"is {_typename(v)}; expected an object ({base[4:]})")
                return
            fields = OBJECTS[base[4:]]
            for k, x in v.items():
                ft = fields.get(k)
                if ft is not None:
                    self.value(x, ft, jpath + (k,))
                elif k == "_unknown" and x.__class__ is not dict:
                    self.add(jpath + (k,), "must be an object {attribute: reason}")

    def time(self, v: Any, jpath: JPath) -> None:
        if v.__class__ is not str:
            self.add(jpath, f"is {_typename(v)}; expected an ISO 8601 time with an offset "
                            "(2026-11-24T22:10:00+01:00)")
            return
        if not _ISO.match(v.strip()):
            self.add(jpath, f"is {_short(v)}; expected an ISO 8601 time such as 2026-11-24T22:10:00+01:00")
            return
        if not _OFFSET.search(v.strip()):
            self.add(jpath, f"is {_short(v)}, a time without a UTC offset: write the offset the source "
                            f"uses (e.g. {v.strip()}+01:00, or Z for UTC)")
            return
        from policycheck.timeutil import parse_time

        try:
            parse_time(v)
        except ValueError:
            self.add(jpath, f"is {_short(v)}; not a valid date and time")


def _typename(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


def _short(v: Any) -> str:
    import json

    s = json.dumps(v, default=str, ensure_ascii=False)
    return s if len(s) <= 60 else s[:59] + "…"


def _describe_type(base: str) -> str:
    if base.startswith("ref:"):
        return f"a {base[4:]} id"
    if base.startswith("enum:"):
        return "one of " + ", ".join(base[5:].split("|"))
    if base.startswith("obj:"):
        return f"an object ({base[4:]})"
    return {"str": "a string", "bool": "true or false", "num": "a number", "time": "an ISO 8601 time"}.get(base, base)


_TIME_OK = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d"
                      r"(:[0-5]\d(\.\d+)?)?(Z|z|[+-]([01]\d|2[0-3]):?[0-5]\d)").fullmatch


_NONE = type(None)
_STR_ONLY = frozenset((str,))
#: what a value needs beyond its class (the shape of its dict already says the class): a time's text,
#: an enumeration's value, the items of a list or an object; _FAIL: its class is wrong
_TIME, _ENUM, _STRS, _OBJ, _OBJS, _STRVALS, _FAIL = range(7)
_Op = tuple[str, int, Any]
_Plan = tuple[tuple[str, ...], tuple[_Op, ...], tuple[_Op, ...]]


def _op(t: str, cls: type) -> tuple[int, Any] | None:
    """What a value of class ``cls`` needs to be a valid ``t``: None (nothing: its class decides), or an
    (op, argument) to run on it."""
    nullable, base = t.endswith("?"), t.rstrip("?")
    fail = (_FAIL, None)
    if cls is _NONE:
        return None if nullable and not base.startswith("[") else fail  # a null list is reported
    if base == "str" or base.startswith("ref:"):
        return None if cls is str else fail
    if base == "bool":
        return None if cls is bool else fail
    if base == "num":
        return None if cls is int or cls is float else fail
    if base == "time":
        return (_TIME, None) if cls is str else fail
    if base.startswith("enum:"):
        return (_ENUM, frozenset(base[5:].split("|"))) if cls is str else fail
    if base.startswith("["):
        if cls is not list:
            return fail
        inner = base[1:-1]
        if inner == "str" or inner.startswith("ref:"):
            return _STRS, None
        if inner.startswith("obj:"):
            return _OBJS, _OBJ_SHAPES[inner[4:]]
        raise ValueError(t)  # pragma: no cover
    if base.startswith("obj:"):
        return (_OBJ, _OBJ_SHAPES[base[4:]]) if cls is dict else fail
    raise ValueError(t)  # pragma: no cover


class _Shapes:
    """The checks a dict of one scope (a kind, an item of a list of structures) needs, by its shape: its
    keys and the classes of its values. A shape seen before costs one tuple and one lookup, and only the
    values whose class does not decide their validity (times, enumerations, lists, objects) are looked at."""

    def __init__(self, types: dict[str, str], reserved: bool) -> None:
        self.types, self.reserved = types, reserved
        self.cache: dict[tuple[Any, ...], _Plan] = {}

    def compile(self, d: dict[str, Any], sig: tuple[Any, ...]) -> _Plan:
        """The plan of ``d``'s shape: the keys holding lists of strings (checked in one pass), the other
        (key, op, argument) to run, and every (key, op, argument) in ``d``'s order (to say what fails)."""
        out: list[_Op] = []
        for k, v in d.items():
            cls = v.__class__
            t = self.types.get(k)
            if t is not None:
                op = _op(t, cls)
                if op is not None:
                    out.append((k, *op))
            elif self.reserved:
                if k == "aliases":
                    out.append((k, _STRS if cls is list else _FAIL, None))
                elif k == "_unknown" or k == "_partial":
                    out.append((k, _STRVALS if cls is dict else _FAIL, None))
                elif k == "_sources" and cls is not list:
                    out.append((k, _FAIL, None))
            elif k == "_unknown" and cls is not dict:
                out.append((k, _FAIL, None))
        strs = tuple(k for k, op, _ in out if op == _STRS)
        plan = (strs, tuple(x for x in out if x[1] != _STRS), tuple(out))
        if len(self.cache) >= 4096:  # shapes repeat; ever new shapes keep the cache bounded
            self.cache.clear()
        self.cache[sig] = plan
        return plan


def _ok(op: int, arg: Any, v: Any) -> bool:
    """Whether ``v`` passes ``op`` (see :func:`_op`); False sends it to the slow path."""
    if op == _TIME:
        return _TIME_OK(v) is not None
    if op == _ENUM:
        return v in arg
    if op == _STRS:
        return not v or set(map(type, v)) <= _STR_ONLY
    if op == _OBJS:
        return _objs_ok(arg, v)
    if op == _OBJ:
        return _obj_ok(arg, v)
    if op == _STRVALS:
        return not v or set(map(type, v.values())) <= _STR_ONLY
    return False


def _obj_ok(shapes: _Shapes, d: dict[str, Any]) -> bool:
    sig = (*d, *map(type, d.values()))
    plan = shapes.cache.get(sig)
    if plan is None:
        plan = shapes.compile(d, sig)
    return all(_ok(op, arg, d[k]) for k, op, arg in plan[2])


def _objs_ok(shapes: _Shapes, items: list[Any]) -> bool:
    """:func:`_obj_ok` of every item of a list (inline: lists of copies are the bulk of a snapshot)."""
    cache_get = shapes.cache.get
    for d in items:
        if d.__class__ is not dict:
            return False
        sig = (*d, *map(type, d.values()))
        plan = cache_get(sig)
        if plan is None:
            plan = shapes.compile(d, sig)
        for k, op, arg in plan[2]:
            if not _ok(op, arg, d[k]):
                return False
    return True


_OBJ_SHAPES = {name: _Shapes(fields, reserved=False) for name, fields in OBJECTS.items()}
_KIND_SHAPES = {kind: _Shapes(attrs, reserved=True) for kind, attrs in KINDS_MODEL.items()}


def _reserved_problem(k: str) -> str:
    return ("must be a list of names (strings)" if k == "aliases" else
            "must be an object {attribute: reason}" if k in ("_unknown", "_partial") else
            "must be a list of source names")


def check_entities(entities: Any, prefix: tuple[Any, ...] = ("entities",),
                   limit: int = MAX_PROBLEMS) -> list[JPathProblem]:
    """Problems ``[(json_path, message)]`` of an ``entities`` mapping against the model: types, enums,
    times with an offset, references that are names, reserved keys, duplicate ids within a kind.
    Fast: an entity of a shape seen before (its keys and its values' classes) costs one lookup plus a
    check of each value its class does not decide; paths and messages are built only for what fails."""
    c = _Checker(limit)
    if not isinstance(entities, dict):
        c.add(prefix, "must be an object {kind: [entity, ...]}")
        return c.problems
    from policycheck.conditions import KINDS

    for kind, ents in entities.items():
        jp = prefix + (kind,)
        if kind not in KINDS_MODEL and kind not in KINDS:
            m = difflib.get_close_matches(str(kind), list(KINDS_MODEL), n=1, cutoff=0.6)
            if m:  # a near-miss of a documented kind is a typo; other kinds are a plugin's own
                c.add(jp + ("<key>",), f"unknown entity kind '{kind}' (did you mean '{m[0]}'?)")
                continue
        if ents.__class__ is not list:
            c.add(jp, f"is {_typename(ents)}; expected a list of entities")
            continue
        model = KINDS_MODEL.get(kind, {})
        shapes = _KIND_SHAPES.get(kind) or _Shapes({}, reserved=True)
        cache_get, compile_plan = shapes.cache.get, shapes.compile
        seen: set[str] = set()
        seen_add = seen.add
        for i, e in enumerate(ents):
            if e.__class__ is not dict:
                c.add(jp + (i,), f"is {_typename(e)}; expected an entity (an object with an id)")
                continue
            eid = e.get("id")
            if eid.__class__ is not str or not eid:
                c.add(jp + (i, "id") if "id" in e else jp + (i,), "needs a non-empty string 'id'")
                continue
            if eid in seen:
                first = next(j for j, x in enumerate(ents) if x.__class__ is dict and x.get("id") == eid)
                c.add(jp + (i, "id"), f"duplicate {kind} id '{eid}' (also at index {first}): the verdict would "
                                      "depend on the order of entries; merge them or give them distinct ids")
            else:
                seen_add(eid)
            sig = (*e, *map(type, e.values()))
            plan = cache_get(sig)
            if plan is None:
                plan = compile_plan(e, sig)
            strs, rest, ops = plan
            if strs and not set(map(type, chain.from_iterable(map(e.__getitem__, strs)))) <= _STR_ONLY:
                pass
            else:
                for k, op, arg in rest:
                    v = e[k]
                    if op == _TIME:
                        if _TIME_OK(v) is None:
                            break
                    elif op == _ENUM:
                        if v not in arg:
                            break
                    elif op == _OBJS:
                        if not _objs_ok(arg, v):
                            break
                    elif not _ok(op, arg, v):
                        break
                else:
                    continue  # the common case: nothing to say about this entity
            for k, op, arg in ops:  # something failed: say what, in the entity's order
                v = e[k]
                if _ok(op, arg, v):
                    continue
                t = model.get(k)
                if t is None:
                    c.add(jp + (i, k), _reserved_problem(k))
                    continue
                before = len(c.problems)
                c.value(v, t, jp + (i, k))
                if len(c.problems) == before:  # the slow path found nothing precise to say
                    c.add(jp + (i, k), f"is {_short(v)}; expected {_describe_type(t.rstrip('?'))}")
            if len(c.problems) >= limit:
                return c.problems
    return c.problems


def check_document(doc: Any, limit: int = MAX_PROBLEMS) -> list[JPathProblem]:
    """Problems of a whole facts document (snapshot): its envelope and its entities."""
    c = _Checker(limit)
    if not isinstance(doc, dict):
        return [((), "a facts snapshot must be a JSON object (write one with `policycheck collect -o FILE`)")]
    if doc.get("schema_version") != 1:
        c.add(("schema_version",), f"is {_short(doc.get('schema_version'))}; this policycheck reads schema_version 1")
    c.time(doc.get("collected_at"), ("collected_at",))
    srcs = doc.get("sources", [])
    if srcs.__class__ is not list:
        c.add(("sources",), "must be a list of sources")
    else:
        for i, s in enumerate(srcs):
            if s.__class__ is not dict or s.get("name").__class__ is not str:
                c.add(("sources", i), "must be an object with a string 'name'")
            elif s.get("status") not in ("ok", "error"):
                c.add(("sources", i, "status"), f"is {_short(s.get('status'))}; expected ok or error")
            elif s.get("kinds", []).__class__ is not list:
                c.add(("sources", i, "kinds"), "must be a list of entity kinds")
    for key in ("conflicts", "incomplete"):
        v = doc.get(key, [])
        if v.__class__ is not list or any(x.__class__ is not dict for x in v):
            c.add((key,), "must be a list of objects")
    problems = c.problems
    if "entities" not in doc:
        problems.append((("entities",), "is missing: a snapshot holds entities by kind"))
    else:
        problems += check_entities(doc["entities"], limit=limit - len(problems))
    return problems[:limit]


def format_path(jpath: Iterable[Any]) -> str:
    out = ""
    for p in jpath:
        if p == "<key>":
            continue
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + str(p))
    return out or "(document)"
