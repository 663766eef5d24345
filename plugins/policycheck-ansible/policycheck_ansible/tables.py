"""The tables the mapping reads (groups -> roles, variables, values): defaults, and a source's `mapping:` over them."""
from __future__ import annotations

from dataclasses import dataclass, field

from policycheck.kit.names import norm_label

# group name (case-insensitive, '-' read as '_') -> roles
DEFAULT_GROUP_ROLES: dict[str, list[str]] = {
    "backup_servers": ["backup_server"], "backup_server": ["backup_server"],
    "storage_nodes": ["storage_node"], "storage_node": ["storage_node"],
    "fileservers": ["file_server"], "file_servers": ["file_server"], "fileserver": ["file_server"],
    "file_server": ["file_server"], "nfs_servers": ["file_server"], "smb_servers": ["file_server"],
    "samba_servers": ["file_server"], "nas": ["file_server"],
    "vdi": ["vdi_server"], "vdi_servers": ["vdi_server"],
    "sunray": ["sunray_server"], "sunray_servers": ["sunray_server"],
    "terminal_servers": ["terminal_server"], "rds": ["terminal_server"],
    "dns": ["dns"], "dns_servers": ["dns"], "nameservers": ["dns"],
    "ldap": ["directory"], "ldap_servers": ["directory"], "directory": ["directory"],
    "ad": ["directory"], "domain_controllers": ["directory"], "ipa": ["directory"], "freeipa": ["directory"],
    "license_servers": ["license_server"], "license_server": ["license_server"],
    "licence_servers": ["license_server"],
    "vcenter": ["hypervisor_manager"], "vcenters": ["hypervisor_manager"],
    "hypervisor_managers": ["hypervisor_manager"],
    "databases": ["database"], "db_servers": ["database"],
    "webservers": ["web_server"], "web_servers": ["web_server"], "web": ["web_server"],
    "mail_servers": ["mail_server"], "print_servers": ["print_server"],
    "dhcp": ["dhcp"], "dhcp_servers": ["dhcp"],
}

# group -> services it proves the host serves (added to the services variable)
DEFAULT_GROUP_SERVICES: dict[str, list[str]] = {
    "nfs_servers": ["nfs"], "nfs": ["nfs"],
    "smb_servers": ["smb"], "samba_servers": ["smb"], "samba": ["smb"],
}

# fact attribute -> host variables read for it (first one defined wins)
DEFAULT_VARS: dict[str, list[str]] = {
    "fqdn": ["fqdn"],
    "addresses": ["addresses"],
    "os": ["os"],
    "os_version": ["os_version"],
    "platform": ["platform"],
    "roles": ["roles"],
    "services": ["services"],
    "depends_on": ["depends_on"],
    "bmr_methods": ["bmr_methods"],
    "independent_recovery": ["independent_recovery"],
    "dr_tests": ["dr_tests"],
    "backup_product": ["backup_product"],
    "backup_server": ["backup_server"],
    # the inventory's backup exemption: {exempt: true, reason: ..., owner: ...} (COV-001)
    "backup": ["backup"],
    # opt-in (no default): a variable holding the DNS domain that qualifies short inventory names
    "domain": [],
}

DEFAULT_PLATFORM_VALUES: dict[str, str] = {
    "physical": "physical", "bare_metal": "physical", "baremetal": "physical", "metal": "physical",
    "hardware": "physical", "server": "physical", "rack": "physical",
    "blade": "blade",
    "virtual": "virtual", "vm": "virtual", "virtual_machine": "virtual", "guest": "virtual",
    "vmware": "virtual", "kvm": "virtual", "qemu": "virtual", "hyperv": "virtual", "xen": "virtual",
    "ldom": "virtual", "lpar": "virtual", "zone": "virtual",
}

DEFAULT_OS_VALUES: dict[str, str] = {
    "linux": "linux", "redhat": "linux", "rhel": "linux", "centos": "linux", "rocky": "linux",
    "almalinux": "linux", "oraclelinux": "linux", "fedora": "linux", "debian": "linux", "ubuntu": "linux",
    "suse": "linux", "sles": "linux", "opensuse": "linux",
    "windows": "windows", "win32nt": "windows", "windows_server": "windows",
    "solaris": "solaris", "sunos": "solaris", "aix": "aix", "hpux": "hpux", "hp_ux": "hpux",
    "macos": "macos", "darwin": "macos", "osx": "macos", "esxi": "esxi", "vmkernel": "esxi",
    "other": "other",
}

DEFAULT_RESULT_VALUES: dict[str, str] = {
    "success": "success", "successful": "success", "succeeded": "success", "ok": "success",
    "pass": "success", "passed": "success",
    "failure": "failure", "failed": "failure", "fail": "failure", "error": "failure",
}


def _as_list(v) -> list[str]:
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


@dataclass
class Mapping:
    group_roles: dict[str, list[str]] = field(default_factory=dict)
    group_services: dict[str, list[str]] = field(default_factory=dict)
    value_roles: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    vars: dict[str, list[str]] = field(default_factory=dict)
    platform_values: dict[str, str] = field(default_factory=dict)
    os_values: dict[str, str] = field(default_factory=dict)
    export_vars: list[str] = field(default_factory=list)

    def roles_of_groups(self, groups) -> list[str]:
        out: list[str] = []
        for g in groups:
            out += self.group_roles.get(norm_label(g), [])
        return out

    def services_of_groups(self, groups) -> list[str]:
        out: list[str] = []
        for g in groups:
            out += self.group_services.get(norm_label(g), [])
        return out


def build(config: dict | None) -> Mapping:
    """Defaults overlaid with a source's ``mapping:`` block (``replace_defaults: true`` drops them)."""
    config = config or {}
    replace = bool(config.get("replace_defaults", False))

    def table(defaults, key):
        base = {} if replace else {k: list(v) for k, v in defaults.items()}
        for k, v in (config.get(key) or {}).items():
            base[norm_label(k)] = _as_list(v)
        return base

    vars_ = {k: list(v) for k, v in DEFAULT_VARS.items()}
    for k, v in (config.get("vars") or {}).items():
        vars_[k] = _as_list(v)
    platform_values = {} if replace else dict(DEFAULT_PLATFORM_VALUES)
    platform_values.update({norm_label(k): v for k, v in (config.get("platform_values") or {}).items()})
    os_values = {} if replace else dict(DEFAULT_OS_VALUES)
    os_values.update({norm_label(k): v for k, v in (config.get("os_values") or {}).items()})
    value_roles = {var: {norm_label(val): _as_list(roles) for val, roles in table_.items()}
                   for var, table_ in (config.get("value_roles") or {}).items()}
    return Mapping(
        group_roles=table(DEFAULT_GROUP_ROLES, "group_roles"),
        group_services=table(DEFAULT_GROUP_SERVICES, "group_services"),
        value_roles=value_roles,
        vars=vars_,
        platform_values=platform_values,
        os_values=os_values,
        export_vars=list(config.get("export_vars") or []),
    )


MAPPING_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "replace_defaults": {"type": "boolean"},
        "group_roles": {"type": "object", "additionalProperties": {"$ref": "#/$defs/names"}},
        "group_services": {"type": "object", "additionalProperties": {"$ref": "#/$defs/names"}},
        "value_roles": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": {"$ref": "#/$defs/names"}}},
        "vars": {"type": "object", "additionalProperties": {"$ref": "#/$defs/names"},
                 "propertyNames": {"enum": sorted(DEFAULT_VARS)}},
        "platform_values": {"type": "object",
                            "additionalProperties": {"enum": ["physical", "blade", "virtual"]}},
        "os_values": {"type": "object", "additionalProperties": {"type": "string"}},
        "export_vars": {"type": "array", "items": {"type": "string"}},
    },
}
