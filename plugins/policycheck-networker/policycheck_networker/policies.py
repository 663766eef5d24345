"""Protection policies into evidence: the server backup (bootstrap) action and client backup destinations."""
from __future__ import annotations

from policycheck_networker.infra import Server


def actions(policies: list):
    """Yield (policy, workflow, action) name triples with the action dict, for every action."""
    for pol in policies or []:
        for wf in pol.get("workflows") or []:
            for act in wf.get("actions") or []:
                if isinstance(act, dict):
                    yield pol, wf, act


def evidence(server: Server, policies: list, pools: list) -> dict:
    """backup_server attributes (prefixed networker_) describing bootstrap and client backup destinations."""
    pool_devices = {p.get("name"): list(p.get("devices") or []) for p in pools or [] if p.get("name")}
    boot, to_server = [], []
    for pol, wf, act in actions(policies):
        data = act.get("actionSpecificData") or {}
        where = f"{pol.get('name')}/{wf.get('name')}/{act.get('name')}"
        enabled = act.get("enabled", True) is not False and wf.get("enabled", True) is not False \
            and pol.get("policyProtectionEnable", True) is not False
        if "serverBackup" in data:
            sb = data["serverBackup"] or {}
            boot.append({"action": where, "enabled": enabled,
                         "destination_pool": sb.get("destinationPool"),
                         "destination_storage_node": sb.get("destinationStorageNode"),
                         "pool_devices": pool_devices.get(sb.get("destinationPool"), []),
                         "perform_bootstrap": sb.get("performBootstrap", True)})
        elif "backup" in data and enabled:
            nodes = (data["backup"] or {}).get("destinationStorageNodes") or []
            if any(server.owns(n) for n in nodes):
                to_server.append(where)
    return {"networker_bootstrap_actions": boot, "networker_client_actions_to_server": to_server}
