"""A fault-injecting HTTP proxy for collector tests: put it between a collector and its (real or fake)
server and make chosen paths answer badly.

    from policycheck.testing import FaultProxy, faults

    with FaultProxy("http://127.0.0.1:8080") as proxy:
        proxy.inject("/api/devices*", faults.corrupt("/devices/0/name", "drop"))
        run_source("myplugin", {"url": proxy.url, ...})

Faults (``policycheck.faultproxy.faults``): ``refuse`` (connection closed without an answer), ``stall``
(no answer for N seconds, or until the proxy stops), ``trickle`` (the body a few bytes at a time),
``truncate`` (fewer bytes than Content-Length), ``status`` (a wrong status), ``redirect`` (to another
origin by default: the proxy runs a second server that answers anything with 200), ``retry_after``
(429/503 with Retry-After), ``garbage`` (a body that is not JSON), and the element-level JSON
corruptions ``corrupt(pointer, action)``: ``drop`` a field or element, ``type`` (change its JSON
type), ``bad_time`` (an unparseable time), ``null``, ``set`` (any value). A pointer is a JSON pointer
whose ``*`` matches every key or index (``/items/*/saveTime``).

Each fault applies to every matching request, or to the first ``times`` of them; ``proxy.applied``
counts the faults injected. POST bodies are forwarded (SOAP), TLS upstreams are read without
verification (the proxy itself speaks plain HTTP on loopback).
"""
from __future__ import annotations

import contextlib
import copy
import fnmatch
import http.client
import json
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding"}
BAD_TIME = "12/31/2099 xx:61"


@dataclass
class Fault:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if k != "body")
        return f"{self.kind}({args})"


class faults:  # noqa: N801 - a namespace of constructors
    @staticmethod
    def refuse() -> Fault:
        return Fault("refuse")

    @staticmethod
    def stall(seconds: float | None = None) -> Fault:
        return Fault("stall", {"seconds": seconds})

    @staticmethod
    def trickle(chunk: int = 1, interval: float = 0.05) -> Fault:
        return Fault("trickle", {"chunk": chunk, "interval": interval})

    @staticmethod
    def truncate(keep: float = 0.5) -> Fault:
        return Fault("truncate", {"keep": keep})

    @staticmethod
    def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> Fault:
        return Fault("status", {"code": code, "body": body, "headers": headers or {}})

    @staticmethod
    def redirect(location: str | None = None, code: int = 302) -> Fault:
        """``location`` None: another origin (the proxy's second server)."""
        return Fault("redirect", {"location": location, "code": code})

    @staticmethod
    def retry_after(seconds: float | str, code: int = 429) -> Fault:
        return Fault("retry_after", {"seconds": seconds, "code": code})

    @staticmethod
    def garbage(body: bytes = b"<html><body>502 Bad Gateway</body></html>") -> Fault:
        return Fault("garbage", {"body": body})

    @staticmethod
    def corrupt(pointer: str, action: str = "drop", value: Any = None) -> Fault:
        if action not in ("drop", "type", "bad_time", "null", "set"):
            raise ValueError(f"unknown corruption {action!r}")
        return Fault("corrupt", {"pointer": pointer, "action": action, "value": value})


ALL_TRANSPORT_FAULTS = (faults.refuse(), faults.stall(), faults.trickle(), faults.truncate(),
                        faults.status(500), faults.status(401), faults.status(404), faults.status(200, b""),
                        faults.redirect(), faults.retry_after(3600), faults.retry_after(3600, 503),
                        faults.garbage(), faults.garbage(b'{"count": 3, "items": [{"na'))


def corrupt_json(doc: Any, pointer: str, action: str, value: Any = None) -> tuple[Any, int]:
    """A corrupted deep copy of ``doc``; returns (new doc, number of places changed)."""
    doc = copy.deepcopy(doc)
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.strip("/").split("/")] if pointer.strip("/") else []
    if not parts:
        return doc, 0
    count = 0

    def children(node: Any, key: str) -> list[tuple[Any, str | int]]:
        if isinstance(node, dict):
            keys = list(node) if key == "*" else ([key] if key in node else [])
            return [(node, k) for k in keys]
        if isinstance(node, list):
            if key == "*":
                return [(node, i) for i in range(len(node))]
            if key.lstrip("-").isdigit() and -len(node) <= int(key) < len(node):
                return [(node, int(key))]
        return []

    def retype(v: Any) -> Any:
        if isinstance(v, bool):
            return "yes"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, str):
            return {"value": v}
        if isinstance(v, list):
            return {"0": v[0]} if v else {}
        if isinstance(v, dict):
            return [v]
        return 0

    def walk(node: Any, depth: int) -> None:
        nonlocal count
        last = depth == len(parts) - 1
        targets = children(node, parts[depth])
        if last:
            for parent, k in sorted(targets, key=lambda t: -t[1] if isinstance(t[1], int) else 0):
                if action == "drop":
                    del parent[k]
                elif action == "type":
                    parent[k] = retype(parent[k])
                elif action == "bad_time":
                    parent[k] = BAD_TIME
                elif action == "null":
                    parent[k] = None
                else:
                    parent[k] = copy.deepcopy(value)
                count += 1
            return
        for parent, k in targets:
            walk(parent[k], depth + 1)

    walk(doc, 0)
    return doc, count


class _Rule:
    def __init__(self, pattern: str, fault: Fault, times: int | None, method: str | None) -> None:
        self.pattern, self.fault, self.times, self.method = pattern, fault, times, method
        self.hits = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return fnmatch.fnmatchcase(path, self.pattern) or fnmatch.fnmatchcase(path.split("?", 1)[0], self.pattern)


class _Elsewhere:
    """Another origin: answers every request with 200 and a JSON body that looks like a healthy, empty
    answer (what a false pass would be built from)."""

    def __init__(self) -> None:
        body = json.dumps({"count": 0, "results": [], "items": [], "next": None}).encode()

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _answer(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FaultProxy:
    """A loopback HTTP reverse proxy to ``upstream`` that injects faults on matching paths."""

    def __init__(self, upstream: str, timeout: float = 30.0) -> None:
        self.upstream = urlsplit(upstream.rstrip("/"))
        self.timeout = timeout
        self.rules: list[_Rule] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.applied: list[tuple[str, str]] = []  # (path, str(fault)) of every fault injected
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.elsewhere = _Elsewhere()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._handle(self)

            do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def inject(self, pattern: str, fault: Fault, times: int | None = None, method: str | None = None) -> FaultProxy:
        """Apply ``fault`` to requests whose path (with or without its query) matches the glob ``pattern``."""
        with self._lock:
            self.rules.append(_Rule(pattern, fault, times, method))
        return self

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def close(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.elsewhere.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the proxy ------------------------------------------------------------------------------
    def _forward(self, h: BaseHTTPRequestHandler, body: bytes | None) -> tuple[int, str, list[tuple[str, str]], bytes]:
        u = self.upstream
        host = u.hostname or "127.0.0.1"
        conn: http.client.HTTPConnection
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(host, u.port or 443, timeout=self.timeout,
                                               context=ssl._create_unverified_context())  # noqa: S323
        else:
            conn = http.client.HTTPConnection(host, u.port or 80, timeout=self.timeout)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = u.netloc
        path = (u.path or "") + h.path
        try:
            conn.request(h.command, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            return resp.status, resp.reason, out_headers, data
        finally:
            conn.close()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        with self._lock:
            self.requests.append((h.command, h.path))
            rule = next((r for r in self.rules if r.matches(h.command, h.path)), None)
            if rule is not None:
                rule.hits += 1
                self.applied.append((h.path, str(rule.fault)))
        fault = rule.fault if rule else None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self._answer(h, fault, body)

    def _send(self, h: BaseHTTPRequestHandler, status: int, reason: str | None, headers: Iterable[tuple[str, str]],
              data: bytes, declared: int | None = None) -> None:
        h.send_response(status, reason)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data) if declared is None else declared))
        h.send_header("Connection", "close")
        h.end_headers()

    def _answer(self, h: BaseHTTPRequestHandler, fault: Fault | None, body: bytes | None) -> None:
        kind = fault.kind if fault else None
        p: dict[str, Any] = fault.params if fault else {}
        if kind == "refuse":
            h.close_connection = True
            try:
                import socket

                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if kind == "stall":
            self._stop.wait(p.get("seconds"))
            h.close_connection = True
            return
        if kind == "status":
            data = p["body"]
            if data is None:
                data = json.dumps({"message": f"injected HTTP {p['code']}"}).encode()
            elif not isinstance(data, bytes):
                data = json.dumps(data).encode() if not isinstance(data, str) else data.encode()
            self._send(h, p["code"], None, [("Content-Type", "application/json")] + list(p["headers"].items()), data)
            h.wfile.write(data)
            return
        if kind == "redirect":
            loc = p["location"] or (self.elsewhere.url + h.path)
            self._send(h, p["code"], None, [("Location", loc)], b"")
            return
        if kind == "retry_after":
            data = json.dumps({"message": "slow down"}).encode()
            self._send(h, p["code"], None, [("Retry-After", str(p["seconds"])),
                                            ("Content-Type", "application/json")], data)
            h.wfile.write(data)
            return
        if kind == "garbage":
            data = p["body"]
            self._send(h, 200, None, [("Content-Type", "application/json")], data)
            h.wfile.write(data)
            return
        status, reason, headers, data = self._forward(h, body)
        if kind == "corrupt":
            try:
                doc = json.loads(data)
            except ValueError:
                doc = None
            if doc is not None:
                doc, _ = corrupt_json(doc, p["pointer"], p["action"], p["value"])
                data = json.dumps(doc).encode()
        if kind == "truncate":
            self._send(h, status, reason, headers, data, declared=len(data))
            h.wfile.write(data[: int(len(data) * p["keep"])])
            h.wfile.flush()
            h.close_connection = True
            return
        if kind == "trickle":
            self._send(h, status, reason, headers, data)
            step = max(1, int(p["chunk"]))
            for i in range(0, len(data), step):
                if self._stop.is_set():
                    return
                h.wfile.write(data[i:i + step])
                h.wfile.flush()
                time.sleep(p["interval"])
            return
        self._send(h, status, reason, headers, data)
        if h.command != "HEAD":
            h.wfile.write(data)
