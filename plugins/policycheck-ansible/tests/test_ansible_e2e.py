"""End to end: `policycheck check/collect` over examples/ansible-datazone (real ansible-inventory), verdicts."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policycheck.testing import CliResult, run_cli

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "ansible-datazone"


@pytest.fixture
def zone(tmp_path, ansible_inventory_bin) -> Path:
    """A private copy of the example datazone the test may edit."""
    dst = tmp_path / "zone"
    shutil.copytree(EXAMPLE, dst)
    return dst


def pc(*args: str, cwd: Path) -> CliResult:
    """`policycheck ARGS` in this process, ansible-inventory found beside this Python."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return run_cli(list(args), cwd=cwd, env={"PATH": path})


def check(zone: Path, *extra) -> tuple[int, dict, dict]:
    """(exit code, {(policy_id, target_id): result}, envelope) of `policycheck check --format json`."""
    p = pc("check", "-c", str(zone / "policycheck.yaml"), "--format", "json", *extra, cwd=zone)
    assert p.stdout.strip(), p.stderr
    env = json.loads(p.stdout)
    return p.code, {(r["policy_id"], r["target_id"]): r for r in env["results"]}, env


def collect(zone: Path) -> dict:
    out = zone / "facts.json"
    p = pc("collect", "-c", str(zone / "policycheck.yaml"), "-o", str(out), cwd=zone)
    assert p.code == 0, p.stderr
    return json.loads(out.read_text())


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


BS = "nsr-dir.corp.example"


def test_example_datazone_verdicts(zone):
    rc, res, env = check(zone)
    assert {s["name"]: s["status"] for s in env["sources"]} == {"ansible": "ok", "backup": "ok"}
    assert res[("BSRV-001", BS)]["status"] == "fail"          # also an NFS file server
    assert "file_server" in res[("BSRV-001", BS)]["message"]
    assert res[("BSRV-003", BS)]["status"] == "fail"          # dns01: a VM only nsr-dir restores
    assert "dns01.corp.example" in res[("BSRV-003", BS)]["message"]
    assert res[("BSRV-002", BS)]["status"] == "pass"          # dns01, ldap01, vc01 <= 3
    assert res[("VIRT-001", BS)]["status"] == "skip"          # physical, per group_vars
    assert rc == 1


def test_joined_hosts_are_one_entity(zone):
    facts = collect(zone)
    nsr = [h for h in facts["entities"]["host"] if h["id"] == BS]
    assert len(nsr) == 1 and "nsr-dir" in nsr[0]["aliases"]
    assert [b["id"] for b in facts["entities"]["backup_server"]] == [BS]
    assert sorted(facts["entities"]["backup_server"][0]["_sources"]) == ["ansible", "backup"]
    assert facts["conflicts"] == []
    assert "ANSIBLE_VAULT" not in json.dumps(facts)           # dns01's vaulted TSIG key stays out


def test_fixing_the_inventory_fixes_the_verdicts(zone):
    inv = zone / "inventory"
    edit(inv / "hosts.yml", "            nsr-dir:          # the old home-directory export never moved off "
                            "the backup server\n", "")
    edit(inv / "host_vars" / "nsr-dir.yml", "services: [backup, nmc, nfs]", "services: [backup, nmc]")
    edit(inv / "host_vars" / "dns01.yml", "depends_on: []", "depends_on: []\nindependent_recovery: true")
    # the core judges BMR-002 by the latest DR test: the failed BMR test of 2026-11-07 was repeated
    failed = '  - {time: "2026-11-07T10:30:00+01:00", result: failure, kind: bmr}'
    edit(inv / "host_vars" / "nsr-dir.yml", failed,
         failed + '\n  - {time: "2026-11-20T10:30:00+01:00", result: success, kind: bmr}')
    # the catalog's coverage policies (COV/RPO/CPY/IMM/RST) read backup-product facts (client records,
    # copies, restore tests) that this inventory-only datazone does not have: judged elsewhere
    basics = [x for pid in ("COV-001", "RPO-001", "CPY-001", "IMM-001", "RST-001") for x in ("--skip", pid)]
    rc, res, _ = check(zone, *basics)
    assert res[("BSRV-001", BS)]["status"] == "pass"
    assert rc == 0, [r for r in res.values() if r["status"] not in ("pass", "skip")]
    assert res[("BSRV-003", BS)]["status"] == "pass"


def test_nfs_service_alone_fails_bsrv001(zone):
    edit(zone / "inventory" / "hosts.yml", "            nsr-dir:          # the old home-directory export "
                                           "never moved off the backup server\n", "")
    _, res, _ = check(zone)
    r = res[("BSRV-001", BS)]
    assert r["status"] == "fail" and "nfs" in r["message"]


def test_dependency_count_parameter(zone):
    _, res, _ = check(zone, "--param", "BSRV-002.max_dependencies=2")
    assert res[("BSRV-002", BS)]["status"] == "fail"


def test_conflicting_platform_from_second_inventory_is_error(zone):
    (zone / "netbox.yaml").write_text(
        "entities:\n  host:\n    - {id: NSR-DIR.corp.example, platform: virtual, roles: [backup_server]}\n")
    with open(zone / "policycheck.yaml", "a") as f:
        f.write("  - name: netbox\n    plugin: file\n    path: netbox.yaml\n")
    facts = collect(zone)
    assert len([h for h in facts["entities"]["host"] if h["id"] == BS]) == 1
    (c,) = [c for c in facts["conflicts"] if c["attribute"] == "platform"]
    assert c["id"] == BS and {v["source"]: v["value"] for v in c["values"]} == {
        "ansible": "physical", "netbox": "virtual"}
    _, res, _ = check(zone)
    for pid in ("VIRT-001", "VIRT-002", "BOOT-003"):
        assert res[(pid, BS)]["status"] == "error", pid
    assert res[("BSRV-001", BS)]["status"] == "fail"          # unaffected by the conflict


def test_vaulted_platform_makes_platform_policies_error(zone, ansible_vault_bin):
    cfg = zone / "empty-ansible.cfg"
    cfg.write_text("")
    pw = zone / "pw"
    pw.write_text("throwaway-vault-pw")
    enc = subprocess.run([ansible_vault_bin, "encrypt_string", "--vault-password-file", str(pw), "physical",
                          "--name", "platform"], capture_output=True, text=True, check=True,
                         env={**os.environ, "ANSIBLE_CONFIG": str(cfg)}).stdout
    (zone / "inventory" / "group_vars" / "backup_servers.yml").write_text(
        "backup_product: networker\nbmr_methods: [networker_bmr]\n" + enc)
    facts = collect(zone)
    (nsr,) = [h for h in facts["entities"]["host"] if h["id"] == BS]
    assert "platform" not in nsr and nsr["_unknown"]["platform"] == "vaulted in ansible: platform"
    rc, res, env = check(zone)
    for pid in ("VIRT-001", "VIRT-002", "BOOT-003"):     # they need the platform: error, not a guess
        assert res[(pid, BS)]["status"] == "error", pid
    assert res[("BSRV-003", BS)]["status"] == "fail"          # other facts still judged
    for text in (json.dumps(env), json.dumps(facts)):
        assert "ANSIBLE_VAULT" not in text and "throwaway-vault-pw" not in text
    assert rc == 1


def test_broken_inventory_makes_the_source_error(zone):
    (zone / "inventory" / "hosts.yml").write_text("all:\n  children:\n    backup_servers: [\n")
    rc, res, env = check(zone)
    (src,) = [s for s in env["sources"] if s["name"] == "ansible"]
    assert src["status"] == "error" and "failed with exit code" in src["error"]
    assert "hosts.yml:4:1" in src["error"]                    # the located parse error, condensed
    assert src["error"].count("Failed to parse inventory with") == 1
    for pid in ("BSRV-001", "BSRV-002", "BSRV-003", "VIRT-001"):
        assert res[(pid, BS)]["status"] == "error", pid
    assert rc != 0
