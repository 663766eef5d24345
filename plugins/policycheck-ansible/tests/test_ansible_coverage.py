"""End to end over the real ansible-inventory: tags and backup exemptions from host vars, judged by COV-001
together with a file source that names a backup server and its clients."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from policycheck.testing import CliResult, run_cli

pytestmark = pytest.mark.integration

INVENTORY = {
    "inventory/hosts.yml": """
        all:
          children:
            backup_servers:
              hosts:
                bkp01:
            tier1:
              children:
                web:
                  hosts:
                    web01:
                    web02:
                    stateless01:
                    noreason01:
                    badreason01:
    """,
    "inventory/group_vars/all.yml": "platform: physical\n",
    "inventory/host_vars/stateless01.yml": """
        backup: {exempt: true, reason: rebuilt from the golden image every night, owner: web-team}
    """,
    "inventory/host_vars/noreason01.yml": "backup: {exempt: true, owner: web-team}\n",
    "inventory/host_vars/badreason01.yml": "backup: {exempt: true, reason: [stateless, cache]}\n",
    "backup.yaml": """
        entities:
          backup_server: [{id: bkp, host: bkp01, product: bacula}]
          client:
            - {id: bkp/bkp01, hostname: bkp01, backup_server: bkp}
            - {id: bkp/web01, hostname: web01, backup_server: bkp}
    """,
    "policycheck.yaml": """
        version: 1
        sources:
          - {name: inv, plugin: ansible, inventory: inventory, timeout: 60}
          - {name: backup, plugin: file, path: backup.yaml}
    """,
}


def pc(*args: str, cwd: Path) -> CliResult:
    """`policycheck ARGS` in this process, ansible-inventory found beside this Python."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return run_cli(list(args), cwd=cwd, env={"PATH": path})


@pytest.fixture
def zone(tmp_path, write, ansible_inventory_bin) -> Path:
    for rel, text in INVENTORY.items():
        write(rel, text)
    return tmp_path


def test_cov001_verdicts_from_inventory_exemptions(zone):
    p = pc("check", "-c", "policycheck.yaml", "--select", "COV-001", "--format", "json", cwd=zone)
    env = json.loads(p.stdout)
    assert {s["name"]: s["status"] for s in env["sources"]} == {"inv": "ok", "backup": "ok"}, p.stderr
    res = {r["target_id"]: r for r in env["results"] if r["policy_id"] == "COV-001"}
    assert res["web01"]["status"] == "pass" and res["bkp01"]["status"] == "pass"
    web02 = res["web02"]
    assert web02["status"] == "fail"
    (ev,) = [e for e in web02["evidence"] if e["fact"] == "protected_by"]
    assert "bkp" in ev["source"] and "inv" in ev["source"]       # the servers and the inventory source
    assert res["stateless01"]["status"] == "skip"                  # exempt with a reason: not applicable
    for host, why in (("noreason01", "exempts the host from backup without a reason"),
                      ("badreason01", "backup.reason should be text, got list")):
        r = res[host]
        assert r["status"] == "error", host                        # never a silent exemption
        assert f"host {host}: ansible variable backup" in r["message"] and why in r["message"], r["message"]
    assert p.code == 1


def test_collected_tags_and_exemption(zone):
    p = pc("collect", "-c", "policycheck.yaml", "-o", "facts.json", cwd=zone)
    assert p.code == 0, p.stderr
    hosts = {h["id"]: h for h in json.loads((zone / "facts.json").read_text())["entities"]["host"]}
    assert hosts["web01"]["tags"] == ["tier1", "web"]
    assert hosts["bkp01"]["tags"] == ["backup_servers"]
    assert hosts["stateless01"]["backup"] == {"exempt": True, "owner": "web-team",
                                              "reason": "rebuilt from the golden image every night"}
    assert "backup" not in hosts["noreason01"] and "backup" in hosts["noreason01"]["_unknown"]
