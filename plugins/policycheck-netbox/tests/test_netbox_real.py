"""The netbox collector against a real NetBox 4.7 (PyPI `netbox`, Debian postgresql + redis-server),
and `policycheck check/collect` end to end over it."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from policycheck_netbox.plugin import collect

from policycheck.api import CollectContext, CollectorError
from policycheck.testing import assert_no_secret, assert_valid_facts, assert_valid_fragment, free_port

pytestmark = pytest.mark.integration

HOSTS = {"nsr-dir.corp.example", "bkp-clean.corp.example", "chassis01", "blade01", "dns01.corp.example",
         "ldap01.corp.example"} | {f"filler-{i:02d}" for i in range(23)}


DEPENDS_ON = {"custom_field": ["depends_on", "depends_on_vms"]}  # text field + multi-object field (VMs)


def _collect(srv, token, logs=None, **extra):
    settings = {"url": srv.url, "token": token, **extra}
    ctx = CollectContext(source="netbox", timeout=60, secrets=[token],
                         log=(logs.append if logs is not None else (lambda m: None)))
    return collect(settings, ctx)


def test_real_netbox_facts_with_read_only_token(netbox_real):
    logs: list[str] = []
    frag = _collect(netbox_real, netbox_real.tokens["reader"], logs, page_size=7, depends_on=DEPENDS_ON)
    assert_valid_fragment(frag)
    hosts = {h["id"]: h for h in frag["entities"]["host"]}
    assert set(hosts) == HOSTS
    nsr = hosts["nsr-dir.corp.example"]
    assert nsr["hostname"] == "NSR-DIR.corp.example"
    assert nsr["platform"] == "physical" and nsr["os"] == "linux" and nsr["netbox_platform"] == "RHEL 9"
    assert nsr["roles"] == ["backup_server"]
    assert sorted(nsr["services"]) == ["backup", "nfs"]
    assert nsr["depends_on"] == ["dns01.corp.example", "ldap01"]
    assert nsr["bmr_methods"] == ["rear"]
    assert nsr["addresses"][0] == "10.0.0.10" and "192.168.9.10" in nsr["addresses"]
    assert {"nsr-dir", "10.0.0.10"} <= set(nsr["aliases"])
    blade = hosts["blade01"]
    assert blade["platform"] == "blade" and blade["os"] == "windows" and blade["services"] == ["smb"]
    assert blade["roles"] == ["file_server"] and blade["depends_on"] == []
    assert hosts["chassis01"]["platform"] == "physical" and "os" not in hosts["chassis01"]
    # a service on a VRRP group (parent ipam.fhrpgroup) belongs to the hosts assigned to the group
    assert hosts["chassis01"]["services"] == ["http"]
    assert "FHRP group assignments" in " ".join(logs)
    # tags (slugs) and the backup exemption from the custom fields / the tag
    assert hosts["ldap01.corp.example"]["tags"] == ["role-license-server"] and nsr["tags"] == []
    assert hosts["filler-00"]["backup"] == {"exempt": True, "reason": "lab box, rebuilt from kickstart",
                                            "owner": "lab-team"}
    assert hosts["filler-00"]["tags"] == ["backup-exempt"]
    assert hosts["filler-01"]["backup"] == {"exempt": True, "reason": None, "owner": None}
    assert "backup" not in hosts["filler-02"] and "backup" not in hosts["filler-02"].get("_unknown", {})
    # by default NetBox claims no list complete: each one is partial with the reason
    assert set(nsr["_partial"]) == {"roles", "services", "depends_on", "bmr_methods"}
    assert "complete:" in nsr["_partial"]["services"]
    # a multi-object custom field (brief VM objects) resolves to the VM's host id
    assert hosts["bkp-clean.corp.example"]["depends_on"] == ["dns01.corp.example"]
    dns = hosts["dns01.corp.example"]
    assert dns["platform"] == "virtual" and dns["os"] == "linux" and dns["services"] == ["dns"]
    assert dns["independent_recovery"] is True and dns["bmr_methods"] == ["template"]
    assert dns["netbox_cluster"] == "prod-cluster"
    ldap = hosts["ldap01.corp.example"]
    assert ldap["roles"] == ["directory", "license_server"] and ldap["services"] == ["ldap"]
    assert ldap["depends_on"] == ["dns01.corp.example"] and "independent_recovery" not in ldap
    bss = {b["id"]: b for b in frag["entities"]["backup_server"]}
    assert set(bss) == {"nsr-dir.corp.example", "bkp-clean.corp.example"}
    assert bss["nsr-dir.corp.example"]["product"] == "networker" and bss["bkp-clean.corp.example"]["product"] == "bacula"
    assert {v["id"]: v["cluster"] for v in frag["entities"]["vm"]} == {"dns01": "prod-cluster",
                                                                        "ldap01": "prod-cluster"}
    # one list call per kind, following `next`: 27 devices at 7 a page is 4 pages
    assert f"netbox: 27 devices in {math.ceil(27 / 7)} page(s)" in logs
    assert "netbox: 2 virtual machines in 1 page(s)" in logs
    assert_no_secret(netbox_real.tokens["reader"], frag, logs)


def test_real_netbox_v1_token(netbox_real):
    tok = netbox_real.tokens["reader_v1"]
    assert not tok.startswith("nbt_")  # auto-detected as v1: "Authorization: Token <40 hex>"
    frag = _collect(netbox_real, tok)
    assert {h["id"] for h in frag["entities"]["host"]} == HOSTS
    bkp = [h for h in frag["entities"]["host"] if h["id"] == "bkp-clean.corp.example"][0]
    assert bkp["depends_on"] == []  # default config reads only the text field 'depends_on'

    # measured on 4.7.3: NetBox infers the version from the nbt_ prefix, not from the keyword, so a v1
    # token sent as "Bearer" works too (token_version only matters for older NetBox or picky proxies)
    frag2 = _collect(netbox_real, tok, token_version="v2")
    assert {h["id"] for h in frag2["entities"]["host"]} == HOSTS


def test_real_netbox_without_fhrp_permission_services_are_unknown_not_detached(netbox_real):
    """A token without view on FHRP group assignments cannot tell who serves the VRRP group's service:
    every host's services become unknown with the reason, with a warning; the rest stays known."""
    tok = netbox_real.tokens["nofhrp_v1"]
    ctx = CollectContext(source="netbox", timeout=60, secrets=[tok])
    frag = collect({"url": netbox_real.url, "token": tok, "complete": ["services", "roles"]}, ctx)
    hosts = {h["id"]: h for h in frag["entities"]["host"]}
    nsr = hosts["nsr-dir.corp.example"]
    assert "services" not in nsr and "services" not in nsr.get("_partial", {})
    why = nsr["_unknown"]["services"]
    assert "403" in why and "/api/ipam/fhrp-group-assignments/" in why and "FHRP group assignment" in why
    assert "mgmt-web" in why and "/api/ipam/services/" in why
    assert nsr["roles"] == ["backup_server"] and "roles" not in nsr.get("_partial", {})
    assert any("fhrp-group-assignments" in w for w in ctx.warnings)
    assert_no_secret(tok, frag, ctx.warnings)


def test_real_netbox_user_without_permission_gets_error(netbox_real):
    tok = netbox_real.tokens["nobody_v1"]
    with pytest.raises(CollectorError) as ei:
        _collect(netbox_real, tok)
    assert "403" in str(ei.value) and "/api/dcim/devices/" in str(ei.value)
    assert_no_secret(tok, str(ei.value))


def test_real_netbox_wrong_token_gets_error(netbox_real):
    good = netbox_real.tokens["reader"]
    bad = good[:-6] + ("A" if good[-6] != "A" else "B") + good[-5:]
    with pytest.raises(CollectorError) as ei:
        _collect(netbox_real, bad)
    assert "403" in str(ei.value) or "401" in str(ei.value)
    assert_no_secret(bad, str(ei.value))
    assert_no_secret(bad.split(".", 1)[1], str(ei.value))


def _policycheck(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "policycheck", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=180)


def _datazone(tmp: Path, srv, token_file: bool = True):
    """netbox + an Ansible-like inventory that disagrees on nsr-dir's platform + a backup server's view."""
    (tmp / "ansible.yaml").write_text(yaml.safe_dump({"entities": {"host": [
        {"id": "nsr-dir", "hostname": "nsr-dir", "aliases": ["nsr-dir"], "platform": "virtual",
         "roles": ["backup_server"]}]}}))
    (tmp / "networker.yaml").write_text(yaml.safe_dump({"entities": {
        "backup_server": [{"id": "nsr-dir.corp.example", "host": "nsr-dir.corp.example", "product": "networker"}],
        "client": [{"id": "ldap01", "hostname": "ldap01.corp.example", "backup_server": "nsr-dir.corp.example"},
                   {"id": "dns01", "hostname": "dns01.corp.example", "backup_server": "nsr-dir.corp.example"}]}}))
    (tmp / "nb.token").write_text(srv.tokens["reader"] + "\n")
    # this site keeps roles, services and dependencies in NetBox: it says so (the default is partial)
    nb = {"name": "netbox", "plugin": "netbox", "timeout": 60, "url": srv.url, "depends_on": DEPENDS_ON,
          "complete": ["roles", "services", "depends_on"]}
    if token_file:
        nb["token_file"] = str(tmp / "nb.token")
    else:
        nb["token"] = "${NB_TOKEN}"
    cfg = {"version": 1, "sources": [
        nb,
        {"name": "ansible", "plugin": "file", "path": "ansible.yaml"},
        {"name": "networker", "plugin": "file", "path": "networker.yaml"}],
        "parameters": {"BSRV-002": {"max_dependencies": 1}}}
    (tmp / "policycheck.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return tmp / "policycheck.yaml"


def _verdicts(out: str) -> dict:
    doc = json.loads(out)
    return {(r["policy_id"], r["target_id"]): r for r in doc["results"]}


def test_policycheck_check_verdicts_over_real_netbox(netbox_real, tmp_path):
    cfg = _datazone(tmp_path, netbox_real, token_file=False)
    env = dict(os.environ, NB_TOKEN=netbox_real.tokens["reader"])
    r = _policycheck("check", "--config", str(cfg), "--format", "json", env=env, cwd=str(tmp_path))
    assert r.returncode in (1, 3), r.stderr[-3000:]
    v = _verdicts(r.stdout)
    # a backup server that also serves NFS is not dedicated; a clean one is
    assert v[("BSRV-001", "nsr-dir.corp.example")]["status"] == "fail"
    assert "nfs" in json.dumps(v[("BSRV-001", "nsr-dir.corp.example")])
    assert v[("BSRV-001", "bkp-clean.corp.example")]["status"] == "pass"
    # dns01 + ldap01 (transitively) > max_dependencies 1
    assert v[("BSRV-002", "nsr-dir.corp.example")]["status"] == "fail"
    assert v[("BSRV-002", "bkp-clean.corp.example")]["status"] == "pass"
    # ldap01 is a client of nsr-dir without an independent recovery path; dns01 has one
    b3 = v[("BSRV-003", "nsr-dir.corp.example")]
    assert b3["status"] == "fail" and "ldap01" in json.dumps(b3) and "dns01" not in json.dumps(b3.get("evidence"))
    assert v[("BSRV-003", "bkp-clean.corp.example")]["status"] == "pass"
    # NetBox says physical, the Ansible inventory says virtual: error naming both, never a pick
    virt = [res for (pid, tid), res in v.items() if pid.startswith("VIRT-") and tid == "nsr-dir.corp.example"]
    assert virt and all(res["status"] == "error" for res in virt), virt
    assert all("netbox" in res["message"] and "ansible" in res["message"] for res in virt), virt
    # COV-001: clients pass, an exemption with a reason is not applicable, the exemption tag alone is not
    # an exemption (and the source says a reason is needed), a host no server protects fails
    assert v[("COV-001", "ldap01.corp.example")]["status"] == "pass"
    assert v[("COV-001", "filler-00")]["status"] == "skip"
    assert v[("COV-001", "filler-01")]["status"] == "fail"
    assert "device 'filler-01' tagged 'backup-exempt' without a reason" in r.stderr
    fail = v[("COV-001", "filler-02")]
    assert fail["status"] == "fail" and "netbox" in json.dumps(fail["evidence"])
    assert "nsr-dir.corp.example" in json.dumps(fail["evidence"])
    assert_no_secret(netbox_real.tokens["reader"], r.stdout, r.stderr)


def test_policycheck_collect_joins_hosts_and_records_conflict(netbox_real, tmp_path):
    cfg = _datazone(tmp_path, netbox_real)
    out = tmp_path / "facts.json"
    r = _policycheck("collect", "--config", str(cfg), "-o", str(out), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    facts = json.loads(out.read_text())
    assert_valid_facts(facts)
    nsr = [h for h in facts["entities"]["host"]
           if "nsr-dir" in [h["id"].split(".")[0]] + [a.lower() for a in h.get("aliases", [])]]
    assert len(nsr) == 1, [h["id"] for h in nsr]  # Ansible's nsr-dir + NetBox's NSR-DIR.corp.example
    assert nsr[0]["id"] == "nsr-dir.corp.example"
    assert {"netbox", "ansible"} <= set(nsr[0]["_sources"])
    assert "platform" not in nsr[0]
    conflict = [c for c in facts["conflicts"] if c["id"] == "nsr-dir.corp.example" and c["attribute"] == "platform"]
    assert conflict and {v["source"]: v["value"] for v in conflict[0]["values"]} == {
        "netbox": "physical", "ansible": "virtual"}
    assert [s["status"] for s in facts["sources"] if s["name"] == "netbox"] == ["ok"]
    assert_no_secret(netbox_real.tokens["reader"], out.read_text(), r.stdout, r.stderr)


def test_policycheck_check_netbox_down_gives_errors(tmp_path):
    port = free_port()
    (tmp_path / "t").write_text("nbt_abcdefghijkl.doesnotmatterdoesnotmatter1234")
    cfg = {"version": 1, "sources": [{"name": "netbox", "plugin": "netbox", "timeout": 5,
                                      "url": f"http://127.0.0.1:{port}", "token_file": str(tmp_path / "t"),
                                      "retries": 0}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    r = _policycheck("check", "--config", str(tmp_path / "c.yaml"), "--format", "json", cwd=str(tmp_path))
    assert r.returncode == 3, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    doc = json.loads(r.stdout)
    assert doc["results"] and all(x["status"] in ("error", "skip") for x in doc["results"])
    assert "doesnotmatter" not in r.stdout + r.stderr


def test_policycheck_audit_report_over_real_netbox(netbox_real, tmp_path):
    cfg = _datazone(tmp_path, netbox_real)
    r = _policycheck("audit", "--config", str(cfg), cwd=str(tmp_path))
    assert r.returncode in (1, 3), (r.returncode, r.stderr[-2000:])
    out = r.stdout
    assert "netbox (netbox): ok" in out
    lines = out.splitlines()

    def verdict(pid, target):
        hit = [ln.split()[0] for ln in lines if f" {pid} backup_server:{target} " in ln]
        assert hit, f"{pid} {target} not in report"
        return hit[0]

    assert verdict("BSRV-001", "nsr-dir.corp.example") == "FAIL"
    assert verdict("BSRV-002", "nsr-dir.corp.example") == "FAIL"
    assert verdict("BSRV-003", "nsr-dir.corp.example") == "FAIL"
    assert verdict("VIRT-001", "nsr-dir.corp.example") == "ERROR"
    assert "'physical' (netbox), 'virtual' (ansible)" in out
    assert_no_secret(netbox_real.tokens["reader"], out, r.stderr)
