"""Hostile NetBox answers and hostile config (issue 16): a malformed element is unknown with the reason,
never dropped and never a crash; credentials in the URL are refused; the token never reaches an output."""
from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from fakenetbox import FakeNetBox, sample_data  # noqa: E402
from policycheck_netbox.mapping import build  # noqa: E402
from policycheck_netbox.plugin import collect  # noqa: E402
from policycheck_netbox.schema import effective  # noqa: E402

from policycheck.api import CollectContext, CollectorError  # noqa: E402
from policycheck.facts import check_fragment  # noqa: E402
from policycheck.testing import assert_valid_fragment  # noqa: E402

# distinctive, so that a leak in any output is found by a plain search
TOKEN = "nbt_leakcanary0001.Z9yLeakCanarySecretQ7wX3vB8nM2kJ5hG"
SECRET_PART = TOKEN.split(".", 1)[1]
NSR = "nsr-dir.corp.example"


def run(fake, **extra):
    ctx = CollectContext(source="nb", timeout=10, secrets=[TOKEN], log=lambda m: None)
    return collect({"url": fake.url, "token": TOKEN, "retries": 0, **extra}, ctx), ctx


def hosts(frag):
    return {h["id"]: h for h in frag["entities"]["host"]}


# ---- services whose host cannot be told: every host's services unknown, never detached ---------------
@pytest.mark.parametrize("mutate, field", [
    (lambda s: s.pop("parent_object_type"), "parent_object_type"),
    (lambda s: s.update(parent_object_type=None, parent_object_id=None), "parent_object_type"),
    (lambda s: s.update(parent_object_type="dcim.rack"), "parent_object_type"),
    (lambda s: s.update(parent_object_id="1"), "parent_object_id"),
    (lambda s: s.update(parent_object_type=None, device="nsr"), "device"),
])
def test_service_without_a_tellable_parent_makes_every_hosts_services_unknown(mutate, field):
    data = sample_data()
    mutate(data["services"][0])  # nfs on NSR-DIR
    with FakeNetBox(data, TOKEN) as fake:
        frag, ctx = run(fake)
    assert_valid_fragment(frag)
    for h in frag["entities"]["host"]:  # any host may serve it, the backup server included
        assert "services" not in h, h["id"]
        why = h["_unknown"]["services"]
        assert "GET /api/ipam/services/" in why and "service 1 ('nfs')" in why and field in why
    assert hosts(frag)[NSR]["roles"] == ["backup_server"]  # the rest stays known
    assert [w for w in ctx.warnings if "1 malformed element" in w and "/api/ipam/services/" in w]


def test_malformed_service_fields_make_only_its_hosts_services_unknown():
    data = sample_data()
    data["services"][0]["ports"] = "2049"
    with FakeNetBox(data, TOKEN) as fake:
        frag, ctx = run(fake)
    h = hosts(frag)
    assert "services" not in h[NSR] and "ports str '2049'" in h[NSR]["_unknown"]["services"]
    assert h["chassis01"]["services"] == ["vrrp"] and h["bkp2"]["services"] == []
    assert any("1 malformed" in w for w in ctx.warnings)


def test_fhrp_assignments_refused_services_unknown_with_endpoint_and_permission():
    with FakeNetBox(sample_data(), TOKEN) as fake:
        fake.faults["/api/ipam/fhrp-group-assignments/"] = 403
        frag, ctx = run(fake)
    for h in frag["entities"]["host"]:
        why = h["_unknown"]["services"]
        assert "fhrp-group-assignments" in why and "403" in why and "FHRP group assignment" in why
        assert "service 5 ('vrrp')" in why
    assert any("fhrp-group-assignments" in w for w in ctx.warnings)


def test_garbage_list_elements_are_counted_not_crashed():
    data = sample_data()
    data["services"] += [7, None, "nfs"]
    data["devices"] += [["x"]]
    data["ips"] += [{"id": 99, "address": ["10.9.9.9"], "assigned_object": {"device": {"id": 2}}}]
    with FakeNetBox(data, TOKEN) as fake:
        frag, ctx = run(fake)
    (w,) = [w for w in ctx.warnings if "malformed" in w]
    assert "netbox: 5 malformed element(s)" in w and "(2 more)" in w
    assert frag["incomplete"] == [{"kind": "host", "reason": "GET /api/dcim/devices/: element 5 of the list is "
                                   "list ['x'], not a device object"}]
    bkp2 = hosts(frag)["bkp2"]
    assert "addresses" in bkp2["_unknown"] and "IP address 99" in bkp2["_unknown"]["addresses"]


HOSTILE = [None, "", "x", 0, -1, True, 1.5, [], [None], {}, {"id": "x"}, [[[]]], {"value": []},
           "\x1b[31m\r\n::error::pwned", "a" * 5000]


def _corruptions():
    data = sample_data()
    for kind, lst in data.items():
        for i, el in enumerate(lst):
            yield kind, i, None, "<whole>"
            for key in list(el):
                yield kind, i, key, "<missing>"
                for j in range(len(HOSTILE)):
                    yield kind, i, key, j


def test_every_field_of_every_element_corrupted_never_crashes_or_detaches():
    """Each field of each sample element replaced by each hostile value (or removed): build() returns a
    fragment the core accepts, no attribute is both known and unknown, and NSR-DIR's services are
    either complete (nfs and backup still counted) or unknown, never silently one short."""
    cfg = effective({"url": "https://nb", "token": "t"})
    n = 0
    for kind, i, key, how in _corruptions():
        data = copy.deepcopy(sample_data())
        if key is None:
            data[kind][i] = "garbage"
        elif how == "<missing>":
            del data[kind][i][key]
        else:
            data[kind][i][key] = copy.deepcopy(HOSTILE[how])
        fhrp_members = {1: {("dcim.device", 3)}}
        from policycheck_netbox.mapping import fhrp_members as members
        bad: list = []
        fhrp = members(data["fhrp"], bad) if kind == "fhrp" else fhrp_members
        frag = build(cfg, data["devices"], data["vms"], data["services"], data["ips"], fhrp, bad)
        n += 1
        check_fragment(frag, "nb")
        assert_valid_fragment({"entities": frag["entities"]})
        for h in frag["entities"]["host"]:
            for attr in h.get("_unknown", {}):
                assert attr not in h and attr not in h.get("_partial", {}), (kind, i, key, how, attr)
        nsr = hosts(frag).get(NSR)
        svc_untouched = not (kind == "services" and key == "parent_object_id" and how not in ("<missing>",)
                             and isinstance(HOSTILE[how], int) and not isinstance(HOSTILE[how], bool))
        if nsr is not None and svc_untouched and kind in ("services", "ips", "fhrp", "vms"):
            assert "services" in nsr.get("_unknown", {}) or len(nsr["services"]) == 2, (kind, i, key, how)
        if kind == "services" and key in ("parent_object_type",) and how != "<missing>" and i == 0:
            assert nsr is None or "services" in nsr.get("_unknown", {}), (kind, i, key, how)
    assert n > 1500, n


# ---- credentials in the URL ----------------------------------------------------------------------
def test_url_with_credentials_is_refused_by_the_collector_without_sending_them():
    with FakeNetBox(sample_data(), TOKEN) as fake:
        url = fake.url.replace("http://", "http://audit:Hunter2Url@")
        ctx = CollectContext(source="nb", timeout=5, secrets=[TOKEN])
        with pytest.raises(CollectorError) as ei:
            collect({"url": url, "token": TOKEN, "verify_tls": False}, ctx)
        assert fake.requests == []  # nothing sent: no Basic auth built from the URL
    msg = str(ei.value)
    assert "Hunter2Url" not in msg and "audit" not in msg and "token_file" in msg
    assert "Hunter2Url" not in json.dumps(ctx.warnings)


def _pc(*args, cwd):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([sys.executable, "-m", "policycheck", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env, check=False)


def test_url_with_credentials_is_a_located_config_error(tmp_path):
    (tmp_path / "t").write_text(TOKEN)
    (tmp_path / "c.yaml").write_text(
        "version: 1\nsources:\n  - name: netbox\n    plugin: netbox\n"
        "    url: https://audit:Hunter2Url@netbox.corp.example\n    token_file: t\n    verify_tls: false\n")
    for cmd in (["check"], ["collect", "-o", str(tmp_path / "f.json")]):
        r = _pc(*cmd, "-c", str(tmp_path / "c.yaml"), cwd=tmp_path)
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert f"{tmp_path / 'c.yaml'}:5:" in r.stderr and "token/token_file" in r.stderr, r.stderr
        out = r.stdout + r.stderr
        for needle in ("Hunter2Url", "audit:", "Traceback", "internal error", "TLS verification is OFF"):
            assert needle not in out, (needle, out)
    assert not (tmp_path / "f.json").exists()


# ---- no token in any output, even when the server echoes it ------------------------------------------
def _encodings(secret: str) -> list[str]:
    return [secret, urllib.parse.quote(secret, safe=""), json.dumps(secret)[1:-1],
            base64.b64encode(secret.encode()).decode(), base64.b64encode(f"Bearer {secret}".encode()).decode()]


def test_token_never_in_any_output_even_when_echoed(tmp_path):
    data = sample_data()
    with FakeNetBox(data, TOKEN) as fake:
        fake.faults["/api/ipam/fhrp-group-assignments/"] = "echo403"  # optional endpoint: facts keep going
        (tmp_path / "t").write_text(TOKEN + "\n")
        cfg = {"version": 1, "sources": [{"name": "netbox", "plugin": "netbox", "timeout": 20, "url": fake.url,
                                          "token_file": "t", "retries": 0, "verify_tls": False}]}
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        runs = [_pc("check", "-c", "c.yaml", "--format", "text", "--json", "r.json", "--junit", "r.xml",
                    "--markdown", "r.md", cwd=tmp_path),
                _pc("audit", "-c", "c.yaml", cwd=tmp_path),
                _pc("collect", "-c", "c.yaml", "-o", "facts.json", cwd=tmp_path)]
        fake.faults["/api/dcim/devices/"] = "echo403"  # now the source fails on a required list
        runs.append(_pc("check", "-c", "c.yaml", "--format", "json", "-o", "fail.json", cwd=tmp_path))
    for r in runs:
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr[-2000:]
    facts = json.loads((tmp_path / "facts.json").read_text())
    nsr = [h for h in facts["entities"]["host"] if h["id"] == NSR][0]
    assert "fhrp-group-assignments" in nsr["_unknown"]["services"]  # the echo reached the facts, redacted
    assert "403" in (tmp_path / "fail.json").read_text()
    texts = [r.stdout + r.stderr for r in runs] + [
        (tmp_path / f).read_text() for f in ("r.json", "r.xml", "r.md", "facts.json", "fail.json")]
    for t in texts:
        for enc in _encodings(TOKEN) + _encodings(SECRET_PART):
            assert enc not in t, enc


# ---- verdicts end to end (policycheck check over the fake) ------------------------------------------
def _bsrv001(tmp_path, data, **extra):
    with FakeNetBox(data, TOKEN) as fake:
        (tmp_path / "t").write_text(TOKEN)
        src = {"name": "netbox", "plugin": "netbox", "timeout": 20, "url": fake.url, "token_file": "t",
               "retries": 0, **extra}
        (tmp_path / "c.yaml").write_text(yaml.safe_dump({"version": 1, "sources": [src]}, sort_keys=False))
        r = _pc("check", "-c", "c.yaml", "--format", "json", "--select", "BSRV-001", cwd=tmp_path)
    assert r.stdout.strip(), r.stderr[-2000:]
    return {x["target_id"]: x for x in json.loads(r.stdout)["results"]}, r


def test_bsrv001_verdicts_detached_service_and_partial_lists(tmp_path):
    claimed = {"complete": ["roles", "services"]}
    v, _ = _bsrv001(tmp_path, sample_data(), **claimed)
    assert v["bkp2"]["status"] == "pass" and v[NSR]["status"] == "fail"  # nfs on the backup server
    data = sample_data()
    data["services"].append({"id": 9, "name": "nfs", "protocol": {"value": "tcp"}, "ports": [2049],
                             "parent_object_type": None, "parent_object_id": None})
    v, r = _bsrv001(tmp_path, data, **claimed)
    assert v["bkp2"]["status"] == "error", v["bkp2"]  # it may be bkp2's NFS: never a pass
    assert "malformed" in r.stderr and "service 9" in r.stderr
    v, _ = _bsrv001(tmp_path, sample_data())  # nothing claimed complete: no pass from NetBox alone
    assert v["bkp2"]["status"] == "error"
