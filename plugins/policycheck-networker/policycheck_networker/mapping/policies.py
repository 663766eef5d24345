"""Protection policies into evidence: the server backup (bootstrap) action and client backup destinations.

What is enabled: NetWorker runs an action when the action is ``enabled`` and its workflow is ``enabled``
(Dell's swagger: PolicyWorkflow.enabled "specifies if the workflow is enabled", PolicyAction.enabled
"indicates whether the action is enabled"). A protection policy itself has no on/off switch.
``policyProtectionEnable`` is not one: in the swagger it pairs with ``policyProtectionPeriod`` (a period
such as "1 Days") and working policies carry ``false`` with an empty period (the swagger's P5vProxy
example runs an enabled vProxy backup; Apache CloudStack's captured CSBRONZE carries ``true`` with
"1 Days"): it switches on the policy's protection period, not the policy. It is kept as evidence
(``protection_period``), never read as "disabled". ``autoStartEnabled`` says whether the workflow starts
on its own schedule; a workflow that does not (started by hand or by a script) still writes where its
actions say, so it is kept as evidence and does not disable anything.
"""
from __future__ import annotations

from policycheck_networker.mapping.infra import Devices, Server, show

BOOT, TO_SERVER = "networker_bootstrap_actions", "networker_client_actions_to_server"


def actions(policies: list):
    """Yield (policy, workflow, action) for every action; raise ValueError naming an element that is not
    shaped like one (the evidence is then unknown, not built from the rest)."""
    for i, pol in enumerate(policies or []):
        if not isinstance(pol, dict) or not isinstance(pol.get("workflows") or [], list):
            raise ValueError(f"protection policy #{i} {show(pol if not isinstance(pol, dict) else pol.get('name'))}"
                             " is not a policy with a workflows list")
        for wf in pol.get("workflows") or []:
            if not isinstance(wf, dict) or not isinstance(wf.get("actions") or [], list):
                raise ValueError(f"policy {show(pol.get('name'))} has a malformed workflow {show(wf)}")
            for act in wf.get("actions") or []:
                if not isinstance(act, dict) or not isinstance(act.get("actionSpecificData") or {}, dict):
                    raise ValueError(f"policy {show(pol.get('name'))} workflow {show(wf.get('name'))} has a "
                                     f"malformed action {show(act)}")
                yield pol, wf, act


def enabled(wf: dict, act: dict) -> bool:
    """Whether NetWorker runs this action: the action and its workflow are enabled (absent means enabled,
    as in NetWorker's defaults); the policy's policyProtectionEnable is not an on/off switch."""
    return act.get("enabled", True) is not False and wf.get("enabled", True) is not False


def evidence(server: Server, policies: list, pools: list, where: str = "protectionpolicies") -> tuple[dict, dict]:
    """(backup_server attributes prefixed networker_, {attribute: reason} for those that are unknown)."""
    pool_devices = {p.get("name"): list(p.get("devices") or []) for p in pools or []
                    if isinstance(p, dict) and isinstance(p.get("name"), str)}
    boot, to_server, periods = [], [], {}
    try:
        for pol, wf, act in actions(policies):
            data = act.get("actionSpecificData") or {}
            name = f"{pol.get('name')}/{wf.get('name')}/{act.get('name')}"
            on = enabled(wf, act)
            if pol.get("policyProtectionEnable") is True:
                periods[str(pol.get("name"))] = pol.get("policyProtectionPeriod")
            if "serverBackup" in data:
                sb = data["serverBackup"] or {}
                boot.append({"action": name, "enabled": on,
                             "action_enabled": act.get("enabled", True) is not False,
                             "workflow_enabled": wf.get("enabled", True) is not False,
                             "auto_start": wf.get("autoStartEnabled"),
                             "destination_pool": sb.get("destinationPool"),
                             "destination_storage_node": sb.get("destinationStorageNode"),
                             "pool_devices": pool_devices.get(sb.get("destinationPool"), []),
                             "perform_bootstrap": sb.get("performBootstrap", True)})
            elif "backup" in data and on:
                nodes = (data["backup"] or {}).get("destinationStorageNodes") or []
                if any(server.owns(n) for n in nodes if isinstance(n, str)):
                    to_server.append(name)
    except (ValueError, AttributeError, TypeError) as exc:
        reason = f"GET {where}: {exc}"
        return {}, {BOOT: reason, TO_SERVER: reason}
    out = {BOOT: boot, TO_SERVER: to_server}
    if periods:
        out["networker_protection_periods"] = periods
    return out, {}


# Where an action keeps its destination pool and its Data Domain retention lock switch (Dell's swagger,
# PolicyActionBackupTraditional / PolicyActionBackupVMwareVProxy / PolicyActionClone /
# PolicyActionServerBackup: ``destinationPool``, ``enableDDRetentionLock``).
def _writers(data: dict) -> list[dict]:
    """The parts of an action's data that write save sets to a pool (each with its own lock switch)."""
    out = []
    backup = data.get("backup")
    if isinstance(backup, dict):
        spec = backup.get("backupSpecificData")
        for part in (spec or {}).values() if isinstance(spec, dict) else ():
            if isinstance(part, dict):
                out.append(part)
    for key in ("clone", "serverBackup"):
        if isinstance(data.get(key), dict):
            out.append(data[key])
    return out


def retention_locks(devices: Devices, policies: list | None, pools: list | None, unknown: str | None,
                    where: str = "protectionpolicies", where_devices: str = "devices") -> None:
    """Set ``immutable`` (or ``_unknown.immutable``) on every Data Domain device.

    NetWorker locks a save set on Data Domain when the device has retention lock on
    (``dataDomainRetentionLockMode`` Governance or Compliance; None turns it off) and the action writing it
    has ``enableDDRetentionLock: true`` (the swagger: "Retention locking prevents any modification or
    deletion of files under retention ... directly on Data Domain share(s)"). A save set records neither,
    so a device is immutable when its mode is on and every enabled action writing to a pool that holds it
    locks; not immutable when the mode is None or no such action locks; unknown when the mode was not sent,
    when some actions lock and others do not, when no action is seen writing to it, or when the protection
    policies could not be read. Other devices get nothing here: NetWorker does not know whether a plain
    disk or cloud target is immutable (a tape copy's WORM state comes from its volume).
    """
    if not devices.lock_modes:
        return
    pool_devices = {p.get("name"): {d for d in p.get("devices") or [] if isinstance(d, str)}
                    for p in pools or [] if isinstance(p, dict) and isinstance(p.get("name"), str)}
    locks: dict[str, list] = {}  # device name -> [(action name, locks?)]
    bad = unknown
    if bad is None:
        try:
            for pol, wf, act in actions(policies):
                if not enabled(wf, act):
                    continue
                name = f"{pol.get('name')}/{wf.get('name')}/{act.get('name')}"
                for part in _writers(act.get("actionSpecificData") or {}):
                    for dev in pool_devices.get(part.get("destinationPool"), ()):
                        locks.setdefault(dev, []).append((name, part.get("enableDDRetentionLock") is True))
        except (ValueError, AttributeError, TypeError) as exc:
            bad = f"GET {where}: {exc}"
    for fid, mode in devices.lock_modes.items():
        fact = devices.facts[fid]
        fact["networker_retention_lock_mode"] = mode
        if isinstance(mode, str) and mode.lower() == "none":
            fact["immutable"] = False
            continue
        why = None
        if not isinstance(mode, str) or mode.lower() not in ("governance", "compliance"):
            why = (f"GET {where_devices}: Data Domain device {show(fact['name'])} has "
                   f"{'no dataDomainRetentionLockMode' if mode is None else 'dataDomainRetentionLockMode ' + show(mode)}")
        elif bad:
            why = f"retention lock of {fact['name']} depends on the actions writing to it: {bad}"
        else:
            acts = locks.get(fact["name"], [])
            on = sorted(a for a, lk in acts if lk)
            off = sorted(a for a, lk in acts if not lk)
            fact["networker_retention_lock_actions"] = on
            if acts and not off:
                fact["immutable"] = True
                continue
            if acts and not on:
                fact["immutable"] = False
                continue
            why = (f"Data Domain device {fact['name']} has retention lock {mode} but "
                   + (f"actions {', '.join(on)} lock and {', '.join(off)} do not (enableDDRetentionLock): "
                      "which wrote a given save set is not recorded" if acts else
                      "no enabled action writes to a pool holding it: whether its save sets were locked "
                      "(enableDDRetentionLock) is not recorded"))
        fact.setdefault("_unknown", {})["immutable"] = why
