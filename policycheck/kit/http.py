"""The shared HTTP client for collectors: one requests Session per source, timeouts, retries with
backoff (429/502/503/504, Retry-After), TLS verification, auth, a body-size cap, the two paginators
the plugins use, and errors (:class:`HttpError`) that carry the status and endpoint, secrets redacted."""
from __future__ import annotations

import base64
import json
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, NoReturn
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from policycheck.api import CollectorError
from policycheck.secrets import redact, register

__all__ = ["HttpClient", "HttpError", "MAX_BYTES"]

RETRY_STATUSES = (429, 502, 503, 504)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10
#: the default cap on one JSON body (get_json's max_bytes)
MAX_BYTES = 64 * 1024 * 1024

Params = Mapping[str, Any]


class HttpError(CollectorError):
    """Every failure of :class:`HttpClient`: the message names the URL (no query) and what went wrong,
    never a secret. ``status`` is the HTTP status when the server answered with an error status (3xx
    without a usable redirect, 4xx, 5xx), else None (connection refused, TLS, timeout, a body too large
    or not JSON, a page of the wrong shape). ``endpoint`` is the URL's path without the query
    (``/api/dcim/devices/``)."""

    def __init__(self, message: str, *, status: int | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint


class HttpClient:
    """GET JSON from one base URL. Every failure raises :class:`HttpError` (a ``CollectorError``)
    with a reason that names the URL path and status and never contains a secret."""

    def __init__(self, base_url: str, *, timeout: float = 30.0, connect_timeout: float | None = None,
                 auth: tuple[str, str] | None = None, token: str | None = None, token_scheme: str = "Bearer",
                 headers: Mapping[str, str] | None = None, verify_tls: bool = True, ca_bundle: str | None = None,
                 retries: int = 3, backoff: float = 0.5, max_retry_after: float = 30.0,
                 secrets: list[str] | None = None, warn: Callable[[str], None] | None = None,
                 deadline: float | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.deadline = deadline  # time.monotonic() by which the whole source must be read
        self.timeout: tuple[float, float] = (connect_timeout or min(timeout, 10.0), timeout)
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.secrets: list[str] = list(secrets or [])
        self.session = requests.Session()
        self.session.trust_env = True  # proxies (HTTPS_PROXY, NO_PROXY) from the environment
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "policycheck"
        if headers:
            self.session.headers.update(headers)
        if auth:
            self.session.auth = auth
            self.secrets.append(auth[1])
            if auth[1]:  # what a server that echoes the Authorization header shows
                self.secrets.append(base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
            register([auth[1]], [auth[0]])
        if token:
            self.session.headers["Authorization"] = f"{token_scheme} {token}"
            self.secrets.append(token)
            register([token])
        # per-request verify: requests lets REQUESTS_CA_BUNDLE override a Session's own setting
        self.verify: bool | str = True
        if ca_bundle:
            self.verify = ca_bundle
        elif not verify_tls:
            self.verify = False
            # through the source's warnings (ctx.http passes them); a client made by hand gets Python's
            (warn or (lambda m: warnings.warn(m, stacklevel=3)))(
                f"WARNING: TLS verification is OFF for {self.base_url}: anyone on the path can read "
                "the credentials and forge the answers. Use ca_bundle: for a private CA instead.")
            try:
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            except Exception:  # pragma: no cover
                pass

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (an absolute URL is returned unchanged)."""
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _fail(self, msg: str, url: str, status: int | None = None) -> NoReturn:
        raise HttpError(redact(msg, self.secrets), status=status, endpoint=urlsplit(url).path or "/")

    def _left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def get(self, path: str, params: Params | None = None, stream: bool = False) -> requests.Response:
        """GET with retries; returns a 2xx response or raises :class:`HttpError`.

        Redirects are followed only on the same origin (scheme, host and port) and within the
        deadline; a redirect to another origin is an error that names both (its answer would not be
        this source's). A retry never sleeps past the deadline: when the wait (backoff or
        Retry-After) does not fit in the time left, the answer is reported at once."""
        url = self.url(path)
        shown = url.split("?", 1)[0]
        attempt = 0
        hops = 0
        while True:
            timeout = self.timeout
            left = self._left()
            if left is not None:
                if left <= 0:
                    self._fail(f"time budget used up before requesting {shown} (timeout)", url)
                timeout = (min(timeout[0], left), min(timeout[1], left))
            try:
                resp = self.session.get(url, params=params, timeout=timeout, stream=stream, verify=self.verify,
                                        allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                self._fail(f"TLS error talking to {shown}: {_root(exc)} "
                           "(set ca_bundle: to your CA's PEM file)", url)
            except requests.exceptions.ConnectTimeout:
                self._fail(f"timed out connecting to {shown} after {timeout[0]:g}s", url)
            except requests.exceptions.ReadTimeout:
                self._fail(f"no answer from {shown} within {timeout[1]:g}s (timeout)", url)
            except requests.exceptions.ConnectionError as exc:
                self._fail(f"cannot connect to {shown}: {_root(exc)}", url)
            except requests.exceptions.RequestException as exc:
                self._fail(f"request to {shown} failed: {_root(exc)}", url)
            status = resp.status_code
            if status in REDIRECT_STATUSES and resp.headers.get("Location"):
                target = urljoin(url, resp.headers["Location"])
                resp.close()
                if _origin(target) != _origin(url):
                    self._fail(f"HTTP {status} redirect from {shown} to another origin "
                               f"({_origin(target)} is not {_origin(url)}): refused, the answer would not "
                               "come from this source (fix the URL in the config)", url, status)
                hops += 1
                if hops > MAX_REDIRECTS:
                    self._fail(f"more than {MAX_REDIRECTS} redirects from {shown}", url, status)
                url, params = target, None
                shown = url.split("?", 1)[0]
                continue
            if status in RETRY_STATUSES and attempt < self.retries:
                delay = self.backoff * (2 ** attempt)
                ra = resp.headers.get("Retry-After")
                if ra:
                    delay = _retry_after(ra, delay)
                asked = delay
                delay = min(delay, self.max_retry_after)
                left = self._left()
                if left is None or delay < left:
                    attempt += 1
                    resp.close()
                    time.sleep(max(0.0, delay))
                    continue
                # no time left to wait: report this answer now, never sleep past the deadline
                waited = f" (asked to retry after {asked:g}s, more than the {max(left, 0):.1f}s left)"
                detail = _error_detail(resp)
                resp.close()
                self._fail(f"HTTP {status} {resp.reason or ''} from {shown}{waited}"
                           + (f": {detail}" if detail else ""), url, status)
            if status >= 400:
                detail = _error_detail(resp)
                hint = {401: " (check the username and password/token)",
                        403: " (the account lacks a read permission)",
                        404: " (wrong URL or API version?)"}.get(status, "")
                retried = f" after {attempt} retries" if attempt else ""
                self._fail(f"HTTP {status} {resp.reason or ''} from {shown}{retried}{hint}"
                           + (f": {detail}" if detail else ""), url, status)
            if 300 <= status < 400:
                resp.close()
                self._fail(f"HTTP {status} {resp.reason or ''} from {shown} without a usable Location", url, status)
            return resp

    def get_json(self, path: str, params: Params | None = None, *, max_bytes: int = MAX_BYTES) -> Any:
        """GET and decode JSON. A body larger than ``max_bytes`` (announced by Content-Length or
        counted while reading), one that is not JSON, is cut short, or trickles in past the deadline
        raises :class:`HttpError` naming the endpoint."""
        resp = self.get(path, params=params, stream=True)
        url = resp.url or self.url(path)
        shown = url.split("?", 1)[0]
        too_big = (f"the answer from {shown} is larger than {max_bytes} bytes (max_bytes): refused "
                   "(narrow the query, or raise the limit)")
        announced = resp.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > max_bytes:
            resp.close()
            self._fail(too_big, url)
        chunks: list[bytes] = []
        size = 0
        raw = resp.raw
        read = getattr(raw, "read1", None)  # returns what has arrived, so the deadline is checked often
        try:
            while True:
                if self.deadline is not None and time.monotonic() > self.deadline:
                    self._fail(f"the answer from {shown} was still arriving when the time budget ran out "
                               "(timeout)", url)
                chunk = read(1 << 16, decode_content=True) if read else raw.read(1 << 16, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    self._fail(too_big, url)
                chunks.append(chunk)
        except HttpError:
            raise
        except Exception as exc:  # urllib3 protocol errors, socket timeouts, incomplete reads
            self._fail(f"reading the answer from {shown} failed: {_root(exc)}", url)
        finally:
            resp.close()
        body = b"".join(chunks)
        del chunks
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            self._fail(f"malformed JSON from {shown}: {str(exc)[:200]}", url)

    def paginate(self, path: str, params: Params | None = None, *,
                 style: Literal["next-link", "offset"] = "next-link", results_key: str | None = "results",
                 next_key: str = "next", limit_param: str = "limit", offset_param: str = "offset",
                 page_size: int | None = None, max_pages: int = 100000, max_bytes: int = MAX_BYTES,
                 count_key: str | None = "count") -> Iterator[Any]:
        """Yield the items of a paginated list, page by page.

        ``style="next-link"`` (NetBox, Django REST framework): each page is ``{results_key: [...],
        next_key: url-or-null}``; the next link is followed on this client's scheme and host (a proxy
        may hand out http:// links) and a link to another host is refused (credentials never go
        there). ``page_size`` (if given) is sent as ``limit_param`` on the first request.

        ``style="offset"``: the client sends ``limit_param=page_size`` (default 100) and
        ``offset_param=0, page_size, ...``; a page is ``{results_key: [...]}`` (or a bare list when
        ``results_key`` is None); the list ends at the first page shorter than ``page_size``.

        Fail closed: a page of another shape, an empty page that links to a next one, more than
        ``max_pages`` pages, or (when the first page announces ``count_key``, e.g. DRF's ``count``) a
        total that differs from the items read raise :class:`HttpError` (after the items read so far
        were yielded: the list was seen only in part)."""
        if style == "offset":
            yield from self._paginate_offset(path, params, results_key, limit_param, offset_param,
                                             page_size or 100, max_pages, max_bytes, count_key)
            return
        if style != "next-link":
            raise ValueError(f"unknown pagination style {style!r} (next-link or offset)")
        first: dict[str, Any] = dict(params or {})
        if page_size:
            first[limit_param] = page_size
        url: str = path
        p: dict[str, Any] | None = first or None
        announced: object = None
        seen = 0
        for number in range(1, max_pages + 1):
            page = self.get_json(url, params=p, max_bytes=max_bytes)
            shown = self.url(url).split("?", 1)[0]
            key = results_key or "results"
            items = page.get(key) if isinstance(page, dict) else None
            if not isinstance(items, list):
                self._fail(f"unexpected page shape from {shown}: no '{key}' list", self.url(url))
            if number == 1 and count_key:
                announced = page.get(count_key)
            seen += len(items)
            yield from items
            link = page.get(next_key)
            if not link:
                self._check_count(announced, seen, count_key, path)
                return
            if not isinstance(link, str):
                self._fail(f"unexpected '{next_key}' link from {shown}: {json.dumps(link)[:100]}", self.url(url))
            if not items:
                self._fail(f"page {number} from {shown} is empty but links to a next page", self.url(url))
            url, p = self._same_origin(link), None
        self._fail(f"more than {max_pages} pages from {self.url(path).split('?', 1)[0]}", self.url(path))

    def _check_count(self, announced: object, seen: int, count_key: str | None, path: str) -> None:
        if count_key and type(announced) is int and announced != seen:
            self._fail(f"{self.url(path).split('?', 1)[0]} announced {announced} items ('{count_key}') but the "
                       f"pages held {seen} (items changed while reading, or an answer was cut short); "
                       "run again", self.url(path))

    def _paginate_offset(self, path: str, params: Params | None, results_key: str | None, limit_param: str,
                         offset_param: str, page_size: int, max_pages: int, max_bytes: int,
                         count_key: str | None) -> Iterator[Any]:
        shown = self.url(path).split("?", 1)[0]
        offset = 0
        announced: object = None
        for _ in range(max_pages):
            p = dict(params or {})
            p[limit_param] = page_size
            p[offset_param] = offset
            page = self.get_json(path, params=p, max_bytes=max_bytes)
            items = page if results_key is None else (page.get(results_key) if isinstance(page, dict) else None)
            if not isinstance(items, list):
                what = "not a list" if results_key is None else f"no '{results_key}' list"
                self._fail(f"unexpected page shape from {shown} at {offset_param}={offset}: {what}",
                           self.url(path))
            if offset == 0 and count_key and isinstance(page, dict):
                announced = page.get(count_key)
            yield from items
            offset += len(items)
            if len(items) < page_size:
                self._check_count(announced, offset, count_key, path)
                return
        self._fail(f"more than {max_pages} pages from {shown}", self.url(path))

    def _same_origin(self, link: str) -> str:
        """A next-page link on the base URL's scheme and host (a proxy may hand out http:// links);
        a link to another host is refused so credentials never go there."""
        base, nxt = urlsplit(self.base_url), urlsplit(link)
        if not nxt.netloc:
            return link
        if (nxt.hostname or "").lower() != (base.hostname or "").lower():
            self._fail(f"a next-page link points at another host ({nxt.hostname}); refusing to send "
                       "credentials there", link)
        return urlunsplit((base.scheme, base.netloc, nxt.path, nxt.query, ""))

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _origin(url: str) -> str:
    p = urlsplit(url)
    port = p.port or {"http": 80, "https": 443}.get(p.scheme.lower())
    return f"{p.scheme.lower()}://{(p.hostname or '').lower()}:{port}"


def _retry_after(value: str, default: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        from policycheck.timeutil import now_utc

        return max(0.0, (parsedate_to_datetime(value) - now_utc()).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return default


def _root(exc: BaseException) -> str:
    while exc.__cause__ or exc.__context__:
        nxt = exc.__cause__ or exc.__context__
        assert nxt is not None
        exc = nxt
    if exc.args and isinstance(exc.args[0], str):
        return exc.args[0][:300]
    return str(exc)[:300] or type(exc).__name__


def _error_detail(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        text = (resp.text or "").strip()
        return text[:200]
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "errors"):
            if key in body:
                v = body[key]
                return (json.dumps(v) if not isinstance(v, str) else v)[:300]
    return json.dumps(body)[:200]
