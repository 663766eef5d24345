"""The documented facts model as data: for each entity kind (and each structured list item, such as a
bootstrap copy) the attributes docs/facts.md lists, which of them are references and to which kind,
and which are derived. ``policies validate`` checks every fact path of a policy against it, so a typo
(`prodcut`) or a reference followed to the wrong kind is refused before a gate runs the policy.

tests/test_model.py keeps this registry and docs/facts.md's tables equal."""
from __future__ import annotations

from dataclasses import dataclass

from policycheck.conditions import COMBINATORS, QUANTIFIERS, suggest


@dataclass(frozen=True)
class Attr:
    ref: str | None = None      # the kind it refers to (a list of references has ``many``)
    items: str | None = None    # the scope of each item of a list of structures (copy, disk, ...)
    many: bool = False          # a list
    derived: bool = False
    loose: bool = False         # declared elsewhere (a plugin, a derivation): what lies below is not checked


def _a(spec: str) -> Attr:
    """``'ref host'``, ``'refs host'``, ``'items copy'``, ``'list'``, ``''`` (a scalar); ``+derived``."""
    derived = spec.endswith("+derived")
    words = spec.replace("+derived", "").split()
    if not words:
        return Attr(derived=derived)
    if words[0] == "ref":
        return Attr(ref=words[1], derived=derived)
    if words[0] == "refs":
        return Attr(ref=words[1], many=True, derived=derived)
    if words[0] == "items":
        return Attr(items=words[1], many=True, derived=derived)
    return Attr(many=True, derived=derived)


_SPEC = {
    "host": {"hostname": "", "fqdn": "", "addresses": "list", "os": "", "os_version": "", "platform": "",
             "roles": "list", "services": "list", "depends_on": "refs host", "bmr_methods": "list",
             "independent_recovery": "", "vm": "ref vm +derived"},
    "backup_server": {"host": "ref host", "product": "", "version": "", "virtual": "+derived",
                      "vm": "ref vm +derived", "latest_bootstrap": "ref bootstrap +derived",
                      "dependency_closure": "refs host +derived", "circular_dependencies": "refs host +derived",
                      "last_dr_test": "+derived", "client_devices_local": "refs device +derived",
                      "hosted_roles": "list +derived", "hosted_services": "list +derived"},
    "storage_node": {"host": "ref host", "backup_server": "ref backup_server"},
    "device": {"backup_server": "ref backup_server", "storage_node": "ref storage_node", "host": "ref host",
               "media_type": "", "enabled": "", "client_data": "", "vm_disk": "", "on_system_disk": "+derived",
               "local_to_server": "+derived"},
    "bootstrap": {"backup_server": "ref backup_server", "time": "", "level": "", "copies": "items copy"},
    "client": {"hostname": "", "host": "ref host +derived", "backup_server": "ref backup_server", "os": "",
               "last_filesystem_backup": "", "last_image_backup": "", "last_bmr_backup": ""},
    "vm": {"name": "", "guest_hostname": "", "power_state": "", "is_template": "", "template": "",
           "cluster": "ref cluster", "host": "ref hypervisor_host", "disks": "items disk",
           "passthrough_devices": "items passthrough_device", "host_rules": "items host_rule",
           "ha_disabled": "", "drs_disabled": "", "snapshots": "items snapshot",
           "eligible_hosts": "refs hypervisor_host +derived"},
    "hypervisor_host": {"name": "", "cluster": "ref cluster", "connection_state": "", "maintenance": "",
                        "vmotion_enabled": "", "datastores": "refs datastore"},
    "cluster": {"name": "", "hosts": "refs hypervisor_host", "ha_enabled": "", "drs_enabled": "",
                "drs_automation": ""},
    "datastore": {"name": "", "type": "", "hosts": "refs hypervisor_host", "shared": "+derived"},
    "dr_test": {"host": "ref host", "time": "", "result": "", "kind": ""},
    # structured list items (not entities): what a quantifier ranges over
    "copy": {"device": "ref device", "volume": "", "clone": "", "location": "", "location_host": "",
             "offsite": "", "local_to_server": "+derived"},
    "disk": {"label": "", "datastore": "ref datastore", "system": "", "size_gb": "", "shared": "+derived"},
    "passthrough_device": {"type": "", "name": ""},
    "host_rule": {"name": "", "mandatory": "", "hosts": "refs hypervisor_host", "enabled": ""},
    "snapshot": {"name": "", "time": ""},
}
MODEL: dict = {scope: {name: _a(spec) for name, spec in attrs.items()} for scope, attrs in _SPEC.items()}
ITEM_SCOPES = {"copy": "bootstrap.copies", "disk": "vm.disks", "passthrough_device": "vm.passthrough_devices",
               "host_rule": "vm.host_rules", "snapshot": "vm.snapshots"}
RESERVED = {"id": Attr(), "aliases": Attr(many=True), "_sources": Attr(many=True), "_observed_at": Attr(),
            "_unknown": Attr(loose=True), "_attr_sources": Attr(loose=True)}
# The plugins of this repository: their attributes (networker_resource_id, ...) are accepted even
# where the plugin is not installed (a pre-commit environment, a CI job that only validates).
KNOWN_PLUGINS = ("ansible", "bacula", "netbox", "networker", "vsphere", "file")


def attributes(scope: str, extra: dict | None = None) -> dict:
    """The attributes of ``scope``: documented, derived by the core (derive.DERIVED_FROM), and
    declared by plugins in ``extra`` ({kind: [name, ...]})."""
    out = dict(MODEL.get(scope, {}))
    if scope in MODEL and scope not in ITEM_SCOPES:
        out.update(RESERVED)
    try:
        from policycheck.derive import DERIVED_FROM
    except ImportError:  # pragma: no cover
        DERIVED_FROM = {}
    for (kind, name) in DERIVED_FROM:
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

    def __init__(self, prefixes=(), extra: dict | None = None):
        self.prefixes = tuple(sorted(set(KNOWN_PLUGINS) | {p.replace("-", "_") for p in prefixes if p}))
        self.extra = extra or {}

    def check(self, policy) -> list[tuple[tuple, str]]:
        """Every problem as (JSON path in the policy document, message)."""
        out: list = []
        if policy.target not in MODEL:
            return out
        for key in ("when", "require"):
            node = getattr(policy, key)
            if node is not None:
                self._walk(node, (key,), policy.target, policy.target, out)
        return out

    def _walk(self, node, jpath, scope, target, out):
        if not isinstance(node, dict):
            return
        if "fact" in node:
            self._path(node["fact"], jpath + ("fact",), scope, target, out)
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

    def _path(self, text, jpath, scope, target, out, items=False):
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
            attr, _, kind = seg.partition("->")
            last = i == len(segs) - 1
            known = attributes(scope, self.extra)
            spec = known.get(attr)
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
