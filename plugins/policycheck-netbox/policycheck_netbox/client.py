"""Transport: reads NetBox list endpoints through the core's HttpClient: pagination by `next`, a whole-run deadline,
bounded body reads, count checks, and errors that say what failed where and how to fix it."""
from __future__ import annotations

import json
import time
from urllib.parse import urlsplit, urlunsplit

from policycheck.api import CollectorError

MAX_BODY = 64 * 1024 * 1024  # one page of NetBox JSON is far smaller; a bigger body is not NetBox


def url_without_credentials(url: str) -> str:
    """``url`` with any ``user:password@`` removed from its authority (for messages and requests)."""
    try:
        u = urlsplit(url)
    except ValueError:
        return url.split("@", 1)[-1] if "@" in url else url
    if "@" not in u.netloc:
        return url
    return urlunsplit((u.scheme, u.netloc.rsplit("@", 1)[1], u.path, u.query, u.fragment))


class NetBoxAPI:
    """One NetBox instance. ``deadline`` is a time.monotonic() value the whole collection must meet."""

    def __init__(self, ctx, url: str, token: str, *, token_version: str = "auto", verify_tls: bool = True,
                 ca_bundle: str | None = None, retries: int = 3, page_size: int = 250,
                 deadline: float | None = None):
        self.ctx = ctx
        base = url_without_credentials(url).rstrip("/")
        if base != url.rstrip("/"):
            # requests would send them as Basic auth instead of the token, and every message would
            # print them: refuse (the runtime refuses this already at config time)
            raise CollectorError(f"NetBox {base}: the url carries credentials (user:password@host); "
                                 "remove them and put the API token in token: or token_file:")
        if base.endswith("/api"):
            base = base[:-4]
        self.base = base
        self.origin = urlsplit(base)
        if token_version == "auto":
            token_version = "v2" if token.startswith("nbt_") else "v1"
        scheme = "Bearer" if token_version == "v2" else "Token"
        self.page_size = page_size
        self.deadline = deadline if deadline is not None else time.monotonic() + ctx.timeout
        self.client = ctx.http(base + "/api", token=token, token_scheme=scheme, verify_tls=verify_tls,
                               ca_bundle=ca_bundle, retries=retries)
        self.calls: list[str] = []  # paths requested, for tests and the log

    def close(self):
        self.client.close()

    def _fail(self, msg: str):
        raise CollectorError(self.ctx.redact(f"NetBox {self.base}: {msg}"))

    def _remaining(self, what: str) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            self._fail(f"time budget of the source ran out while reading {what} (raise the source's "
                       "timeout:, narrow device_filters/vm_filters, or check why NetBox is slow)")
        return left

    def _pin(self, next_url: str) -> str:
        """Follow `next` but keep our own scheme and host: a NetBox behind a TLS proxy often writes
        http:// links, and the token must never go to another origin."""
        n = urlsplit(next_url)
        if n.netloc and n.netloc != self.origin.netloc and n.hostname not in (self.origin.hostname,):
            self._fail(f"pagination link points to another host ({n.netloc}); refusing to send the token "
                       "there (check NetBox's BASE_PATH / proxy headers)")
        return urlunsplit((self.origin.scheme, self.origin.netloc, n.path, n.query, ""))

    def get_page(self, url: str, params: dict | None, what: str):
        self._remaining(what)
        shown = url.split("?", 1)[0]
        self.calls.append(shown.replace(self.base, "", 1) if shown.startswith(self.base) else shown)
        resp = self.client.get(url, params=params, stream=True)
        chunks, size = [], 0
        try:
            for chunk in _chunks(resp):
                size += len(chunk)
                if size > MAX_BODY:
                    self._fail(f"answer for {what} from {shown} is larger than {MAX_BODY} bytes")
                chunks.append(chunk)
                if time.monotonic() > self.deadline:
                    self._remaining(what + " (the answer never finished)")
        except CollectorError:
            raise
        except Exception as exc:  # connection reset, read timeout mid-body, bad chunking
            self._fail(f"reading the answer for {what} from {shown} failed: {type(exc).__name__}: "
                       f"{str(exc)[:200]} (truncated answer; check NetBox and any proxy in between)")
        finally:
            resp.close()
        body = b"".join(chunks)
        try:
            return json.loads(body)
        except ValueError as exc:
            ctype = resp.headers.get("Content-Type", "?")
            self._fail(f"malformed JSON for {what} from {shown} (Content-Type {ctype}, {len(body)} bytes: "
                       f"{exc}); is the URL NetBox's, and is a login page or proxy answering instead?")

    def list(self, path: str, what: str, params: dict | None = None) -> list[dict]:
        """Every object of one list endpoint, following `next` until it is null."""
        p = {"limit": self.page_size, **(params or {})}
        url = self.client.url(path)
        items: list[dict] = []
        count = None
        pages = 0
        while url:
            page = self.get_page(url, p, what)
            pages += 1
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                self._fail(f"unexpected answer for {what} from {path}: not a NetBox list page "
                           "(no 'results' list)")
            if count is None:
                count = page.get("count")
            items.extend(page["results"])
            nxt = page.get("next")
            if nxt is not None and not isinstance(nxt, str):
                self._fail(f"unexpected 'next' link in {what} page {pages}: {str(nxt)[:100]}")
            if nxt and not page["results"]:
                self._fail(f"{what} page {pages} is empty but links to a next page")
            url, p = (self._pin(nxt) if nxt else None), None
            if pages > 100000:
                self._fail(f"more than 100000 pages of {what}")
        if isinstance(count, int) and count != len(items):
            self._fail(f"{what}: NetBox announced {count} objects but the pages held {len(items)} "
                       "(objects changed while reading, or a truncated answer); run again")
        self.ctx.log(f"netbox: {len(items)} {what} in {pages} page(s)")
        return items


def _chunks(resp):
    """The body as it arrives: read1 returns after one socket read, so a server that dribbles bytes
    cannot hold a read open past the deadline (iter_content waits for full 64 KiB blocks)."""
    raw = resp.raw
    if hasattr(raw, "read1"):
        while True:
            chunk = raw.read1(65536, decode_content=True)
            if not chunk:
                return
            yield chunk
    else:  # pragma: no cover - urllib3 < 2
        yield from resp.iter_content(65536)
