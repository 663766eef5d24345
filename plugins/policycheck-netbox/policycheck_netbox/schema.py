"""The netbox source's settings: JSON Schema, defaults, and the default mappings (roles, services, OS)."""
from __future__ import annotations

import copy

_name_or_null = {"type": ["string", "null"], "minLength": 1}
_filters = {
    "type": "object",
    "description": "extra NetBox filter query parameters for this list (e.g. site: dc1, status: active)",
    "additionalProperties": {"anyOf": [{"type": ["string", "integer", "boolean"]},
                                       {"type": "array", "items": {"type": ["string", "integer"]}}]},
}
_field_source = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "custom_field": {"anyOf": [_name_or_null, {"type": "array", "items": {"type": "string", "minLength": 1}}],
                         "description": "custom field name(s): text, (multi-)select, (multi-)object, or JSON "
                                        "list; several are united (object fields reference one type each)"},
        "tag_prefix": {**_name_or_null, "description": "tags whose name or slug start with this prefix; "
                       "the rest of the name is the value. Setting it makes tags authoritative."},
    },
}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "token"],
    "properties": {
        "url": {"type": "string", "pattern": "^https?://", "description": "NetBox base URL (without /api)"},
        "token": {"type": "string", "minLength": 1, "description": "API token: v2 'nbt_KEY.SECRET' or v1"},
        "token_version": {"enum": ["auto", "v1", "v2"], "default": "auto"},
        "verify_tls": {"type": "boolean", "default": True},
        "ca_bundle": {"type": "string", "minLength": 1},
        "retries": {"type": "integer", "minimum": 0, "maximum": 10, "default": 3},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 250},
        "include_devices": {"type": "boolean", "default": True},
        "include_virtual_machines": {"type": "boolean", "default": True},
        "device_filters": _filters,
        "vm_filters": _filters,
        "role_map": {"type": "object", "additionalProperties": _name_or_null,
                     "description": "NetBox device/VM role slug or name -> policycheck role (null drops it)"},
        "role_tag_prefix": _name_or_null,
        "service_map": {"type": "object", "additionalProperties": _name_or_null,
                        "description": "IPAM service name, or 'PORT/PROTOCOL', -> policycheck service"},
        "os_map": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "platform slug or name -> os (linux, windows, solaris, aix, ...)"},
        "depends_on": _field_source,
        "bmr_methods": _field_source,
        "independent_recovery": {"type": "object", "additionalProperties": False,
                                 "properties": {"custom_field": _name_or_null}},
        "backup_exemption": {
            "type": "object", "additionalProperties": False,
            "description": "where NetBox records that a device/VM needs no backup (COV-001)",
            "properties": {
                "reason_custom_field": {**_name_or_null, "description": "text custom field whose non-empty "
                                        "value exempts the object, and is the reason (default "
                                        "backup_exempt_reason; null: not read)"},
                "owner_custom_field": {**_name_or_null, "description": "text, selection, user or contact "
                                       "custom field naming who decided (default backup_owner)"},
                "tag": {**_name_or_null, "description": "tag slug or name marking an exemption (default "
                        "backup-exempt); without a reason it is reported, not honoured"},
            },
        },
        "complete": {
            "type": "array", "uniqueItems": True,
            "items": {"enum": ["roles", "services", "depends_on", "bmr_methods"]},
            "description": "host list attributes this NetBox records completely at your site (default: none; "
                           "the others are reported as partial: NetBox holds what the site recorded)",
        },
        "backup_server": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "roles": {"type": "array", "items": {"type": "string"},
                          "description": "policycheck roles that make a host a backup server"},
                "tag": _name_or_null,
                "product_custom_field": _name_or_null,
                "product": _name_or_null,
            },
        },
    },
}

# NetBox role slugs (or names, lower-cased) -> policycheck roles. Anything else: the slug with '-' -> '_'.
DEFAULT_ROLE_MAP = {
    "backup": "backup_server", "backup-server": "backup_server", "networker-server": "backup_server",
    "bacula-director": "backup_server", "storage-node": "storage_node",
    "file-server": "file_server", "nfs-server": "file_server", "fileserver": "file_server",
    "vdi": "vdi_server", "vdi-server": "vdi_server", "sun-ray": "sunray_server", "sunray": "sunray_server",
    "sunray-server": "sunray_server", "terminal-server": "terminal_server", "rds": "terminal_server",
    "dns-server": "dns", "domain-controller": "directory", "ldap": "directory", "ldap-server": "directory",
    "directory-server": "directory", "license-server": "license_server", "licence-server": "license_server",
    "vcenter": "hypervisor_manager", "hypervisor-manager": "hypervisor_manager",
    "db": "database", "database-server": "database", "web": "web_server", "webserver": "web_server",
    "mail": "mail_server", "print": "print_server", "dhcp-server": "dhcp",
}

# IPAM service names (lower-cased) and 'PORT/PROTOCOL' -> policycheck services. Unknown names are kept,
# lower-cased with spaces as '_'.
DEFAULT_SERVICE_MAP = {
    "nfs": "nfs", "nfsd": "nfs", "nfs-server": "nfs", "mountd": "nfs",
    "smb": "smb", "cifs": "smb", "samba": "smb", "microsoft-ds": "smb", "netbios-ssn": "smb",
    "dns": "dns", "domain": "dns", "bind": "dns", "named": "dns",
    "ldap": "ldap", "ldaps": "ldap", "active directory": "ldap", "global catalog": "ldap",
    "kerberos": "kerberos", "kdc": "kerberos", "kpasswd": "kerberos",
    "rdp": "rdp", "ms-wbt-server": "rdp", "remote desktop": "rdp", "terminal services": "rdp",
    "sunray": "sunray", "sun ray": "sunray", "sun-ray": "sunray", "srss": "sunray",
    "vdi": "vdi", "http": "http", "https": "http", "www": "http",
    "networker": "backup", "nsrexecd": "backup", "bacula": "backup", "bacula-dir": "backup",
    "bacula-sd": "backup", "bacula-fd": "backup",
    "2049/tcp": "nfs", "2049/udp": "nfs", "445/tcp": "smb", "139/tcp": "smb",
    "53/tcp": "dns", "53/udp": "dns", "389/tcp": "ldap", "636/tcp": "ldap", "3268/tcp": "ldap",
    "3269/tcp": "ldap", "88/tcp": "kerberos", "88/udp": "kerberos", "3389/tcp": "rdp",
    "7007/tcp": "sunray", "7009/udp": "sunray", "7010/tcp": "sunray",
    "80/tcp": "http", "443/tcp": "http", "7937/tcp": "backup", "7938/tcp": "backup",
    "9101/tcp": "backup", "9102/tcp": "backup", "9103/tcp": "backup",
}

# Substrings of a platform's slug or name (lower-cased), tried in order -> os.
DEFAULT_OS_RULES = (
    ("esxi", "esxi"), ("vmware", "esxi"), ("windows", "windows"), ("win", "windows"),
    ("solaris", "solaris"), ("sunos", "solaris"), ("aix", "aix"), ("hp-ux", "hpux"), ("hpux", "hpux"),
    ("macos", "macos"), ("os-x", "macos"), ("darwin", "macos"),
    ("linux", "linux"), ("rhel", "linux"), ("red-hat", "linux"), ("redhat", "linux"),
    ("centos", "linux"), ("rocky", "linux"), ("alma", "linux"), ("oracle-linux", "linux"),
    ("debian", "linux"), ("ubuntu", "linux"), ("sles", "linux"), ("suse", "linux"), ("fedora", "linux"),
)

DEFAULTS = {
    "token_version": "auto", "verify_tls": True, "retries": 3, "page_size": 250,
    "include_devices": True, "include_virtual_machines": True,
    "device_filters": {}, "vm_filters": {}, "complete": [],
    "role_map": {}, "role_tag_prefix": "role:", "service_map": {}, "os_map": {},
    "depends_on": {"custom_field": "depends_on", "tag_prefix": None},
    "bmr_methods": {"custom_field": "bmr_methods", "tag_prefix": None},
    "independent_recovery": {"custom_field": "independent_recovery"},
    "backup_server": {"roles": ["backup_server"], "tag": None, "product_custom_field": "backup_product",
                      "product": None},
    "backup_exemption": {"reason_custom_field": "backup_exempt_reason", "owner_custom_field": "backup_owner",
                         "tag": "backup-exempt"},
}


def effective(settings: dict) -> dict:
    """Settings with defaults filled in (nested dicts merged one level deep)."""
    out = copy.deepcopy(DEFAULTS)
    for k, v in settings.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in ("device_filters", "vm_filters"):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    out["role_map"] = {**DEFAULT_ROLE_MAP, **{k.lower(): v for k, v in out["role_map"].items()}}
    out["service_map"] = {**DEFAULT_SERVICE_MAP, **{k.lower(): v for k, v in out["service_map"].items()}}
    out["os_map"] = {k.lower(): v for k, v in out["os_map"].items()}
    return out
