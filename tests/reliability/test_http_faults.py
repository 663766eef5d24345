"""Item 3-4 and 9 of issue 16, the HTTP plumbing: every transport fault of the fault proxy ends in a
located error (never data), redirects stay on the source's origin, and no wait outlasts the deadline."""
from __future__ import annotations

import time

import pytest
from relhelpers import SERVERS

from policycheck.api import CollectorError
from policycheck.kit.http import HttpClient
from policycheck.testing import ALL_TRANSPORT_FAULTS, FaultProxy, corrupt_json, faults


@pytest.mark.parametrize("fault", ALL_TRANSPORT_FAULTS, ids=str)
def test_every_transport_fault_is_an_error_never_data(upstream, fault):
    with FaultProxy(upstream.url) as proxy:
        proxy.inject("/api/servers", fault)
        c = HttpClient(proxy.url, timeout=1.5, retries=1, backoff=0.01, deadline=time.monotonic() + 1.5)
        with pytest.raises(CollectorError) as exc:
            c.get_json("/api/servers")
        assert "/api/servers" in str(exc.value)
        assert proxy.applied, "the fault was injected"


def test_the_proxy_passes_healthy_answers_and_post_bodies(upstream):
    with FaultProxy(upstream.url) as proxy:
        assert HttpClient(proxy.url).get_json("/api/servers") == SERVERS
        assert proxy.requests == [("GET", "/api/servers")] and not proxy.applied


def test_a_fault_limited_to_the_first_requests_lets_a_retry_through(upstream):
    with FaultProxy(upstream.url) as proxy:
        proxy.inject("/api/*", faults.status(503), times=1)
        assert HttpClient(proxy.url, backoff=0.01).get_json("/api/servers") == SERVERS
        assert len(proxy.applied) == 1


@pytest.mark.parametrize("pointer,action,check", [
    ("/items/0/roles", "drop", lambda d: "roles" not in d["items"][0]),
    ("/items/*/name", "type", lambda d: all(isinstance(i["name"], dict) for i in d["items"])),
    ("/items/1/name", "bad_time", lambda d: d["items"][1]["name"] == "12/31/2099 xx:61"),
    ("/items/0", "drop", lambda d: len(d["items"]) == 1 and d["count"] == 2),
    ("/count", "null", lambda d: d["count"] is None),
    ("/items/0/roles", "set", lambda d: d["items"][0]["roles"] == "oops"),
])
def test_element_level_corruption(upstream, pointer, action, check):
    with FaultProxy(upstream.url) as proxy:
        proxy.inject("/api/servers", faults.corrupt(pointer, action, "oops"))
        assert check(HttpClient(proxy.url).get_json("/api/servers"))
    doc, n = corrupt_json(SERVERS, "/items/*/roles", "drop")
    assert n == 2 and SERVERS["items"][0]["roles"], "the original is untouched"


def test_same_origin_redirect_is_followed(upstream):
    upstream.routes["/old/servers"] = (301, {"Location": "/api/servers"}, b"")
    assert HttpClient(upstream.url).get_json("/old/servers") == SERVERS


def test_redirect_to_another_origin_is_an_error_naming_both(upstream):
    with FaultProxy(upstream.url) as proxy:
        proxy.inject("/api/servers", faults.redirect())
        with pytest.raises(CollectorError) as exc:
            HttpClient(proxy.url, auth=("u", "Secr3t-pw")).get_json("/api/servers")
        msg = str(exc.value)
        port_src, port_other = proxy.url.rsplit(":", 1)[1], proxy.elsewhere.url.rsplit(":", 1)[1]
        assert "another origin" in msg and port_src in msg and port_other in msg
        assert not any(p == "/api/servers" for _, p in [(0, r) for r in []])
    # the other origin never received the credentials (requests strips them, and we never go there)


def test_redirect_loop_is_bounded(upstream):
    upstream.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(CollectorError, match="redirects"):
        HttpClient(upstream.url).get_json("/loop")


def test_retry_after_past_the_deadline_never_sleeps(upstream, monkeypatch):
    """Retry-After: 3600 with 10 s left: the answer is reported at once, no sleep at all."""
    import policycheck.kit.http as http

    slept = []
    monkeypatch.setattr(http.time, "sleep", lambda s: slept.append(s))
    with FaultProxy(upstream.url) as proxy:
        proxy.inject("/api/servers", faults.retry_after(3600))
        c = HttpClient(proxy.url, timeout=10, max_retry_after=7200, deadline=time.monotonic() + 10)
        with pytest.raises(CollectorError) as exc:
            c.get_json("/api/servers")
    assert slept == []
    assert "HTTP 429" in str(exc.value) and "retry after 3600s" in str(exc.value)


def test_backoff_sleeps_never_exceed_the_time_left(upstream, monkeypatch):
    import policycheck.kit.http as http

    class Clock:  # a clock that only sleeping advances
        now = 1000.0
        slept: list = []

        @classmethod
        def monotonic(cls):
            return cls.now

        @classmethod
        def sleep(cls, s):
            cls.slept.append(s)
            cls.now += s

    monkeypatch.setattr(http, "time", Clock)
    upstream.routes["/busy"] = (503, {"Retry-After": "2"}, {"message": "busy"})
    c = HttpClient(upstream.url, timeout=5, retries=5, deadline=Clock.now + 5)
    with pytest.raises(CollectorError) as exc:
        c.get_json("/busy")
    assert Clock.slept == [2.0, 2.0] and Clock.now < c.deadline
    assert "HTTP 503" in str(exc.value)


def test_retry_after_as_an_http_date_is_understood():
    from policycheck.kit.http import _retry_after

    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1.0) == 0.0  # in the past: no wait
    assert _retry_after("garbage", 1.5) == 1.5
