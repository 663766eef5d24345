"""Device locality: whether a device is on the backup server's host or on its system disk, and which
of a server's devices take client data locally."""
from __future__ import annotations

from typing import Any

from policycheck.derivations.base import Entity, derived, has, kind_inputs, same_host, unknown, why_unknown
from policycheck.facts import Facts


def devices(facts: Facts) -> None:
    """device.local_to_server, device.on_system_disk, backup_server.client_devices_local."""
    per_server: dict[str, list[Entity]] = {}
    for d in facts.entities("device"):
        s = facts.get("backup_server", d.get("backup_server")) if d.get("backup_server") else None
        if s is not None:
            per_server.setdefault(s["id"], []).append(d)
        if not has(d, "local_to_server"):
            if s is not None and "host" in d and s.get("host"):
                derived(d, "local_to_server", same_host(facts, d["host"], s["host"]), (d, "host"), (s, "host"))
            elif s is not None and s.get("host"):
                unknown(d, "local_to_server", f"device {d['id']}: " + why_unknown(d, "host", "its host is unknown"))
            elif s is not None:
                unknown(d, "local_to_server", f"device {d['id']}: the host of backup server {s['id']} is unknown")
            else:
                unknown(d, "local_to_server", f"device {d['id']}: " + why_unknown(
                    d, "backup_server", f"its backup server {d.get('backup_server')!r} is not described"))
        if not has(d, "on_system_disk") and s is not None:
            vm = facts.get("vm", s.get("vm")) if s.get("vm") else None
            if d.get("vm_disk") is None and "vm_disk" in d:
                derived(d, "on_system_disk", False, (d, "vm_disk"))
            elif vm is not None and d.get("vm_disk"):
                disk = next((x for x in vm.get("disks") or () if x.get("label") == d["vm_disk"]), None)
                if disk is not None and "system" in disk:
                    derived(d, "on_system_disk", bool(disk["system"]), (d, "vm_disk"), (vm, "disks"))
    provided, failed = facts.kind_state("device")
    for s in facts.entities("backup_server"):
        if has(s, "client_devices_local"):
            continue
        devs = per_server.get(s["id"], [])
        inc = facts.incomplete("device", s["id"])
        if failed or inc or (not devs and not provided):
            unknown(s, "client_devices_local", failed or inc or "no source describes its devices")
            continue
        local: list[Any] = []
        for d in devs:
            if d.get("enabled") is False:
                continue
            if d.get("local_to_server") is None or d.get("client_data") is None:
                if d.get("client_data") is False:
                    continue
                unknown(s, "client_devices_local", f"device {d['id']}: locality or use is unknown")
                break
            if d["local_to_server"] and d["client_data"]:
                local.append(d["id"])
        else:  # no break: no device left its locality or use unknown
            inputs = tuple((d, "local_to_server") for d in devs) or kind_inputs(facts, "device")
            derived(s, "client_devices_local", local, *inputs)
