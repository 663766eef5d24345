"""Transport: NetBox list endpoints through the kit's HttpClient (next-link pagination pinned to the configured
origin, count check, body cap, the source's deadline); errors say what failed where and how to fix it."""
from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from policycheck.api import CollectContext, CollectorError
from policycheck.kit.http import HttpError

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

    def __init__(self, ctx: CollectContext, url: str, token: str, *, token_version: str = "auto",
                 verify_tls: bool = True, ca_bundle: str | None = None, retries: int = 3, page_size: int = 250,
                 deadline: float | None = None) -> None:
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
        if token_version == "auto":
            token_version = "v2" if token.startswith("nbt_") else "v1"
        scheme = "Bearer" if token_version == "v2" else "Token"
        self.page_size = page_size
        self.deadline = deadline if deadline is not None else time.monotonic() + ctx.timeout
        self.client = ctx.http(base + "/api", token=token, token_scheme=scheme, verify_tls=verify_tls,
                               ca_bundle=ca_bundle, retries=retries, deadline=self.deadline)

    def close(self) -> None:
        self.client.close()

    def list(self, path: str, what: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every object of one list endpoint, following `next` (on our own scheme and host) until it is
        null; the total must match the `count` the first page announced."""
        items: list[Any] = []
        try:
            items.extend(self.client.paginate(path, params, page_size=self.page_size, max_bytes=MAX_BODY))
        except HttpError as exc:
            raise CollectorError(self.ctx.redact(f"NetBox {self.base}: reading {what}: {exc}{_hint(exc)}")) from None
        pages = max(1, math.ceil(len(items) / self.page_size))
        self.ctx.log(f"netbox: {len(items)} {what} in {pages} page(s)")
        return items


def _hint(exc: HttpError) -> str:
    """What to check, for the failures NetBox users meet."""
    msg = str(exc)
    if "malformed JSON" in msg:
        return " (is the URL NetBox's, and is a login page or proxy answering instead?)"
    if "another host" in msg:
        return " (check NetBox's BASE_PATH / the proxy's Host and X-Forwarded-* headers)"
    if "time budget" in msg or "(timeout)" in msg or "timed out" in msg:
        return (" (raise the source's timeout:, narrow device_filters/vm_filters, or check why NetBox "
                "is slow)")
    return ""
