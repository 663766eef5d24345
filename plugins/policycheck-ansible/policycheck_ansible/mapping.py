"""Pure mapping of parsed inventory hosts to facts: host, backup_server, storage_node and dr_test entities."""
from __future__ import annotations

from collections.abc import Iterable

from policycheck.api import CollectorError
from policycheck.kit.names import norm_host, norm_label, short_name

from .parse import InventoryHost
from .tables import DEFAULT_RESULT_VALUES, Mapping
from .values import Unreadable, as_bool, as_str_list, as_time, is_ip, lookup, missing

LIST_ATTRS = ("roles", "services", "depends_on", "bmr_methods")
PARTIAL_REASON = ("the Ansible inventory holds the {attr} the site recorded (groups and variables), not "
                  "necessarily all; list {attr} under the source's complete: setting if your inventory "
                  "records every one")


def host_id(h: InventoryHost, mapping: Mapping) -> tuple[str, str | None]:
    """(id, fqdn or None): the lower-case FQDN where the inventory knows it, else the inventory name."""
    fqdn = None
    try:
        _, value = lookup(h.vars, mapping.vars["fqdn"])
        if isinstance(value, str) and "." in value and not is_ip(value):
            fqdn = norm_host(value)
    except Unreadable:
        pass
    if fqdn is None and "." in h.name and not is_ip(h.name):
        fqdn = norm_host(h.name)
    if fqdn is None and not is_ip(h.name) and mapping.vars.get("domain"):
        try:
            _, domain = lookup(h.vars, mapping.vars["domain"])
            if isinstance(domain, str) and domain.strip(". ") and " " not in domain.strip():
                fqdn = f"{norm_host(h.name)}.{norm_host(domain.strip('. '))}"
        except Unreadable:
            pass
    if fqdn is None:
        ah = h.vars.get("ansible_host")
        if (isinstance(ah, str) and "." in ah and not is_ip(ah)
                and short_name(ah) == norm_host(h.name) and "{{" not in ah):
            fqdn = norm_host(ah)
    return (fqdn or norm_host(h.name)), fqdn


def fragment(hosts: list[InventoryHost], tables: Mapping, complete: Iterable[str] = ()) -> dict:
    """The facts fragment of the parsed hosts: one host each, plus the backup servers, storage nodes and
    DR tests their variables describe. Two hosts resolving to one id raise CollectorError (never merged)."""
    ids: dict[str, str] = {}
    owner: dict[str, str] = {}
    for h in hosts:
        hid, _ = host_id(h, tables)
        other = owner.setdefault(hid, h.name)
        if other != h.name:
            raise CollectorError(
                f"inventory hosts {other!r} and {h.name!r} both resolve to host id {hid!r} (same fqdn); "
                "remove the duplicate from the inventory or fix its fqdn variable")
        ids[h.name] = hid
    mapper = HostMapper(tables, ids, complete)
    entities: dict[str, list] = {"host": [], "backup_server": [], "storage_node": [], "dr_test": []}
    for h in hosts:
        ent, extra = mapper.host(h)
        entities["host"].append(ent)
        for kind, e in extra:
            entities[kind].append(e)
    return {"entities": {k: v for k, v in entities.items() if v or k == "host"}}


class HostMapper:
    """Builds the entities of one host; ``ids`` maps inventory names to host ids for references."""

    def __init__(self, mapping: Mapping, ids: dict[str, str], complete=()):
        self.m = mapping
        self.complete = set(complete)
        self.ids = ids
        self.ids_lower = {k.lower(): v for k, v in ids.items()}

    def ref(self, name: str) -> str:
        return self.ids.get(name) or self.ids_lower.get(name.lower()) or name

    def _get(self, h, attr):
        return lookup(h.vars, self.m.vars.get(attr, []))

    def host(self, h: InventoryHost) -> tuple[dict, list[dict]]:
        hid, fqdn = host_id(h, self.m)
        ent: dict = {"id": hid, "hostname": h.name}
        unknown: dict[str, str] = {}
        if fqdn:
            ent["fqdn"] = fqdn
        aliases = [h.name, short_name(h.name)]
        if fqdn:
            aliases += [fqdn, short_name(fqdn)]
        addresses: list[str] | None = None

        # ansible_host: connection address, an alias and (if an IP) an address
        try:
            _, ah = lookup(h.vars, ["ansible_host"])
            if isinstance(ah, str) and ah.strip():
                aliases.append(ah.strip())
                if is_ip(ah.strip()):
                    addresses = [ah.strip()]
            elif not missing(ah) and ah is not None:
                unknown["ansible_host"] = f"ansible variable ansible_host should be a host name or address, got {type(ah).__name__}"
        except Unreadable as exc:
            unknown["ansible_host"] = str(exc)

        def attr(name, convert):
            try:
                var, value = self._get(h, name)
            except Unreadable as exc:
                unknown[name] = str(exc)
                return None, False
            if missing(value):
                return None, False
            try:
                return convert(var, value), True
            except Unreadable as exc:
                unknown[name] = str(exc)
                return None, False

        try:
            var, value = self._get(h, "fqdn")
            if not missing(value) and value is not None and (not isinstance(value, str) or not value.strip()):
                unknown["fqdn"] = f"ansible variable {var} should be a host name, got {type(value).__name__}"
        except Unreadable as exc:
            unknown["fqdn"] = str(exc)

        addr, ok = attr("addresses", as_str_list)
        if ok:
            addresses = (addresses or []) + [a for a in addr if a not in (addresses or [])]
        if addresses is not None:
            ent["addresses"] = addresses
            aliases += addresses

        os_, ok = attr("os", lambda var, v: self._enum(var, v, self.m.os_values, "os_values"))
        if ok:
            ent["os"] = os_
        osv, ok = attr("os_version", lambda var, v: str(v) if isinstance(v, (str, int, float)) and not isinstance(v, bool)
                       else _bad(var, "a version string"))
        if ok:
            ent["os_version"] = osv
        plat, ok = attr("platform", lambda var, v: self._enum(var, v, self.m.platform_values,
                                                             "platform_values"))
        if ok:
            ent["platform"] = plat

        roles, certain_roles = self._roles(h, unknown)
        if roles is not None:
            ent["roles"] = roles

        services, ok = attr("services", lambda var, v: [s.lower() for s in as_str_list(var, v)])
        if "services" not in unknown:
            group_services = self.m.services_of_groups(h.groups)
            if ok or group_services:
                ent["services"] = _uniq((services or []) + group_services)

        deps, ok = attr("depends_on", as_str_list)
        if ok:
            ent["depends_on"] = _uniq([self.ref(d) for d in deps])
        bmr, ok = attr("bmr_methods", lambda var, v: [norm_label(s) for s in as_str_list(var, v)])
        if ok:
            ent["bmr_methods"] = _uniq(bmr)
        ind, ok = attr("independent_recovery", as_bool)
        if ok:
            ent["independent_recovery"] = ind

        exemption, ok = attr("backup", lambda var, v: exemption_of(h.name, var, v))
        if ok:
            ent["backup"] = exemption

        ent["aliases"] = _uniq(aliases)
        ent["ansible_groups"] = list(h.groups)
        ent["tags"] = list(h.groups)  # every group it is in (ancestors included), less all/ungrouped
        exported = {}
        for var in self.m.export_vars:
            try:
                _, value = lookup(h.vars, [var])
            except Unreadable as exc:
                unknown[f"ansible_vars.{var}"] = str(exc)
                continue
            if not missing(value):
                exported[var] = value
        if self.m.export_vars:
            ent["ansible_vars"] = exported

        extra: list[tuple[str, dict]] = []
        dr_tests, ok = attr("dr_tests", self._dr_tests)
        if ok:
            for t in dr_tests:
                t = dict(t, host=hid)
                t["id"] = f"{hid}/dr_test/{t['time']}/{t.get('kind', 'unspecified')}"
                extra.append(("dr_test", t))

        role_set = set(certain_roles)  # a group still makes a backup server when a role variable is bad
        if "backup_server" in role_set:
            bs = {"id": hid, "host": hid, "aliases": list(ent["aliases"])}
            product, ok = attr("backup_product", lambda var, v: v.strip().lower() if isinstance(v, str) and v.strip()
                               else _bad(var, "a product name"))
            if ok:
                bs["product"] = product
            if "dr_tests" in unknown:
                bs["_unknown"] = {"last_dr_test": unknown["dr_tests"]}
            extra.append(("backup_server", bs))
        if "storage_node" in role_set:
            sn = {"id": hid, "host": hid, "aliases": list(ent["aliases"])}
            server, ok = attr("backup_server", lambda var, v: str(v).strip() if isinstance(v, str)
                              else _bad(var, "a host name"))
            if ok:
                sn["backup_server"] = self.ref(server)
            extra.append(("storage_node", sn))
        for attr in LIST_ATTRS:
            if attr in ent and attr not in self.complete and attr not in unknown:
                ent.setdefault("_partial", {})[attr] = PARTIAL_REASON.format(attr=attr)
        if unknown:
            ent["_unknown"] = unknown
        return ent, extra

    def _enum(self, var, value, table, table_name):
        if not isinstance(value, str):
            _bad(var, f"a string, got {type(value).__name__}")
        got = table.get(norm_label(value))
        if got is None:
            accepted = ", ".join(sorted(table)) or "(none: the table is empty)"
            raise Unreadable(f"ansible variable {var}: value {value[:60]!r} is not recognised; accepted: "
                             f"{accepted} (add it to mapping.{table_name})")
        return got

    def _roles(self, h: InventoryHost, unknown: dict) -> tuple[list[str] | None, list[str]]:
        """(roles or None when a role variable is unreadable, the roles known for certain)."""
        roles = self.m.roles_of_groups(h.groups)
        certain = _uniq(roles)
        try:
            var, value = self._get(h, "roles")
            if not missing(value):
                roles += [norm_label(r) for r in as_str_list(var, value)]
                certain = _uniq(roles)
            for var, table in self.m.value_roles.items():
                _, value = lookup(h.vars, [var])
                if missing(value):
                    continue
                for v in as_str_list(var, value, one_value_may_have_spaces=True):
                    roles += table.get(norm_label(v), [])
                certain = _uniq(roles)
        except Unreadable as exc:
            unknown["roles"] = str(exc)
            return None, certain
        return _uniq(roles), certain

    def _dr_tests(self, var, value) -> list[dict]:
        if value is None:
            return []
        if not isinstance(value, list):
            _bad(var, "a list of {time, result, kind}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict) or "time" not in item or "result" not in item:
                _bad(f"{var}[{i}]", "an object with time and result")
            result = DEFAULT_RESULT_VALUES.get(norm_label(str(item["result"])))
            if result is None:
                raise Unreadable(f"ansible variable {var}[{i}].result {str(item['result'])[:30]!r} is not "
                                 "success or failure")
            t = {"time": as_time(f"{var}[{i}].time", item["time"]), "result": result}
            if item.get("kind") is not None:
                t["kind"] = norm_label(str(item["kind"]))
            out.append(t)
        return out


EXEMPTION_KEYS = ("exempt", "reason", "owner")


def exemption_of(host: str, var: str, value: object) -> dict | None:
    """The host's backup exemption from ``{exempt: true, reason: ..., owner: ...}`` (``exempt`` may be left
    out: the variable declares the exemption). None (no exemption) for null; Unreadable, naming the host
    and the variable, for any other shape or an exemption without a reason: never a silent exemption."""
    where = f"host {host}: ansible variable {var}"
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Unreadable(f"{where} should be {{exempt: true, reason: ..., owner: ...}}, got "
                         f"{type(value).__name__}")
    extra = sorted(str(k) for k in value if k not in EXEMPTION_KEYS)
    if extra:
        raise Unreadable(f"{where} has key(s) {', '.join(extra)[:80]}; only exempt, reason and owner are read")
    exempt = value.get("exempt", True)
    if not isinstance(exempt, bool):
        raise Unreadable(f"{where}.exempt should be true or false, got {type(exempt).__name__}")
    reason, owner = value.get("reason"), value.get("owner")
    if reason is not None and not isinstance(reason, str):
        raise Unreadable(f"{where}.reason should be text, got {type(reason).__name__}")
    if owner is not None and not isinstance(owner, str):
        raise Unreadable(f"{where}.owner should be text, got {type(owner).__name__}")
    reason = reason.strip() if reason else None
    owner = owner.strip() if owner and owner.strip() else None
    if exempt and not reason:
        raise Unreadable(f"{where} exempts the host from backup without a reason; an exemption needs one "
                         "(reason: why this machine needs no backup)")
    return {"exempt": exempt, "reason": reason, "owner": owner}


def _bad(var, expected):
    raise Unreadable(f"ansible variable {var} should be {expected}")


def _uniq(items):
    out = []
    for i in items:
        if i not in out:
            out.append(i)
    return out
