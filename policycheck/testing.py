"""Contract-test kit for collector plugins: validate fragments, run a source end to end, hunt secrets.

Use from a plugin's tests::

    from policycheck.testing import assert_valid_fragment, run_source, assert_no_secret
    from policycheck.testing import FaultProxy, faults      # a fault-injecting proxy (faultproxy.py)
    from policycheck.testing import secret_forms             # every encoding a leak scan looks for

and what the plugins' tests used to rebuild by hand::

    from policycheck.testing import collect_context   # a CollectContext built through the runtime
    from policycheck.testing import run_cli           # the CLI in process: CliResult(code, stdout, stderr)
    from policycheck.testing import FakeHTTPServer    # a loopback HTTP(S) server for vendor fakes
    from policycheck.testing import make_cert         # a throw-away CA and server certificate
    from policycheck.testing import need              # skip locally, fail under CI=true
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from policycheck.api import CollectContext, Collector, Fragment, Settings
from policycheck.faultproxy import ALL_TRANSPORT_FAULTS, Fault, FaultProxy, corrupt_json, faults  # noqa: F401

SCHEMAS = Path(__file__).parent / "schemas"


def secret_forms(secret: str, users: Sequence[str] = ()) -> list[str]:
    """Every encoding of ``secret`` a leak scan must not find: raw, base64 (and of ``user:secret``),
    URL-, XML- and JSON-escaped."""
    from policycheck.secrets import variants

    return sorted(variants(secret, tuple(users)), key=len, reverse=True)


@cache
def _validator(name: str) -> Any:
    import jsonschema

    schema = json.loads((SCHEMAS / name).read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def fragment_errors(fragment: dict[str, Any]) -> list[str]:
    """Every schema violation of a collector fragment, as 'path: message' lines."""
    v = _validator("fragment.schema.json")
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in sorted(v.iter_errors(fragment), key=lambda e: list(map(str, e.absolute_path)))]


def assert_valid_fragment(fragment: dict[str, Any]) -> None:
    """Fail with every violation when a fragment does not match docs/facts.md's schema."""
    errors = fragment_errors(fragment)
    assert not errors, "fragment does not validate against the facts schema:\n" + "\n".join(errors[:50])


def facts_errors(document: dict[str, Any]) -> list[str]:
    """Every schema violation of a whole facts document (``policycheck collect`` output)."""
    v = _validator("facts.schema.json")
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in v.iter_errors(document)]


def assert_valid_facts(document: dict[str, Any]) -> None:
    errors = facts_errors(document)
    assert not errors, "facts document does not validate:\n" + "\n".join(errors[:50])


def assert_no_secret(secret: str, *texts: object, users: Sequence[str] = ()) -> None:
    """Fail if ``secret`` appears, in any encoding (:func:`secret_forms`), in any of ``texts`` (str,
    bytes, or objects dumped as JSON)."""
    assert secret, "assert_no_secret needs a non-empty secret"
    forms = secret_forms(secret, users) or [secret]
    for i, raw in enumerate(texts):
        if isinstance(raw, bytes):
            t = raw.decode("utf-8", "replace")
        elif isinstance(raw, str):
            t = raw
        else:
            t = json.dumps(raw, default=str)
        for f in forms:
            assert f not in t, f"secret found in output #{i} (as {'raw' if f == secret else 'an encoding'})"


class SourceRun:
    """What :func:`run_source` returns: the source's status and error, its fragment, the merged document."""

    def __init__(self, status: str, error: str | None, fragment: Fragment | None, document: dict[str, Any]) -> None:
        self.status, self.error, self.fragment, self.document = status, error, fragment, document


def run_source(plugin: str, settings: dict[str, Any], timeout: float = 10.0, name: str = "src",
               base_dir: str | Path = ".", **plugin_kwargs: Any) -> SourceRun:
    """Run one source through the real pipeline (:func:`policycheck.pipeline.run`, as `collect` does:
    schema validation, secrets, timeout, error capture and redaction, then the derivations) and return
    its outcome; ``document`` is the derived facts document a snapshot would hold."""
    import copy

    from policycheck import pipeline
    from policycheck.collect import plan_sources
    from policycheck.config import Config
    from policycheck.plugins import make_plugins

    plugins = make_plugins(**plugin_kwargs)
    cfg = Config(path=None, base_dir=Path(base_dir),
                 sources=[dict(settings, name=name, plugin=plugin, timeout=timeout)])
    captured: dict[str, Fragment] = {}
    plans = plan_sources(cfg, plugins)
    for p in plans:
        if p.collector is not None:
            original = p.collector.collect

            def spy(s: Settings, ctx: CollectContext,
                    original: Callable[[Settings, CollectContext], Fragment] = original) -> Fragment:
                captured["fragment"] = original(s, ctx)
                return captured["fragment"]

            p.collector = copy.copy(p.collector)
            p.collector.collect = spy
    outcome = pipeline.run(pipeline.RunInputs(policies=(), config=cfg, plugins=plugins, plans=plans))
    doc = outcome.document
    src = doc["sources"][0]
    return SourceRun(src["status"], src["error"], captured.get("fragment") if src["status"] == "ok" else None, doc)



# --- what the plugins' tests used to rebuild by hand (the collector kit's test half) ---------------


@contextlib.contextmanager
def _environ(env: Mapping[str, str | None] | None) -> Iterator[None]:
    """``os.environ`` with ``env`` applied (a None value unsets the variable), restored afterwards."""
    if not env:
        yield
        return
    saved = {k: os.environ.get(k) for k in env}
    try:
        _apply_env(env)
        yield
    finally:
        _apply_env(saved)


def _apply_env(env: Mapping[str, str | None]) -> None:
    """Set each variable of ``env`` in ``os.environ``; a None value unsets it."""
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def collect_context(plugin: str, settings: dict[str, Any], *, name: str = "src", base_dir: str | Path = ".",
                    timeout: float = 10.0, env: Mapping[str, str | None] | None = None,
                    ) -> tuple[Collector, dict[str, Any], CollectContext]:
    """``(collector, settings, ctx)`` for one source, built through the real runtime: the plugin's
    settings schema validated, ``${VAR}`` and ``*_file``
    secrets resolved (with ``env`` applied while resolving) and registered for redaction, and a
    context with the source's deadline (``timeout`` seconds from now). For tests that call a
    plugin's ``collect(settings, ctx)`` or its parts directly; invalid settings raise
    ``policycheck.collect.SourceConfigError`` as ``policycheck check`` would report them."""
    from policycheck.collect import plan_sources
    from policycheck.config import Config
    from policycheck.plugins import make_plugins

    cfg = Config(path=None, base_dir=Path(base_dir),
                 sources=[dict(settings, name=name, plugin=plugin, timeout=timeout)])
    with _environ(env):
        plans = plan_sources(cfg, make_plugins())
    plan = plans[0]
    if plan.collector is None or plan.settings is None:
        raise LookupError(f"plugin {plugin!r}: {plan.error}")
    ctx = CollectContext(source=name, timeout=timeout, base_dir=str(base_dir), secrets=list(plan.secrets),
                         deadline=time.monotonic() + timeout)
    return plan.collector, dict(plan.settings), ctx


@dataclass(frozen=True)
class CliResult:
    """What :func:`run_cli` returns: the exit code and everything printed."""

    code: int
    stdout: str
    stderr: str


def run_cli(args: Sequence[object], *, cwd: str | Path | None = None,
            env: Mapping[str, str | None] | None = None) -> CliResult:
    """Run ``policycheck ARGS`` in this process, as a user runs it, and capture its output.

    ``env`` is applied for the run (None unsets a variable), ``cwd`` is changed into and back; an
    argparse usage error (SystemExit) becomes its exit code. Not thread-safe (it swaps sys.stdout)."""
    from policycheck import cli

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    with _environ(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            if cwd is not None:
                os.chdir(cwd)
            try:
                code = cli.main([str(a) for a in args])
            except SystemExit as exc:  # argparse usage errors, --help, --version
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        finally:
            os.chdir(here)
    return CliResult(int(code), out.getvalue(), err.getvalue())


def need(available: object, reason: str) -> None:
    """Skip the calling test when ``available`` is false; under ``CI=true`` fail it instead (CI must
    provide what the test needs: a missing server or package is a broken CI, not a pass)."""
    import pytest

    if available:
        return
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason} (CI=true: failing instead of skipping)")
    pytest.skip(reason)


@dataclass
class Request:
    """One request :class:`FakeHTTPServer` received."""

    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    target: str = ""  # the request line's target, query included

    def json(self) -> Any:
        return json.loads(self.body)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Answer:
    """What a route answers: status, body (bytes, str, or an object sent as JSON), headers; ``delay``
    seconds before answering; ``stall_after``: send the headers and that many body bytes, then
    hold the connection open without sending more (until the server stops); ``cut_after``: send
    that many body bytes (Content-Length still announcing all) and close the connection;
    ``trickle``: send the body in 20 pieces spread over that many seconds."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stall_after: int | None = None
    cut_after: int | None = None
    trickle: float = 0.0


def json_answer(body: Any, status: int = 200, headers: Mapping[str, str] | None = None, *,
                delay: float = 0.0, stall_after: int | None = None, cut_after: int | None = None,
                trickle: float = 0.0) -> Answer:
    """An answer with ``body`` as JSON (Content-Type: application/json)."""
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return Answer(status, json.dumps(body).encode(), h, delay, stall_after, cut_after, trickle)


Route = Callable[[Request], "Answer | tuple[Any, ...]"] | Answer | tuple[Any, ...]


class FakeHTTPServer:
    """A threaded loopback HTTP(S) server for vendor fakes in tests.

    ``routes`` maps ``(method, path)`` (path without the query) to an :class:`Answer`, a tuple
    ``(status, headers, body)``, or a callable taking the :class:`Request` and returning one of
    those; an unknown route answers 404 ``{"detail": "Not found."}`` (or ``default(request)``).
    ``delay`` and ``stall_after`` apply to every answer (an Answer's own values win when set);
    ``tls=(cert_pem, key_pem)`` serves HTTPS (see :func:`make_cert`). Every request is recorded in
    ``requests``; ``max_in_flight`` is the most requests handled at once. Use as a context manager;
    ``url`` is the base URL::

        with FakeHTTPServer({("GET", "/api/items"): json_answer({"results": []})}) as srv:
            HttpClient(srv.url).get_json("/api/items")
            assert srv.requests[0].headers["Accept"] == "application/json"
    """

    def __init__(self, routes: Mapping[tuple[str, str], Route] | None = None, *, delay: float = 0.0,
                 stall_after: int | None = None, tls: tuple[str | Path, str | Path] | None = None,
                 default: Callable[[Request], Answer | tuple[Any, ...]] | None = None) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.routes: dict[tuple[str, str], Route] = dict(routes or {})
        self.delay = delay
        self.stall_after = stall_after
        self.default = default
        self.requests: list[Request] = []
        self.errors: list[Exception] = []  #: exceptions a route raised (each answered as a 500 naming it)
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                with outer._lock:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    outer._serve(self)
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up or refuses our certificate is part of the test

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls is not None:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            # the handshake happens in the request's thread, so a silent client cannot block accept()
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True,
                                                 do_handshake_on_connect=False)
            self.scheme = "https"
        # a short poll interval: close() waits for it (the default 0.5 s made every test's teardown slow)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="FakeHTTPServer", daemon=True)
        self._started = False

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> FakeHTTPServer:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()  # releases delayed and stalled answers
        if self._started:
            self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self, h: Any) -> None:
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        req = Request(h.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                      dict(h.headers.items()), body, h.path)
        with self._lock:
            self.requests.append(req)
        route = self.routes.get((h.command, parts.path))
        if route is None and h.command == "HEAD":
            route = self.routes.get(("GET", parts.path))
        if route is None:
            route = self.default or Answer(404, b'{"detail": "Not found."}', {"Content-Type": "application/json"})
        try:
            answer = route(req) if callable(route) else route
        except Exception as exc:  # a bug in the fake itself: recorded, and answered so the test sees it
            import traceback

            with self._lock:
                self.errors.append(exc)
            answer = Answer(500, {"fake_server_error": f"{type(exc).__name__}: {exc}",
                                  "traceback": traceback.format_exc(limit=5)})
        if not isinstance(answer, Answer):
            status, headers, payload = (tuple(answer) + ({}, b""))[:3]
            answer = Answer(int(status), payload, dict(headers or {}))
        data = answer.body if isinstance(answer.body, bytes) else (
            answer.body.encode() if isinstance(answer.body, str) else json.dumps(answer.body).encode())
        delay = answer.delay or self.delay
        if delay and self._stop.wait(delay):
            return
        stall = answer.stall_after if answer.stall_after is not None else self.stall_after
        try:
            h.send_response(answer.status)
            names = {k.lower() for k in answer.headers}
            for k, v in answer.headers.items():
                h.send_header(k, v)
            if "content-type" not in names:
                h.send_header("Content-Type", "application/json")
            if "content-length" not in names:
                h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if h.command == "HEAD":
                data = b""
            elif stall is not None:
                data = data[:stall]
            elif answer.cut_after is not None:
                data = data[:answer.cut_after]
                h.close_connection = True
            if answer.trickle and data:
                step = max(1, len(data) // 20)
                for i in range(0, len(data), step):
                    h.wfile.write(data[i:i + step])
                    h.wfile.flush()
                    if self._stop.wait(answer.trickle / 20):
                        break
            else:
                h.wfile.write(data)
            h.wfile.flush()
            if stall is not None:
                self._stop.wait()
                h.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now (bound, then released): for a server a test
    starts, or for a "connection refused" test."""
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Certs:
    """What :func:`make_cert` wrote: the CA certificate (the bundle a client trusts), and the server's
    certificate and private key (for ``FakeHTTPServer(tls=(cert_pem, key_pem))``), all PEM files."""

    ca_pem: Path
    cert_pem: Path
    key_pem: Path


def make_cert(dir: str | Path, hostnames: Sequence[str] = ("127.0.0.1", "localhost")) -> Certs:
    """A throw-away CA and a server certificate for ``hostnames`` (IP addresses become IP SANs),
    written into ``dir``; valid from a day before now for ten years (so a clock moved forward by
    faketime still accepts them). Uses ``cryptography`` when importable, else the ``openssl`` CLI."""
    d = Path(dir)
    d.mkdir(parents=True, exist_ok=True)
    certs = Certs(d / "ca.pem", d / "cert.pem", d / "key.pem")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        _make_cert_openssl(certs, list(hostnames))
    else:
        _make_cert_cryptography(certs, list(hostnames))
    return certs


def _make_cert_cryptography(certs: Certs, hostnames: list[str]) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "policycheck test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in hostnames:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0] if hostnames else "test")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    certs.ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certs.key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    certs.key_pem.chmod(0o600)


def _make_cert_openssl(certs: Certs, hostnames: list[str]) -> None:
    import ipaddress
    import subprocess
    import tempfile

    sans = []
    for n in hostnames:
        try:
            ipaddress.ip_address(n)
            sans.append(f"IP:{n}")
        except ValueError:
            sans.append(f"DNS:{n}")
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        ca_key, csr, ext = t / "ca.key", t / "srv.csr", t / "ext.cnf"
        ext.write_text("basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
                       f"subjectAltName={','.join(sans)}\n")

        def ssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True)

        ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "3650",
            "-subj", "/CN=policycheck test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", str(ca_key), "-out", str(certs.ca_pem))
        ssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", f"/CN={hostnames[0] if hostnames else 'test'}", "-keyout", str(certs.key_pem), "-out", str(csr))
        ssl("x509", "-req", "-in", str(csr), "-CA", str(certs.ca_pem), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "3650", "-extfile", str(ext), "-out", str(certs.cert_pem))
    certs.key_pem.chmod(0o600)
