"""policycheck.kit.http: HttpError's status and endpoint, get_json's size cap, the two paginators."""
from __future__ import annotations

import gzip

import pytest

from policycheck.api import CollectorError
from policycheck.kit.http import HttpClient, HttpError
from policycheck.testing import Answer, FakeHTTPServer, free_port, json_answer


@pytest.fixture
def srv():
    with FakeHTTPServer() as s:
        yield s


def test_a_404_carries_its_status_and_endpoint(srv):
    with pytest.raises(HttpError) as exc:
        HttpClient(srv.url).get_json("/api/v1/missing", params={"q": "x"})
    e = exc.value
    assert isinstance(e, CollectorError)
    assert e.status == 404 and e.endpoint == "/api/v1/missing"
    assert str(e).startswith(f"HTTP 404 Not Found from {srv.url}/api/v1/missing (wrong URL or API version?)")
    assert "q=x" not in str(e)


def test_a_500_carries_its_status_and_the_servers_message(srv):
    srv.routes[("GET", "/api/jobs")] = json_answer({"message": "database down"}, status=500)
    with pytest.raises(HttpError) as exc:
        HttpClient(srv.url, retries=0).get_json("/api/jobs")
    assert exc.value.status == 500 and exc.value.endpoint == "/api/jobs"
    assert "HTTP 500" in str(exc.value) and "database down" in str(exc.value)


def test_connection_refused_has_no_status_but_names_the_endpoint():
    with pytest.raises(HttpError) as exc:
        HttpClient(f"http://127.0.0.1:{free_port()}/base", retries=0).get_json("items")
    assert exc.value.status is None and exc.value.endpoint == "/base/items"
    assert str(exc.value).startswith("cannot connect to http://127.0.0.1:")


def test_an_error_message_never_shows_the_token(srv):
    srv.routes[("GET", "/echo")] = lambda req: json_answer({"detail": f"bad {req.headers['Authorization']}"},
                                                            status=403)
    with pytest.raises(HttpError) as exc:
        HttpClient(srv.url, token="tok-very-secret").get_json("/echo")
    assert exc.value.status == 403 and "tok-very-secret" not in str(exc.value) and "***" in str(exc.value)


def test_get_json_returns_the_body_and_sends_the_headers(srv):
    srv.routes[("GET", "/api/x")] = json_answer({"ok": [1, 2]})
    assert HttpClient(srv.url, token="t0ken").get_json("/api/x", params={"a": "b"}) == {"ok": [1, 2]}
    req = srv.requests[-1]
    assert req.headers["Authorization"] == "Bearer t0ken" and req.arg("a") == "b"


def test_a_body_over_max_bytes_is_refused_with_the_endpoint_named(srv):
    srv.routes[("GET", "/api/big")] = json_answer({"items": ["x" * 100] * 30})
    c = HttpClient(srv.url)
    with pytest.raises(HttpError) as exc:
        c.get_json("/api/big", max_bytes=1000)
    assert exc.value.endpoint == "/api/big" and exc.value.status is None
    assert f"the answer from {srv.url}/api/big is larger than 1000 bytes (max_bytes)" in str(exc.value)
    assert len(c.get_json("/api/big", max_bytes=10000)["items"]) == 30


def test_the_cap_counts_decoded_bytes_not_the_announced_length(srv):
    """A small gzip body that inflates past the cap (Content-Length says only the compressed size)."""
    body = gzip.compress(b'{"pad": "' + b"0" * 200000 + b'"}')
    srv.routes[("GET", "/api/bomb")] = Answer(200, body, {"Content-Encoding": "gzip"})
    assert len(body) < 10000
    with pytest.raises(HttpError, match="larger than 10000 bytes") as exc:
        HttpClient(srv.url).get_json("/api/bomb", max_bytes=10000)
    assert exc.value.endpoint == "/api/bomb"


def test_malformed_json_is_an_http_error(srv):
    srv.routes[("GET", "/api/bad")] = Answer(200, b"{not json")
    with pytest.raises(HttpError, match="malformed JSON from") as exc:
        HttpClient(srv.url).get_json("/api/bad")
    assert exc.value.status is None and exc.value.endpoint == "/api/bad"


# --- next-link pagination (NetBox / Django REST framework) -------------------------------------


def _drf_pages(srv, items, size, host=None):
    def page(req):
        offset = int(req.arg("offset", "0"))
        chunk = items[offset:offset + size]
        nxt = None
        if offset + size < len(items):
            nxt = f"{host or srv.url}/api/devices/?limit={size}&offset={offset + size}"
        return json_answer({"count": len(items), "next": nxt, "previous": None, "results": chunk})
    srv.routes[("GET", "/api/devices/")] = page


def test_next_link_pagination_follows_next_until_null(srv):
    items = [{"id": i} for i in range(25)]
    _drf_pages(srv, items, 10)
    got = list(HttpClient(srv.url).paginate("/api/devices/", {"status": "active"}, page_size=10))
    assert got == items
    assert [r.target for r in srv.requests] == [
        "/api/devices/?status=active&limit=10", "/api/devices/?limit=10&offset=10",
        "/api/devices/?limit=10&offset=20"]


def test_a_next_link_to_another_host_is_refused_and_never_requested(srv):
    items = [{"id": i} for i in range(5)]
    _drf_pages(srv, items, 2, host=f"http://evil.example:{srv.port}")
    c = HttpClient(srv.url, token="secret-token")
    got = []
    with pytest.raises(HttpError, match=r"next-page link points at another host \(evil.example\)") as exc:
        got.extend(c.paginate("/api/devices/"))
    assert got == items[:2] and len(srv.requests) == 1
    assert exc.value.endpoint == "/api/devices/"


def test_a_next_link_with_another_scheme_on_the_same_host_keeps_ours(srv):
    items = [{"id": i} for i in range(3)]
    _drf_pages(srv, items, 2, host=f"https://127.0.0.1:{srv.port}")  # what a TLS proxy hands out
    assert list(HttpClient(srv.url).paginate("/api/devices/")) == items


def test_a_page_without_the_results_list_is_an_error(srv):
    srv.routes[("GET", "/api/devices/")] = json_answer({"detail": "oops"})
    with pytest.raises(HttpError, match="no 'results' list") as exc:
        list(HttpClient(srv.url).paginate("/api/devices/"))
    assert exc.value.endpoint == "/api/devices/"


def test_more_pages_than_max_pages_is_an_error(srv):
    srv.routes[("GET", "/api/loop")] = json_answer({"results": [1], "next": "/api/loop"})
    with pytest.raises(HttpError, match="more than 3 pages"):
        list(HttpClient(srv.url).paginate("/api/loop", max_pages=3))


# --- offset/limit pagination -------------------------------------------------------------------


def _offset_pages(srv, items, key="results"):
    def page(req):
        off, lim = int(req.arg("offset")), int(req.arg("limit"))
        chunk = items[off:off + lim]
        return json_answer(chunk if key is None else {"count": len(items), key: chunk})
    srv.routes[("GET", "/api/jobs")] = page


@pytest.mark.parametrize("n", [0, 7, 250, 200])
def test_offset_pagination_reads_until_a_short_page(srv, n):
    items = [{"id": i} for i in range(n)]
    _offset_pages(srv, items, key="jobs")
    got = list(HttpClient(srv.url).paginate("/api/jobs", {"type": "backup"}, style="offset", results_key="jobs",
                                            page_size=100))
    assert got == items
    assert [r.arg("offset") for r in srv.requests] == [str(o) for o in range(0, n // 100 * 100 + 1, 100)]
    assert all(r.arg("limit") == "100" and r.arg("type") == "backup" for r in srv.requests)


def test_offset_pagination_of_bare_lists_with_other_parameter_names(srv):
    items = list(range(5))

    def page(req):
        start, size = int(req.arg("start")), int(req.arg("count"))
        return json_answer(items[start:start + size])
    srv.routes[("GET", "/api/raw")] = page
    got = list(HttpClient(srv.url).paginate("/api/raw", style="offset", results_key=None, limit_param="count",
                                            offset_param="start", page_size=2))
    assert got == items and [r.arg("start") for r in srv.requests] == ["0", "2", "4"]


def test_an_offset_page_of_the_wrong_shape_is_an_error(srv):
    srv.routes[("GET", "/api/jobs")] = json_answer({"jobs": "nope"})
    with pytest.raises(HttpError, match="unexpected page shape from .* at offset=0: no 'jobs' list"):
        list(HttpClient(srv.url).paginate("/api/jobs", style="offset", results_key="jobs"))


def test_ctx_http_returns_the_kit_client():
    from policycheck.api import CollectContext

    c = CollectContext(source="s", timeout=5).http("http://127.0.0.1:1")
    assert isinstance(c, HttpClient) and c.timeout[1] == 5


def test_the_old_module_is_gone():
    """Nothing imports policycheck.http any more: the client lives in the kit."""
    import importlib.util

    assert importlib.util.find_spec("policycheck.http") is None


def test_a_count_that_differs_from_the_items_read_is_an_error_after_what_was_read(srv):
    """Fail closed: objects added while paging (DRF's count) make the list partial, not complete."""
    pages = {"0": {"count": 5, "next": "/api/d/?offset=2", "results": [1, 2]},
             "2": {"count": 6, "next": None, "results": [3, 4]}}
    srv.routes[("GET", "/api/d/")] = lambda req: json_answer(pages[req.arg("offset", "0")])
    got = []
    with pytest.raises(HttpError, match=r"announced 5 items \('count'\) but the pages held 4") as exc:
        got.extend(HttpClient(srv.url).paginate("/api/d/"))
    assert got == [1, 2, 3, 4] and exc.value.endpoint == "/api/d/"
    assert list(HttpClient(srv.url).paginate("/api/d/", count_key=None)) == [1, 2, 3, 4]


def test_an_empty_page_that_links_to_a_next_one_is_an_error(srv):
    srv.routes[("GET", "/api/d/")] = json_answer({"count": 1, "next": "/api/d/?offset=0", "results": []})
    with pytest.raises(HttpError, match="page 1 from .*/api/d/ is empty but links to a next page"):
        list(HttpClient(srv.url).paginate("/api/d/"))


def test_an_offset_list_shorter_than_its_count_is_an_error(srv):
    def page(req):
        off = int(req.arg("offset"))
        return json_answer({"total": 10, "jobs": list(range(off, min(off + 3, 7)))})
    srv.routes[("GET", "/api/jobs")] = page
    c = HttpClient(srv.url)
    with pytest.raises(HttpError, match=r"announced 10 items \('total'\) but the pages held 7"):
        list(c.paginate("/api/jobs", style="offset", results_key="jobs", page_size=3, count_key="total"))
    assert len(list(c.paginate("/api/jobs", style="offset", results_key="jobs", page_size=3))) == 7
