"""`policycheck collect` and `policycheck audit` with a vsphere source (password_file), against the simulator."""
from __future__ import annotations

import json

import pytest
import yaml

from policycheck.testing import assert_no_secret, assert_valid_facts, run_cli

pytestmark = pytest.mark.integration

INVENTORY = {"entities": {
    "host": [{"id": "nsr01.corp.example", "platform": "virtual", "roles": ["backup_server"]}],
    "backup_server": [{"id": "nsr01", "host": "nsr01.corp.example", "product": "networker"}],
}}


def write_config(tmp_path, sim, secret, **over):
    pw = tmp_path / "vc.pw"
    pw.write_text(secret + "\n")
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY))
    src = {"name": "vc", "plugin": "vsphere", "timeout": 20, **sim.settings(**over)}
    del src["password"]
    src["password_file"] = str(pw)
    cfg = {"version": 1, "sources": [src, {"name": "inv", "plugin": "file", "path": "inventory.yaml"}]}
    path = tmp_path / "policycheck.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def pc(*args):
    return run_cli(list(args))


def test_collect_writes_valid_facts_joined_to_the_backup_server(vcsim, director, tmp_path, secret):
    sim = vcsim(director())
    cfg = write_config(tmp_path, sim, secret)
    out = tmp_path / "facts.json"
    r = pc("collect", "-c", str(cfg), "-o", str(out))
    assert r.code == 0, r.stderr
    doc = json.loads(out.read_text())
    assert_valid_facts(doc)
    assert_no_secret(secret, doc, r.stdout, r.stderr)
    src = next(s for s in doc["sources"] if s["name"] == "vc")
    assert src["status"] == "ok" and src["error"] is None
    host = next(h for h in doc["entities"]["host"] if h["id"] == "nsr01.corp.example")
    assert host["vm"] == f"{sim.vms['nsr01']}@127.0.0.1"  # joined by guest host name
    vm = next(v for v in doc["entities"]["vm"] if v["id"] == host["vm"])
    hosts = {h["id"]: h["name"] for h in doc["entities"]["hypervisor_host"]}
    assert sorted(hosts[h] for h in vm["eligible_hosts"]) == ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]
    assert all(d["shared"] for d in vm["disks"])


def test_audit_reports_mobility_verdict(vcsim, director, tmp_path, secret):
    sc = director(hosts={"DC0_C0_H1": {"maintenance": True}, "DC0_C0_H2": {"connection": "disconnected"}})
    sim = vcsim(sc)
    cfg = write_config(tmp_path, sim, secret)
    r = pc("audit", "-c", str(cfg), "--select", "VIRT-002", "--no-color")
    assert r.code == 1, (r.code, r.stdout, r.stderr)
    assert "FAIL  VIRT-002 backup_server:nsr01" in r.stdout and "eligible_hosts is [\"host-" in r.stdout
    assert_no_secret(secret, r.stdout, r.stderr)


def test_audit_with_an_untrusted_certificate_is_an_error(vcsim, director, tmp_path, secret):
    sim = vcsim(director())
    cfg = write_config(tmp_path, sim, secret, ca_bundle=None)
    r = pc("audit", "-c", str(cfg), "--select", "VIRT-002", "--no-color")
    assert r.code == 3, (r.code, r.stdout, r.stderr)
    assert "certificate" in r.stdout + r.stderr
    assert_no_secret(secret, r.stdout, r.stderr)
