"""The shared HTTP client for collectors: one requests Session per source, timeouts, retries with
backoff (429/502/503/504, Retry-After), TLS verification, auth, pagination, redacted errors."""
from __future__ import annotations

import json
import sys
import time
from typing import Iterator

import requests

from policycheck.api import CollectorError
from policycheck.secrets import redact, register

RETRY_STATUSES = (429, 502, 503, 504)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 10


class HttpClient:
    """GET JSON from one base URL. Every failure raises :class:`CollectorError` with a reason that
    names the URL path and status and never contains a secret."""

    def __init__(self, base_url: str, *, timeout: float = 30.0, connect_timeout: float | None = None,
                 auth: tuple | None = None, token: str | None = None, token_scheme: str = "Bearer",
                 headers: dict | None = None, verify_tls: bool = True, ca_bundle: str | None = None,
                 retries: int = 3, backoff: float = 0.5, max_retry_after: float = 30.0,
                 secrets: list | None = None, warn=None, deadline: float | None = None):
        self.base_url = base_url.rstrip("/")
        self.deadline = deadline  # time.monotonic() by which the whole source must be read
        self.timeout = (connect_timeout or min(timeout, 10.0), timeout)
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.secrets = list(secrets or [])
        self.session = requests.Session()
        self.session.trust_env = True  # proxies (HTTPS_PROXY, NO_PROXY) from the environment
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "policycheck"
        if headers:
            self.session.headers.update(headers)
        if auth:
            import base64

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
        self.verify = True
        if ca_bundle:
            self.verify = ca_bundle
        elif not verify_tls:
            self.verify = False
            (warn or (lambda m: print(m, file=sys.stderr)))(
                f"WARNING: TLS verification is OFF for {self.base_url}: anyone on the path can read "
                "the credentials and forge the answers. Use ca_bundle: for a private CA instead.")
            try:
                import urllib3
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            except Exception:  # pragma: no cover
                pass

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _fail(self, msg: str):
        raise CollectorError(redact(msg, self.secrets))

    def _left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def get(self, path: str, params: dict | None = None, stream: bool = False) -> requests.Response:
        """GET with retries; returns a 2xx response or raises CollectorError.

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
                    self._fail(f"time budget used up before requesting {shown} (timeout)")
                timeout = (min(timeout[0], left), min(timeout[1], left))
            try:
                resp = self.session.get(url, params=params, timeout=timeout, stream=stream, verify=self.verify,
                                        allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                self._fail(f"TLS error talking to {shown}: {_root(exc)} "
                           "(set ca_bundle: to your CA's PEM file)")
            except requests.exceptions.ConnectTimeout:
                self._fail(f"timed out connecting to {shown} after {timeout[0]:g}s")
            except requests.exceptions.ReadTimeout:
                self._fail(f"no answer from {shown} within {timeout[1]:g}s (timeout)")
            except requests.exceptions.ConnectionError as exc:
                self._fail(f"cannot connect to {shown}: {_root(exc)}")
            except requests.exceptions.RequestException as exc:
                self._fail(f"request to {shown} failed: {_root(exc)}")
            if resp.status_code in REDIRECT_STATUSES and resp.headers.get("Location"):
                from urllib.parse import urljoin

                target = urljoin(url, resp.headers["Location"])
                resp.close()
                if _origin(target) != _origin(url):
                    self._fail(f"HTTP {resp.status_code} redirect from {shown} to another origin "
                               f"({_origin(target)} is not {_origin(url)}): refused, the answer would not "
                               "come from this source (fix the URL in the config)")
                hops += 1
                if hops > MAX_REDIRECTS:
                    self._fail(f"more than {MAX_REDIRECTS} redirects from {shown}")
                url, params = target, None
                shown = url.split("?", 1)[0]
                continue
            if resp.status_code in RETRY_STATUSES and attempt < self.retries:
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
                self._fail(f"HTTP {resp.status_code} {resp.reason or ''} from {shown}{waited}"
                           + (f": {detail}" if detail else ""))
            if resp.status_code >= 400:
                detail = _error_detail(resp)
                hint = {401: " (check the username and password/token)",
                        403: " (the account lacks a read permission)",
                        404: " (wrong URL or API version?)"}.get(resp.status_code, "")
                retried = f" after {attempt} retries" if attempt else ""
                self._fail(f"HTTP {resp.status_code} {resp.reason or ''} from {shown}{retried}{hint}"
                           + (f": {detail}" if detail else ""))
            if 300 <= resp.status_code < 400:
                resp.close()
                self._fail(f"HTTP {resp.status_code} {resp.reason or ''} from {shown} without a usable Location")
            return resp

    def get_json(self, path: str, params: dict | None = None):
        """GET and decode JSON; a body that is not JSON, is cut short, or trickles in past the
        deadline raises CollectorError."""
        resp = self.get(path, params=params, stream=True)
        shown = self.url(path).split("?", 1)[0]
        chunks = []
        raw = resp.raw
        read = getattr(raw, "read1", None)  # returns what has arrived, so the deadline is checked often
        try:
            while True:
                if self.deadline is not None and time.monotonic() > self.deadline:
                    self._fail(f"the answer from {shown} was still arriving when the time budget ran out (timeout)")
                chunk = read(1 << 16, decode_content=True) if read else raw.read(1 << 16, decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
        except CollectorError:
            raise
        except Exception as exc:  # urllib3 protocol errors, socket timeouts, incomplete reads
            self._fail(f"reading the answer from {shown} failed: {_root(exc)}")
        finally:
            resp.close()
        body = b"".join(chunks)
        del chunks
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            self._fail(f"malformed JSON from {shown}: {str(exc)[:200]}")

    def paginate(self, path: str, params: dict | None = None, results_key: str = "results",
                 next_key: str = "next", max_pages: int = 100000) -> Iterator[dict]:
        """Yield items of a paginated list that links to its next page (NetBox, DRF style)."""
        url, p = path, params
        for _ in range(max_pages):
            page = self.get_json(url, params=p)
            if not isinstance(page, dict) or not isinstance(page.get(results_key), list):
                self._fail(f"unexpected page shape from {self.url(path).split('?', 1)[0]}: "
                           f"no '{results_key}' list")
            yield from page[results_key]
            url, p = page.get(next_key), None
            if not url:
                return
            url = self._same_origin(url)
        self._fail(f"more than {max_pages} pages from {path}")

    def _same_origin(self, link: str) -> str:
        """A next-page link on the base URL's scheme and host (a proxy may hand out http:// links);
        a link to another host is refused so credentials never go there."""
        from urllib.parse import urlsplit, urlunsplit

        base, nxt = urlsplit(self.base_url), urlsplit(link)
        if not nxt.netloc:
            return link
        if (nxt.hostname or "").lower() != (base.hostname or "").lower():
            self._fail(f"a next-page link points at another host ({nxt.hostname}); refusing to send credentials there")
        return urlunsplit((base.scheme, base.netloc, nxt.path, nxt.query, ""))

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

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
        exc = exc.__cause__ or exc.__context__
    if exc.args and isinstance(exc.args[0], str):
        return exc.args[0][:300]
    return str(exc)[:300] or type(exc).__name__


def _error_detail(resp) -> str:
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
