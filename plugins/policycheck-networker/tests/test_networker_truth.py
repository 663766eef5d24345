"""Issue 15 (NetWorker items 11-13 and client ids): the collector says only what NetWorker knows.

11. the server's host roles/services are partial; 12. a refused optional endpoint degrades only the facts it
feeds, with a warning naming the endpoint and the privilege; 13. policyProtectionEnable is not an on/off
switch; client ids are unique per (backup server, host).
"""
from __future__ import annotations

import copy

import pytest
from policycheck_networker.mapping import infra, policies

from policycheck.api import CollectorError
from policycheck.testing import assert_valid_fragment

PREFIX = "/nwrestapi/v3/global/"


def by_id(frag, kind):
    return {e["id"]: e for e in frag["entities"][kind]}


def by_host(frag):
    return {c["hostname"]: c for c in frag["entities"]["client"]}


# -- 11. the server's host: roles and services are partial -------------------------------------------

def test_host_roles_and_services_are_partial(server, run, zone):
    frag = run(server(zone("director")))
    assert_valid_fragment(frag)
    (host,) = frag["entities"]["host"]
    assert host["id"] == "nsr01.corp.example"
    assert host["roles"] == ["backup_server"] and host["services"] == ["backup"]
    assert set(host["_partial"]) == {"roles", "services"}
    assert "NetWorker" in host["_partial"]["roles"] and "outside what NetWorker can see" in host["_partial"]["services"]


# -- 12. optional endpoints refused: only their facts are unknown ------------------------------------

def test_protectionpolicies_403_degrades_only_the_policy_evidence(server, run, zone):
    z = zone("director")  # one rendering of the times for both servers
    full = run(server(copy.deepcopy(z)))
    frag = run(server(z, faults={"protectionpolicies": 403}))
    assert_valid_fragment(frag)
    bs = by_id(frag, "backup_server")["nsr01.corp.example"]
    for attr in ("networker_bootstrap_actions", "networker_client_actions_to_server"):
        assert attr not in bs
        assert "protectionpolicies" in bs["_unknown"][attr] and "HTTP 403" in bs["_unknown"][attr]
    # everything the other endpoints feed is as before
    for kind in ("bootstrap", "device", "client", "storage_node", "host"):
        assert frag["entities"][kind] == full["entities"][kind], kind
    assert bs["networker_director_mode"] is True
    (warning,) = [w for w in run.warnings if "protectionpolicies" in w]
    assert "/nwrestapi/v3/global/protectionpolicies" in warning and "HTTP 403" in warning
    assert "View Application Settings" in warning and "networker_bootstrap_actions" in warning


def test_protectedvms_500_makes_only_image_times_unknown(server, run, zone):
    z = zone("director")  # one rendering of the times for both servers
    whole = run(server(copy.deepcopy(z)))
    full = by_host(whole)
    frag = run(server(z, faults={"vmware/protectedvms": 500}))
    assert_valid_fragment(frag)
    clients = by_host(frag)
    for host, c in clients.items():
        assert "last_image_backup" not in c, host
        assert "vmware/protectedvms" in c["_unknown"]["last_image_backup"], host
        if host not in full:  # a guest known only from its image, named by the VM name instead
            assert c.get("networker_image_only") is True, host
            continue
        assert c.get("last_filesystem_backup") == full[host].get("last_filesystem_backup"), host
        assert c.get("last_bmr_backup") == full[host].get("last_bmr_backup"), host
    assert frag["entities"]["bootstrap"] == whole["entities"]["bootstrap"]
    (warning,) = [w for w in run.warnings if "protectedvms" in w]
    assert "HTTP 500" in warning and "vProxy" in warning and "last_image_backup" in warning


def test_protectedvms_500_without_image_backups_changes_nothing(server, run, zone):
    """A server without vProxy has no image save sets: the VM list decides nothing, so null stays null."""
    frag = run(server(zone("local_bootstrap"), faults={"vmware/protectedvms": 500}))
    for c in frag["entities"]["client"]:
        assert c["last_image_backup"] is None and set(c.get("_unknown", ())) <= {"last_failed_backup"}
    assert any("protectedvms" in w and "HTTP 500" in w for w in run.warnings)


def test_jukeboxes_refused_leaves_library_copies_unplaced(server, run, zone):
    """Without the library list, the tape clone whose volume location is the library 'TL01' must not read
    as a copy in a vault (that would pass BOOT-002): its locality is unknown."""
    frag = run(server(zone("local_bootstrap"), faults={"jukeboxes": 403}))
    latest = max(frag["entities"]["bootstrap"], key=lambda b: b["time"])
    tape = next(c for c in latest["copies"] if c["volume"] == "A00017L8")
    assert "local_to_server" not in tape and "offsite" not in tape and tape["location"] is None
    assert "jukeboxes" in tape["networker_unknown"] and "HTTP 403" in tape["networker_unknown"]
    assert any("jukeboxes" in w and "Monitor NetWorker" in w for w in run.warnings)


@pytest.mark.parametrize("resource", ["serverconfig", "storagenodes", "devices", "pools", "volumes", "clients",
                                      "backups"])
def test_required_endpoint_refused_still_fails_the_source(server, run, zone, resource):
    with pytest.raises(CollectorError) as info:
        run(server(zone("director"), faults={resource: 403}))
    assert f"/{resource}" in str(info.value) and "HTTP 403" in str(info.value)


# -- 13. policyProtectionEnable is not "the policy is enabled" --------------------------------------

SWAGGER_POLICY = {  # the shape of Dell's swagger example (P5vProxy): a working policy carries false / ""
    "name": "P5vProxy", "comment": "", "policyProtectionEnable": False, "policyProtectionPeriod": "",
    "workflows": [{"name": "wf", "enabled": True, "autoStartEnabled": False, "protectionGroups": ["g"],
                   "actions": [{"name": "backup", "enabled": True, "actionSpecificData": {"backup": {
                       "destinationStorageNodes": ["nsrserverhost"], "retentionPeriod": "1 Months",
                       "backupSpecificData": {"vmwareVProxy": {"destinationPool": "bkp26"}}}}}]}]}


def _evidence(pols):
    server = infra.Server({"name": "nsr01.corp.example"}, "nsr01.corp.example")
    found, unknown = policies.evidence(server, pols, [])
    assert not unknown
    return found


def test_policy_protection_enable_false_does_not_disable_the_policy():
    ev = _evidence([SWAGGER_POLICY])
    assert ev["networker_client_actions_to_server"] == ["P5vProxy/wf/backup"]
    assert "networker_protection_periods" not in ev


def test_policy_protection_period_is_kept_as_evidence():
    pol = dict(copy.deepcopy(SWAGGER_POLICY), policyProtectionEnable=True, policyProtectionPeriod="1 Days")
    ev = _evidence([pol])
    assert ev["networker_protection_periods"] == {"P5vProxy": "1 Days"}
    assert ev["networker_client_actions_to_server"] == ["P5vProxy/wf/backup"]


@pytest.mark.parametrize("where", ["action", "workflow"])
def test_a_disabled_action_or_workflow_writes_nothing(where):
    pol = copy.deepcopy(SWAGGER_POLICY)
    wf = pol["workflows"][0]
    (wf["actions"][0] if where == "action" else wf)["enabled"] = False
    assert _evidence([pol])["networker_client_actions_to_server"] == []


def test_bootstrap_action_enabled_from_action_and_workflow():
    pol = {"name": "Server Protection", "policyProtectionEnable": False, "workflows": [
        {"name": "Server backup", "enabled": False, "autoStartEnabled": True, "actions": [
            {"name": "Server db backup", "enabled": True, "actionSpecificData": {
                "serverBackup": {"destinationPool": "Bootstrap", "destinationStorageNode": "sn01"}}}]},
        {"name": "Manual", "enabled": True, "autoStartEnabled": False, "actions": [
            {"name": "Server db backup", "enabled": True, "actionSpecificData": {
                "serverBackup": {"destinationPool": "Bootstrap", "destinationStorageNode": "sn01"}}}]}]}
    off, manual = _evidence([pol])["networker_bootstrap_actions"]
    assert off["enabled"] is False and off["workflow_enabled"] is False and off["action_enabled"] is True
    # not auto-started (run by hand or by a script) is still enabled: it writes where it says when it runs
    assert manual["enabled"] is True and manual["auto_start"] is False


def test_recorded_policy_with_protection_disabled_still_counts(server, run, zone):
    """local_bootstrap's Gold policy carries policyProtectionEnable: false (as working policies do): its
    client backup action to the server is still reported."""
    frag = run(server(zone("local_bootstrap")))
    bs = by_id(frag, "backup_server")["nsr02.corp.example"]
    assert bs["networker_client_actions_to_server"] == ["Gold/Filesystem/backup"]
    assert bs["networker_protection_periods"] == {"Server Protection": "1 Days"}


def test_malformed_policy_element_makes_the_evidence_unknown(server, run, zone):
    z = zone("director")
    z["protectionpolicies"]["protectionPolicies"][0]["workflows"].append("not a workflow")
    frag = run(server(z))
    bs = by_id(frag, "backup_server")["nsr01.corp.example"]
    assert "networker_bootstrap_actions" not in bs
    assert "malformed workflow" in bs["_unknown"]["networker_bootstrap_actions"]


# -- for all collectors: client ids unique per (backup server, host) ---------------------------------

def second_server(z, name="nsr09.corp.example"):
    """The same datazone under another server name: it protects the same hosts."""
    z = copy.deepcopy(z)
    z["serverconfig"]["name"] = name
    return z


def test_client_ids_are_unique_per_server_and_host(server, run, zone):
    a = by_host(run(server(zone("director"))))
    b = by_host(run(server(second_server(zone("director")))))
    app_a, app_b = a["app01.corp.example"], b["app01.corp.example"]
    assert app_a["id"] == "nsr01.corp.example/app01.corp.example"
    assert app_b["id"] == "nsr09.corp.example/app01.corp.example"
    assert app_a["backup_server"] != app_b["backup_server"]
    for c in list(a.values()) + list(b.values()):
        # no bare host name (FQDN or short) is an alias a second server's record could join on
        assert c["hostname"] not in c.get("aliases", []) and "app01" not in c.get("aliases", [])
    assert a["win01.corp.example"]["networker_aliases"] == ["win01"]
