"""Issue 16 item 9: every fault of the proxy, injected between a third-party-style collector and its
server, through the whole CLI: the failing server never comes out `pass` and the gate never opens."""
from __future__ import annotations

import json

import pytest
from relhelpers import run_main, write_config

from policycheck.testing import ALL_TRANSPORT_FAULTS, FaultProxy, faults

ELEMENT_FAULTS = [faults.corrupt(p, a) for p in ("/items/0/roles", "/items/0/services", "/items/0/name",
                                                  "/items/0", "/items", "/count")
                  for a in ("drop", "type", "bad_time", "null")]
FAULTS = [f for f in ALL_TRANSPORT_FAULTS if f.kind != "stall"] + [faults.stall(5)] + ELEMENT_FAULTS
FAULT_COUNT = len(FAULTS)


def _verdict(tmp_path, url):
    cfg = write_config(tmp_path, url, timeout=1.5)
    out = tmp_path / "r.json"
    rc, _, err = run_main(["check", "-c", cfg, "--json", out, "--format", "brief"])
    assert rc in (1, 3), err
    doc = json.loads(out.read_text())
    return rc, {r["target_id"]: r["status"] for r in doc["results"]}


def test_without_fault_bk01_fails(tmp_path, with_plugin, upstream):
    rc, st = _verdict(tmp_path, upstream.url)
    assert rc == 1 and st == {"bk01.corp.example": "fail", "bk02.corp.example": "pass"}


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_no_fault_turns_a_fail_into_a_pass(tmp_path, with_plugin, upstream, fault):
    with FaultProxy(upstream.url) as proxy:
        proxy.inject("/api/servers", fault)
        rc, st = _verdict(tmp_path, proxy.url)
        assert proxy.applied
    # only the dedicated server may pass; the file-serving one fails or is an error, whatever its name
    assert [t for t, s in st.items() if s == "pass"] in ([], ["bk02.corp.example"]), st
    assert rc != 0 and any(s in ("fail", "error") for s in st.values()), st
