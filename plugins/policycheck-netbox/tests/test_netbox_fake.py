"""The netbox collector against a local fake answering NetBox's documented shapes and failures."""
from __future__ import annotations

import sys
from pathlib import Path

import jsonschema
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakenetbox import FakeNetBox, sample_data  # noqa: E402
from policycheck_netbox.plugin import collect, policycheck_collectors  # noqa: E402
from policycheck_netbox.schema import SCHEMA  # noqa: E402

from policycheck.api import CollectContext, CollectorError  # noqa: E402
from policycheck.testing import assert_no_secret, assert_valid_fragment, free_port  # noqa: E402

TOKEN = "nbt_abcdefghijkl.SECRETsecretSECRETsecret00"


def run(fake, timeout=10.0, logs=None, **extra):
    settings = {"url": fake.url, "token": TOKEN, "retries": 1, **extra}
    jsonschema.Draft202012Validator(SCHEMA).validate(settings)
    ctx = CollectContext(source="nb", timeout=timeout, secrets=[TOKEN],
                         log=(logs.append if logs is not None else (lambda m: None)))
    return collect(settings, ctx)


def by_id(frag, kind):
    return {e["id"]: e for e in frag["entities"].get(kind, [])}


def test_registered_through_hook():
    (c,) = policycheck_collectors()
    assert c.name == "netbox" and "host" in c.kinds and "backup_server" in c.kinds
    jsonschema.Draft202012Validator.check_schema(c.config_schema)
    with pytest.raises(jsonschema.ValidationError):  # password_file is resolved by the runtime
        jsonschema.validate({"url": "https://nb", "token": "x", "token_file": "/x"}, c.config_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"url": "nb.example", "token": "x"}, c.config_schema)


def test_maps_hosts_roles_services_platforms():
    with FakeNetBox(sample_data(), TOKEN) as fake:
        frag = run(fake)
    assert_valid_fragment(frag)
    hosts = by_id(frag, "host")
    assert set(hosts) == {"nsr-dir.corp.example", "bkp2", "chassis01", "blade01", "dns01.corp.example"}
    nsr = hosts["nsr-dir.corp.example"]
    assert nsr["hostname"] == "NSR-DIR.corp.example" and nsr["fqdn"] == "nsr-dir.corp.example"
    assert {"nsr-dir", "nsr-dir.corp.example", "10.0.0.10", "192.168.9.10"} <= {a.lower() for a in nsr["aliases"]}
    assert nsr["addresses"] == ["10.0.0.10", "192.168.9.10"]
    assert nsr["platform"] == "physical" and nsr["os"] == "linux"
    assert nsr["roles"] == ["backup_server"]
    assert nsr["services"] == ["nfs", "backup"]
    assert nsr["depends_on"] == ["dns01.corp.example"]  # object custom field resolved to our host id
    assert nsr["bmr_methods"] == [] and "independent_recovery" not in nsr
    blade = hosts["blade01"]
    assert blade["platform"] == "blade" and blade["os"] == "solaris"
    assert blade["roles"] == ["file_server", "sunray_server"]
    assert blade["services"] == ["sunray"]
    assert blade["depends_on"] == ["dns01", "ldap01"] and blade["bmr_methods"] == ["jumpstart"]
    assert blade["independent_recovery"] is True
    assert hosts["bkp2"]["os"] == "windows" and hosts["bkp2"]["services"] == []
    assert hosts["bkp2"]["depends_on"] == [] and "addresses" not in hosts["bkp2"]
    assert "os" not in hosts["chassis01"]  # no platform in NetBox: unknown, not 'other'
    assert hosts["chassis01"]["services"] == ["vrrp"]  # on FHRP group 1, assigned to chassis01's eth0
    dns = hosts["dns01.corp.example"]
    assert dns["platform"] == "virtual" and dns["services"] == ["dns"] and dns["netbox_cluster"] == "prod"
    # the VM has no depends_on custom field: unknown with a reason, not an empty list
    assert "depends_on" not in dns and "depends_on" in dns["_unknown"]
    assert dns["bmr_methods"] == ["template"]
    bss = by_id(frag, "backup_server")
    assert set(bss) == {"nsr-dir.corp.example", "bkp2"}
    assert bss["nsr-dir.corp.example"]["host"] == "nsr-dir.corp.example"
    assert bss["nsr-dir.corp.example"]["product"] == "networker" and "product" not in bss["bkp2"]
    assert by_id(frag, "vm")["dns01"]["cluster"] == "prod"
    assert list(by_id(frag, "cluster")) == ["prod"]


def test_one_list_call_per_kind_with_field_selection_and_pagination():
    data = sample_data()
    with FakeNetBox(data, TOKEN) as fake:
        run(fake, page_size=2)
        calls = fake.list_calls()
        reqs = fake.requests
    assert calls.count("/api/dcim/devices/") == 3  # 5 devices, 2 a page: followed `next` twice
    assert calls.count("/api/virtualization/virtual-machines/") == 1
    assert calls.count("/api/ipam/services/") == 3 and calls.count("/api/ipam/ip-addresses/") == 2
    assert calls.count("/api/ipam/fhrp-group-assignments/") == 1  # a service sits on an FHRP group
    assert len(calls) == 10 and not any(c.rstrip("/").split("/")[-1].isdigit() for c in calls)
    first = {p: q for p, q, _ in reversed(reqs)}
    assert "custom_fields" in first["/api/dcim/devices/"]["fields"]
    assert first["/api/ipam/ip-addresses/"]["assigned_to_interface"] == "true"
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for _, _, h in reqs)


def test_v1_token_uses_token_scheme_and_filters_pass_through():
    v1 = "0123456789abcdef0123456789abcdef01234567"
    with FakeNetBox(sample_data(), v1) as fake:
        settings = {"url": fake.url + "/api/", "token": v1, "device_filters": {"site": ["dc1", "dc2"], "tag": "prod"},
                    "include_virtual_machines": False}
        frag = collect(settings, CollectContext(source="nb", timeout=10, secrets=[v1]))
        reqs = fake.requests
    assert all(h["Authorization"] == f"Token {v1}" for _, _, h in reqs)
    dev = [q for p, q, _ in reqs if p == "/api/dcim/devices/"][0]
    assert dev["tag"] == "prod" and dev["site"] == "dc2"  # repeated parameter, last shown by the fake
    assert "/api/virtualization/virtual-machines/" not in [p for p, _, _ in reqs]
    assert all(h["platform"] != "virtual" for h in frag["entities"]["host"])


def test_config_mappings_override_defaults():
    with FakeNetBox(sample_data(), TOKEN) as fake:
        frag = run(fake, role_map={"backup-server": "storage_node"}, service_map={"2049/tcp": "file_share", "nfs": None},
                   os_map={"rhel-9": "aix"}, depends_on={"custom_field": None, "tag_prefix": "dep:"},
                   bmr_methods={"tag_prefix": "bmr:"}, backup_server={"roles": [], "tag": "bmr-rear"})
    hosts = by_id(frag, "host")
    nsr = hosts["nsr-dir.corp.example"]
    assert nsr["roles"] == ["storage_node"] and nsr["os"] == "aix"
    assert nsr["services"][0] == "file_share"
    assert nsr["depends_on"] == []  # tags are authoritative once tag_prefix is set
    assert nsr["bmr_methods"] == ["rear"]  # custom field empty + tag bmr:ReaR
    assert list(by_id(frag, "backup_server")) == ["nsr-dir.corp.example"]  # chosen by tag now


@pytest.mark.parametrize("fault, words", [
    (403, ["403", "permission", "/api/ipam/services/"]),
    (401, ["401"]),
    (500, ["500", "/api/ipam/services/"]),
    ("badjson", ["malformed JSON", "IPAM services"]),
    ("html", ["malformed JSON", "login page"]),
    ("truncate", ["IPAM services"]),
    ("count", ["announced", "run again"]),
])
def test_failures_raise_collector_error_without_secret(fault, words):
    logs = []
    with FakeNetBox(sample_data(), TOKEN) as fake:
        fake.faults["/api/ipam/services/"] = fault
        with pytest.raises(CollectorError) as ei:
            run(fake, logs=logs)
    msg = str(ei.value)
    for w in words:
        assert w in msg, msg
    assert fake.url in msg
    assert_no_secret(TOKEN, msg, logs)
    assert_no_secret("SECRETsecretSECRETsecret00", msg)


def test_wrong_token_is_refused():
    with FakeNetBox(sample_data(), TOKEN) as fake, pytest.raises(CollectorError) as ei:
        collect({"url": fake.url, "token": "nbt_wrongwrongwr.nottherightsecret"},
                CollectContext(source="nb", timeout=5, secrets=["nbt_wrongwrongwr.nottherightsecret"]))
    assert "403" in str(ei.value) and "Invalid v2 token" in str(ei.value)
    assert "nottherightsecret" not in str(ei.value)


def test_transient_503_is_retried():
    with FakeNetBox(sample_data(), TOKEN) as fake:
        fake.faults["/api/dcim/devices/"] = "503-once"
        frag = run(fake)
        calls = fake.list_calls()
    assert calls.count("/api/dcim/devices/") == 2 and len(frag["entities"]["host"]) == 5


@pytest.mark.parametrize("fault", ["hang", "dribble"])
def test_page_that_never_finishes_hits_the_time_budget(fault):
    with FakeNetBox(sample_data(), TOKEN) as fake:
        fake.faults["/api/dcim/devices/"] = fault
        with pytest.raises(CollectorError) as ei:
            run(fake, timeout=2.0)
    # the source's read timeout or its deadline ended it (which one first depends on the machine's
    # pace), not the fake giving up after 30 s (that would be a malformed/truncated answer)
    msg = str(ei.value)
    assert "failed: timed out" in msg or "time budget ran out (timeout)" in msg, msg
    assert "raise the source's timeout" in msg
    assert "devices" in str(ei.value) and TOKEN not in str(ei.value)


def test_next_link_to_another_host_is_refused():
    with FakeNetBox(sample_data(), TOKEN) as fake:
        fake.faults["/api/dcim/devices/"] = "nextother"
        with pytest.raises(CollectorError) as ei:
            run(fake)
    assert "another host" in str(ei.value)
    assert all(p.startswith("/api/") for p in fake.list_calls())


def test_connection_refused_is_an_error():
    port = free_port()
    with pytest.raises(CollectorError) as ei:
        collect({"url": f"http://127.0.0.1:{port}", "token": TOKEN, "retries": 0},
                CollectContext(source="nb", timeout=3, secrets=[TOKEN]))
    assert "cannot connect" in str(ei.value) and TOKEN not in str(ei.value)


def test_duplicate_names_do_not_pick_silently():
    data = sample_data()
    vm = dict(data["vms"][0], id=8, name="bkp2", cluster=None, primary_ip4=None)
    data["vms"].append(vm)
    with FakeNetBox(data, TOKEN) as fake:
        frag = run(fake)
    assert_valid_fragment(frag)
    h = by_id(frag, "host")["bkp2"]
    assert "platform" not in h and "platform" in h["_unknown"] and "os" in h["_unknown"]
