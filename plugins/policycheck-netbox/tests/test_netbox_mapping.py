"""Pure mapping (no server): custom-field shapes, references, OS rules, unknowns."""
from __future__ import annotations

import jsonschema
import pytest
from policycheck_netbox.mapping import build
from policycheck_netbox.schema import SCHEMA, effective

from policycheck.testing import assert_valid_fragment


def dev(i, name, **kw):
    base = {"id": i, "name": name, "role": None, "platform": None, "parent_device": None, "primary_ip4": None,
            "primary_ip6": None, "tags": [], "custom_fields": {"depends_on": None, "bmr_methods": None}}
    base.update(kw)
    return base


def host(frag, hid):
    return {h["id"]: h for h in frag["entities"]["host"]}[hid]


def test_multiobject_custom_field_resolves_to_host_ids():
    devices = [
        dev(1, "nsr01", custom_fields={"depends_on": [
            {"id": 2, "url": "https://nb/api/dcim/devices/2/", "display": "DNS-A", "name": "DNS-A"},
            {"id": 9, "url": "https://nb/api/virtualization/virtual-machines/9/", "display": "lic", "name": "lic"},
            {"id": 77, "url": "https://nb/api/dcim/devices/77/", "display": "gone", "name": "Gone"}]}),
        dev(2, "DNS-A", primary_ip4={"id": 5, "address": "10.1.1.1/24"}),
    ]
    vms = [dev(9, "lic", cluster=None)]
    ips = [{"id": 5, "address": "10.1.1.1/24", "dns_name": "dns-a.example.org", "assigned_object": None}]
    frag = build(effective({"url": "https://nb", "token": "t"}), devices, vms, [], ips)
    assert_valid_fragment(frag)
    assert host(frag, "nsr01")["depends_on"] == ["dns-a.example.org", "lic", "gone"]
    assert host(frag, "dns-a.example.org")["addresses"] == ["10.1.1.1"]


@pytest.mark.parametrize("value, expected", [
    ("dns01 ldap01;lic01", ["dns01", "ldap01", "lic01"]),
    (["dns01", "DNS01", "ldap01"], ["dns01", "ldap01"]),
    ({"id": 3, "url": "x", "name": "single"}, ["single"]),
    ([{"value": "dns01", "label": "DNS 01"}, {"value": "ldap01", "label": "LDAP"}], ["dns01", "ldap01"]),
    ({"value": "dns01", "label": "DNS 01"}, ["dns01"]),
    ("", []), (None, []), ([], []),
])
def test_depends_on_shapes(value, expected):
    frag = build(effective({"url": "https://nb", "token": "t"}),
                 [dev(1, "h1", custom_fields={"depends_on": value, "bmr_methods": ["ReaR"]})], [], [], [])
    h = host(frag, "h1")
    assert h["depends_on"] == expected and h["bmr_methods"] == ["rear"]


def test_self_dependency_dropped_and_unset_sources_leave_attribute_out():
    cfg = effective({"url": "https://nb", "token": "t", "depends_on": {"custom_field": None},
                     "bmr_methods": {"custom_field": "nope"}})
    frag = build(cfg, [dev(1, "h1", custom_fields={"depends_on": "h1"})], [], [], [])
    h = host(frag, "h1")
    assert "depends_on" not in h and "depends_on" not in h.get("_unknown", {})  # not asked for
    assert "bmr_methods" not in h and "'nope'" in h["_unknown"]["bmr_methods"]
    frag = build(effective({"url": "https://nb", "token": "t"}),
                 [dev(1, "h1.example.org", custom_fields={"depends_on": "H1.example.org, x"})], [], [], [])
    assert host(frag, "h1.example.org")["depends_on"] == ["x"]


def test_independent_recovery_not_boolean_is_unknown():
    frag = build(effective({"url": "https://nb", "token": "t"}),
                 [dev(1, "h1", custom_fields={"independent_recovery": "maybe"}),
                  dev(2, "h2", custom_fields={"independent_recovery": "yes"})], [], [], [])
    assert "independent_recovery" not in host(frag, "h1") and "Boolean" in host(frag, "h1")["_unknown"]["independent_recovery"]
    assert host(frag, "h2")["independent_recovery"] is True


@pytest.mark.parametrize("slug, name, os_name", [
    ("rhel-8", "Red Hat Enterprise Linux 8", "linux"), ("win2019", "Windows Server 2019", "windows"),
    ("esxi-8", "VMware ESXi 8", "esxi"), ("aix-7-3", "AIX 7.3", "aix"), ("hp-ux-11i", "HP-UX", "hpux"),
    ("junos", "Junos", "other"),
])
def test_os_rules(slug, name, os_name):
    frag = build(effective({"url": "https://nb", "token": "t"}),
                 [dev(1, "h1", platform={"id": 1, "name": name, "slug": slug})], [], [], [])
    assert host(frag, "h1")["os"] == os_name


def test_old_service_shape_and_unknown_service_names():
    svcs = [{"id": 1, "name": "nfs", "protocol": {"value": "tcp"}, "ports": [2049], "device": {"id": 1}},
            {"id": 2, "name": "Custom App", "protocol": {"value": "tcp"}, "ports": [8443], "virtual_machine": None,
             "device": {"id": 1}}]
    frag = build(effective({"url": "https://nb", "token": "t"}), [dev(1, "h1")], [], svcs, [])
    assert host(frag, "h1")["services"] == ["nfs", "custom_app"]


def test_malformed_objects_are_incomplete_or_unknown_never_raise_or_vanish():
    cfg = effective({"url": "https://nb", "token": "t"})
    bad: list = []
    frag = build(cfg, [{"name": "x"}, "junk", dev(3, ["a", "list"]), dev(4, "y")], [], [], [{"id": 1}],
                 malformed=bad)
    x = host(frag, "x")  # no id: kept, but its services and addresses cannot be matched
    assert "services" not in x and "id" in x["_unknown"]["services"] and "addresses" in x["_unknown"]
    assert [i["kind"] for i in frag["incomplete"]] == ["host", "host"]
    assert "element 1" in frag["incomplete"][0]["reason"] and "name list" in frag["incomplete"][1]["reason"]
    assert "platform" not in x and "parent_device" in x["_unknown"]["platform"]  # not guessed 'physical'
    assert len(bad) == 5 and any("/api/ipam/ip-addresses/" in r and "address NoneType" in r for r in bad)
    # an IP whose owner cannot be told: every host's addresses are seen only in part
    assert "address NoneType" in host(frag, "y")["_partial"]["addresses"]


# --- tags and the backup exemption (COV-001) ------------------------------------------------------

def _tag(name, slug):
    return {"id": 1, "url": "", "display": name, "name": name, "slug": slug, "color": "ff0000"}


def _cf(**kw):
    return {"depends_on": None, "bmr_methods": None, "backup_exempt_reason": None, "backup_owner": None, **kw}


def test_tags_are_slugs_and_exemption_comes_from_the_reason_field():
    devices = [
        dev(1, "web01", tags=[_tag("Tier 1", "tier-1"), _tag("PCI", "pci")], custom_fields=_cf()),
        dev(2, "stateless01", tags=[_tag("Backup exempt", "backup-exempt")],
            custom_fields=_cf(backup_exempt_reason=" rebuilt from the golden image ", backup_owner="web-team")),
        dev(3, "cache01", custom_fields=_cf(backup_exempt_reason="cache only",
                                            backup_owner={"id": 4, "url": "", "display": "Ana Ops", "name": "Ana Ops"})),
        dev(4, "tagonly01", tags=[_tag("backup-exempt", "backup-exempt")], custom_fields=_cf(backup_owner="ops")),
        dev(5, "nofield01", custom_fields={"depends_on": None}),
    ]
    notes: list[str] = []
    frag = build(effective({"url": "https://nb", "token": "t"}), devices, [], [], [], note_list=notes)
    assert_valid_fragment(frag)
    assert host(frag, "web01")["tags"] == ["tier-1", "pci"] and "backup" not in host(frag, "web01")
    assert host(frag, "stateless01")["backup"] == {"exempt": True, "reason": "rebuilt from the golden image",
                                                   "owner": "web-team"}
    assert host(frag, "cache01")["backup"] == {"exempt": True, "reason": "cache only", "owner": "Ana Ops"}
    # the tag alone has no reason: recorded as such (it counts for nothing) and reported
    assert host(frag, "tagonly01")["backup"] == {"exempt": True, "reason": None, "owner": "ops"}
    assert notes == ["device 'tagonly01' tagged 'backup-exempt' without a reason in custom field "
                     "'backup_exempt_reason': not an exemption until the reason is recorded, so COV-001 judges it"]
    assert "backup" not in host(frag, "nofield01") and "backup" not in host(frag, "nofield01")["_unknown"]


def test_exemption_settings_are_configurable():
    devices = [dev(1, "a", tags=[_tag("No Backup", "no-backup")], custom_fields=_cf(why="lab box", who="me")),
               dev(2, "b", tags=[_tag("backup-exempt", "backup-exempt")], custom_fields=_cf())]
    settings = {"url": "https://nb", "token": "t", "backup_exemption": {
        "reason_custom_field": "why", "owner_custom_field": "who", "tag": "No Backup"}}
    jsonschema.Draft202012Validator(SCHEMA).validate(settings)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**settings, "backup_exemption": {"reason_field": "why"}}, SCHEMA)
    cfg = effective(settings)
    frag = build(cfg, devices, [], [], [])
    assert host(frag, "a")["backup"] == {"exempt": True, "reason": "lab box", "owner": "me"}
    assert "backup" not in host(frag, "b")  # the default tag is no longer read


@pytest.mark.parametrize("cfs, tags, why", [
    (_cf(backup_exempt_reason=["stateless", "cache"]), [],
     "custom field 'backup_exempt_reason' holds list ['stateless', 'cache'], not text"),
    (_cf(backup_exempt_reason=7), [], "custom field 'backup_exempt_reason' holds int 7, not text"),
    (_cf(backup_exempt_reason={"id": 3, "url": "https://nb/api/x/3/", "name": "x"}), [],
     "custom field 'backup_exempt_reason' holds an object, not text"),
    (_cf(backup_exempt_reason="ok", backup_owner=["a", "b"]), [], "custom field 'backup_owner' holds list"),
    ("oops", [], "has custom_fields str 'oops', not an object"),
    (_cf(), "backup-exempt", "has tags str 'backup-exempt', not a list of tag objects"),
])
def test_malformed_exemption_is_unknown_naming_the_object_and_field(cfs, tags, why):
    malformed: list[str] = []
    frag = build(effective({"url": "https://nb", "token": "t"}), [dev(1, "web01", custom_fields=cfs, tags=tags)],
                 [], [], [], malformed=malformed)
    h = host(frag, "web01")
    assert "backup" not in h
    assert h["_unknown"]["backup"].startswith("GET /api/dcim/devices/: device 'web01'")
    assert why in h["_unknown"]["backup"] and any(why in r for r in malformed)


HOSTILE = [None, "", " ", "x", 0, -1, True, 1.5, [], [None], ["a"], {}, {"id": "x"}, {"value": []},
           {"value": "v", "label": "L"}, {"id": 1, "url": "https://nb/api/users/users/1/", "display": "Ana"},
           [[[]]], "\x1b[31m\r\n::error::pwned", "a" * 5000]


@pytest.mark.parametrize("field", ["backup_exempt_reason", "backup_owner"])
def test_every_hostile_exemption_value_is_an_exemption_with_a_reason_or_unknown(field):
    """A reason or owner of any shape: the host gets a text reason, no exemption, or `_unknown` with the
    field named; never an exemption without a text reason and never backup both known and unknown."""
    cfg = effective({"url": "https://nb", "token": "t"})
    for value in HOSTILE:
        base = {"backup_exempt_reason": "stateless", "backup_owner": "ops"}
        frag = build(cfg, [dev(1, "web01", custom_fields=_cf(**{**base, field: value}))], [], [], [])
        assert_valid_fragment(frag)
        h = host(frag, "web01")
        if "backup" in h.get("_unknown", {}):
            assert "backup" not in h and f"custom field '{field}'" in h["_unknown"]["backup"], value
        elif "backup" in h:
            b = h["backup"]
            assert isinstance(b["reason"], str) and b["reason"].strip(), value
            assert b["owner"] is None or isinstance(b["owner"], str), value
        else:
            assert field == "backup_exempt_reason" and value in (None, "", " "), value
