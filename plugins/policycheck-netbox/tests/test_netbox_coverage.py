"""End to end over the fake NetBox (documented list shapes, several pages): tags and backup exemptions,
judged by COV-001 with a file source naming a backup server and its clients (`policycheck check`)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from policycheck.testing import CliResult, run_cli

sys.path.insert(0, str(Path(__file__).parent))
from fakenetbox import FakeNetBox  # noqa: E402

TOKEN = "nbt_abcdefghijkl.SECRETsecretSECRETsecret00"


def _tag(name: str, slug: str) -> dict:
    return {"id": abs(hash(slug)) % 1000, "url": "", "display": name, "name": name, "slug": slug, "color": "9e9e9e"}


def _device(i: int, name: str, tags=(), **cf) -> dict:
    return {"id": i, "name": name, "status": {"value": "active", "label": "Active"},
            "role": {"id": 1, "url": "", "display": "Server", "name": "Server", "slug": "server"},
            "platform": None, "site": None, "parent_device": None, "primary_ip4": None, "primary_ip6": None,
            "tags": list(tags),
            "custom_fields": {"depends_on": None, "bmr_methods": None, "backup_exempt_reason": None,
                              "backup_owner": None, **cf}}


DEVICES = [
    _device(1, "bkp01"),
    _device(2, "web01", tags=[_tag("Tier 1", "tier-1")]),
    _device(3, "web02", tags=[_tag("Tier 1", "tier-1")]),
    _device(4, "stateless01", tags=[_tag("Backup exempt", "backup-exempt")],
            backup_exempt_reason="rebuilt from the golden image every night", backup_owner="web-team"),
    _device(5, "tagonly01", tags=[_tag("Backup exempt", "backup-exempt")]),
    _device(6, "badreason01", backup_exempt_reason=["stateless", "cache"]),
]
BACKUP = {"entities": {
    "backup_server": [{"id": "bkp", "host": "bkp01", "product": "bacula"}],
    "client": [{"id": "bkp/bkp01", "hostname": "bkp01", "backup_server": "bkp"},
               {"id": "bkp/web01", "hostname": "web01", "backup_server": "bkp"}]}}


def check(tmp: Path, url: str) -> tuple[CliResult, dict]:
    (tmp / "nb.token").write_text(TOKEN + "\n")
    (tmp / "backup.yaml").write_text(yaml.safe_dump(BACKUP))
    cfg = {"version": 1, "sources": [
        {"name": "nb", "plugin": "netbox", "url": url, "token_file": "nb.token", "page_size": 2, "timeout": 30,
         "include_virtual_machines": False},
        {"name": "backup", "plugin": "file", "path": "backup.yaml"}]}
    (tmp / "policycheck.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    p = run_cli(["check", "-c", "policycheck.yaml", "--select", "COV-001", "--format", "json"], cwd=tmp)
    assert p.stdout.strip(), p.stderr
    return p, json.loads(p.stdout)


def test_cov001_verdicts_from_netbox_exemptions(tmp_path):
    with FakeNetBox({"devices": DEVICES}, TOKEN) as fake:
        p, env = check(tmp_path, fake.url)
        pages = [q.get("offset", "0") for path, q, _ in fake.requests if path == "/api/dcim/devices/"]
    assert pages == ["0", "2", "4"]                                    # every page was read
    (nb,) = [s for s in env["sources"] if s["name"] == "nb"]
    assert nb["status"] == "ok"
    res = {r["target_id"]: r for r in env["results"] if r["policy_id"] == "COV-001"}
    assert res["web01"]["status"] == "pass" and res["bkp01"]["status"] == "pass"
    (ev,) = [e for e in res["web02"]["evidence"] if e["fact"] == "protected_by"]
    assert res["web02"]["status"] == "fail" and "bkp" in ev["source"] and "nb" in ev["source"]
    assert res["stateless01"]["status"] == "skip"                      # exempt with a reason
    # the exemption tag without a reason is no exemption (docs/facts.md): judged, and the source says why
    assert res["tagonly01"]["status"] == "fail"
    assert ("source nb: netbox: 1 backup exemption(s) without a reason (an exemption needs one): device "
            "'tagonly01' tagged 'backup-exempt' without a reason in custom field 'backup_exempt_reason'") in p.stderr
    # a malformed reason is unknown, never an exemption
    bad = res["badreason01"]
    assert bad["status"] == "error"
    assert "device 'badreason01': custom field 'backup_exempt_reason' holds list" in bad["message"], bad
    assert TOKEN not in p.stdout + p.stderr and "SECRETsecret" not in p.stdout + p.stderr
    assert p.code == 1
