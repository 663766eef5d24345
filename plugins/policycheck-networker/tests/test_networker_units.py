"""Small pieces: registration and config schema, URL building, time parsing, device naming, save set kinds."""
from __future__ import annotations

from datetime import timedelta

import jsonschema
import pytest
from policycheck_networker import client as api
from policycheck_networker.mapping import backups, infra, times

from policycheck.api import CollectorError


def test_registered_through_the_entry_point_group():
    from importlib.metadata import entry_points

    eps = {ep.name: ep for ep in entry_points(group="policycheck")}
    assert eps["networker"].value == "policycheck_networker.plugin"
    (collector,) = eps["networker"].load().policycheck_collectors()
    assert collector.name == "networker" and "bootstrap" in collector.kinds and "device" in collector.kinds


def test_config_schema():
    from policycheck_networker.plugin import SCHEMA

    v = jsonschema.Draft202012Validator(SCHEMA)
    assert not list(v.iter_errors({"url": "nsr01", "username": "audit", "password": "x", "ca_bundle": "/ca.pem",
                                   "api_version": "v2", "verify_tls": True}))
    assert list(v.iter_errors({"url": "nsr01", "username": "audit", "password_file": "/pw"}))  # resolved before
    assert list(v.iter_errors({"url": "nsr01", "username": "audit", "password": "x", "offset": 0}))
    assert list(v.iter_errors({"url": "nsr01", "username": "audit", "password": "x", "api_version": "v1"}))


@pytest.mark.parametrize("url,expected", [
    ("nsr01.corp.example", "https://nsr01.corp.example:9090/nwrestapi/v3/global"),
    ("https://nsr01.corp.example", "https://nsr01.corp.example:9090/nwrestapi/v3/global"),
    ("https://nsr01:8443/", "https://nsr01:8443/nwrestapi/v3/global"),
    ("http://127.0.0.1:1234", "http://127.0.0.1:1234/nwrestapi/v3/global"),
])
def test_base_url(url, expected):
    assert api.base_url(url)[0] == expected


def test_base_url_v2_and_bad():
    assert api.base_url("nsr01", "v2")[0].endswith("/nwrestapi/v2/global")
    with pytest.raises(CollectorError):
        api.base_url("ftp://nsr01")


def test_times_keep_offset_and_compare_across_offsets():
    a = times.parse("2026-11-18T04:27:31-05:00")
    b = times.parse("2026-11-18T10:00:00+01:00")  # 04:00 in -05:00: earlier than a
    assert a.utcoffset() == timedelta(hours=-5) and times.iso(a) == "2026-11-18T04:27:31-05:00"
    assert b < a
    assert times.parse("2026-11-18T04:27:31-0500") == a
    assert times.parse("2026-11-18T09:27:31Z") == a
    assert times.parse("2026-11-18T04:27:31") is None  # no offset: unknown zone, not guessed
    assert times.parse("yesterday") is None and times.parse(None) is None


def test_device_names_and_media():
    assert infra.split_device_name("rd=sn01.corp:/nsr/aftd1") == ("sn01.corp", "/nsr/aftd1")
    assert infra.split_device_name("/nsr/aftd1") == (None, "/nsr/aftd1")
    assert infra.split_device_name("DD_Boost_01") == (None, "DD_Boost_01")
    assert infra.media_type({"mediaType": "LTO Ultrium-8", "mediaFamily": "Tape"}) == "tape"
    assert infra.media_type({"mediaType": "Data Domain"}) == "dedup"
    assert infra.media_type({"mediaType": "adv_file"}) == "disk"
    assert infra.media_type({"mediaType": "Cloud Boost"}) == "cloud"
    assert infra.media_type({"mediaType": "something new"}) is None
    assert infra.data_host({"mediaType": "adv_file", "deviceAccessInfo": "nfs01:/export/x"}, "nsr") == "nfs01"
    assert infra.data_host({"mediaType": "adv_file", "deviceAccessInfo": "C:\\nsr\\aftd"}, "nsr") == "nsr"


def test_server_owns_its_names():
    s = infra.Server({"name": "NSR01.corp.example"}, "10.0.0.5")
    assert s.id == "nsr01.corp.example" and s.aliases == ["10.0.0.5", "nsr01"]
    for n in ("nsr01", "NSR01.CORP.EXAMPLE", "nsrserverhost", "10.0.0.5"):
        assert s.owns(n), n
    assert not s.owns("nsr01.other.example") and not s.owns("sn01.corp.example")
    shortly = infra.Server({"name": "nsr01"}, "nsr01")  # a server that knows itself by its short name
    assert shortly.owns("nsr01.corp.example") and not shortly.owns("sn01.corp.example")
    assert not shortly.owns("") and not shortly.owns(None)


@pytest.mark.parametrize("b,kind", [
    ({"name": "bootstrap"}, "bootstrap"),
    ({"name": "index:4e1c0c29-00000004-5a4c1b2e-5a4c1b2d-0001"}, "index"),
    ({"name": "DISASTER_RECOVERY:\\"}, "bmr"),
    ({"name": "vm:5029:vc01"}, "image"),
    ({"name": "/data", "attributes": [{"key": "*vm_name", "values": ["web01"]}]}, "image"),
    ({"name": "C:\\"}, "filesystem"),
])
def test_classify(b, kind):
    assert backups.classify(b) == kind


def test_unusable_instances_are_not_copies():
    b = {"instances": [{"status": "Aborted"}, {"status": "InProgress"}, {"status": "Recyclable"},
                       {"status": "Browsable"}, {"status": "Recoverable"}]}
    assert [i["status"] for i in backups.usable_instances(b)] == ["Browsable", "Recoverable"]


def test_where_an_unmounted_copy_is():
    s = infra.Server({"name": "nsr01.corp.example"}, "nsr01.corp.example")
    devs = infra.Devices(s, [], [])
    jbs = infra.Jukeboxes(s, [{"name": "TL02", "devices": ["rd=sn01.corp.example:/dev/nst1"], "volumes": ["T2"]}], devs)
    vols = infra.Volumes([{"id": "1", "name": "T2"}, {"id": "2", "name": "DDV", "location": "10.31.196.90"},
                          {"id": "3", "name": "V3", "location": "Off-site safe, building B"},
                          {"id": "4", "name": "V4", "location": "nsr01"}, {"id": "5", "name": "V5"}], devs, jbs)
    bf = backups.BackupFacts(s, devs, vols, [])
    where = {v: bf._unmounted(vols.get(v, devs)) for v in "12345"}
    assert where["1"]["location_host"] == "sn01.corp.example" and where["1"]["local_to_server"] is False
    assert where["2"] == {"location": "10.31.196.90", "location_host": "10.31.196.90", "local_to_server": False}
    assert where["3"]["offsite"] is True and where["3"]["local_to_server"] is False
    assert where["4"]["local_to_server"] is True  # not a dotted name, but the server's own short name
    assert where["5"] == {"location": None}  # unknown: no local_to_server claimed either way


def test_time_keys_compare_as_instants_across_offsets():
    """Latest-of comparisons use texts in the server's first offset; a time in another offset (daylight
    saving) is converted, an unreadable one is None (never compared as text)."""
    server = infra.Server({"name": "nsr01"}, "nsr01")
    devices = infra.Devices(server, [], [])
    bf = backups.BackupFacts(server, devices, infra.Volumes([], devices), [])
    first = bf.time_key("2026-11-01T01:10:00-05:00")  # 06:10Z, sets the offset
    summer = bf.time_key("2026-11-01T01:30:00-04:00")  # 05:30Z: earlier although its text is later
    assert first == "2026-11-01T01:10:00-05:00" and summer == "2026-11-01T00:30:00-05:00" and first > summer
    assert bf.time_key("2026-11-01 01:20:00-05:00") == "2026-11-01T01:20:00-05:00"  # space separator
    assert bf.time_key("2026-13-01T01:20:00-05:00") is None  # month 13: same shape, not a time
    assert bf.time_key("2026-11-01T01:20:00") is None  # no offset: its zone is unknown
    assert bf.time_key(None) is None
