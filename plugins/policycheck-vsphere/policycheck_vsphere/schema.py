"""The vsphere source's configuration schema (JSON Schema 2020-12)."""

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["host", "username", "password"],
    "properties": {
        "host": {"type": "string", "minLength": 1, "description": "vCenter (or ESXi) address"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 443},
        "username": {"type": "string", "minLength": 1},
        "password": {"type": "string", "description": "from ${ENV} or password_file"},
        "verify_tls": {"type": "boolean", "default": True},
        "ca_bundle": {"type": "string", "description": "PEM file of the CA(s) that signed vCenter's certificate"},
        "datacenter": {"type": "string", "description": "only read this datacenter"},
        "cluster": {"type": "string", "description": "only read this cluster (its hosts, their VMs and datastores)"},
        "backup_exempt_attribute": {
            "type": "string", "minLength": 1,
            "description": "a VM custom attribute whose non-empty value exempts the machine from needing a "
                           "backup (host backup: {exempt: true, reason: <value>, owner: null})",
        },
        "vm_aliases": {
            "type": "object",
            "description": "declared extra names per VM name, used to join a machine to its VM",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}
