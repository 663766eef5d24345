"""Logging in to vCenter with pyVmomi and turning every connection failure into a CollectorError."""
from __future__ import annotations

import errno
import http.client
import socket
import ssl
from contextlib import contextmanager

from policycheck.api import CollectorError


def _where(settings) -> str:
    return f"vCenter {settings['host']}:{settings.get('port', 443)}"


def ssl_context(settings) -> ssl.SSLContext:
    """The TLS context for the source: verified against ca_bundle or the system CAs, or unverified."""
    if not settings.get("verify_tls", True):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    try:
        return ssl.create_default_context(cafile=settings.get("ca_bundle") or None)
    except (OSError, ssl.SSLError) as e:
        raise CollectorError(f"{_where(settings)}: cannot load ca_bundle {settings.get('ca_bundle')!r}: {e}; "
                             "give the path of a PEM file holding vCenter's CA certificate") from None


def describe(exc: BaseException, settings, step: str, timeout: float) -> str:
    """A one-line reason for a failure of ``step`` (what failed, where, why, how to fix)."""
    where = _where(settings)
    from pyVmomi import vim, vmodl  # noqa: F401  (types for isinstance)

    if isinstance(exc, vim.fault.HostConnectFault):
        # pyVmomi wraps socket failures of its version probe in HostConnectFault: classify by text
        text = (getattr(exc, "msg", "") or "").lower()
        if "timed out" in text:
            exc = TimeoutError(text)
        elif "refused" in text:
            exc = ConnectionRefusedError(text)
        elif "certificate verify failed" in text:
            return (f"{where}: TLS certificate does not verify ({exc.msg}); set ca_bundle to the PEM of "
                    "vCenter's CA (or verify_tls: false on a lab system)")
    if isinstance(exc, vim.fault.InvalidLogin):
        return (f"{where}: login as {settings['username']!r} refused (InvalidLogin: wrong user name or "
                "password); check the source's username and password")
    if isinstance(exc, vim.fault.NotAuthenticated):
        return f"{where}: {step}: session not authenticated (NotAuthenticated); check the audit user"
    if isinstance(exc, vim.fault.NoPermission):
        return (f"{where}: {step}: permission denied (NoPermission on {getattr(exc, 'privilegeId', '?')}); "
                "give the audit user the Read-only role on the vCenter root, propagated")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"{where}: TLS certificate does not verify ({exc.verify_message}); set ca_bundle to the "
                "PEM of vCenter's CA (or verify_tls: false on a lab system)")
    if isinstance(exc, ssl.SSLError):
        return f"{where}: TLS handshake failed ({exc.reason or exc}); check the port and TLS settings"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return (f"{where}: {step}: no answer within {timeout:g} s (timeout); raise the source's timeout "
                "or check the network path to vCenter")
    if isinstance(exc, ConnectionRefusedError):
        return f"{where}: connection refused; check host and port and that vCenter is up"
    if isinstance(exc, socket.gaierror):
        return f"{where}: cannot resolve host name ({exc}); check the source's host"
    if isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE):
        return f"{where}: {step}: connection reset by the server; check vCenter's health"
    if isinstance(exc, (http.client.HTTPException, ConnectionError)):
        return f"{where}: {step}: malformed or truncated answer ({type(exc).__name__}: {exc})"
    if "not a VIM server" in str(exc):
        return (f"{where}: {step}: no vSphere SOAP service answered at /sdk (an HTTP error page, or not a "
                "vCenter/ESXi); check host and port and vCenter's health")
    if type(exc).__name__ in ("ParseError", "ExpatError", "SAXParseException"):
        return f"{where}: {step}: malformed or truncated SOAP answer ({exc}); check vCenter's health or a proxy"
    if isinstance(exc, vmodl.MethodFault):
        msg = getattr(exc, "msg", "") or type(exc).__name__
        return f"{where}: {step}: vCenter fault {type(exc).__name__}: {msg}"
    if isinstance(exc, OSError):
        return f"{where}: {step}: {type(exc).__name__}: {exc}"
    return f"{where}: {step}: unexpected answer ({type(exc).__name__}: {exc})"


@contextmanager
def guarded(settings, ctx, step: str):
    """Re-raise anything that goes wrong inside as a redacted CollectorError naming the step."""
    try:
        yield
    except CollectorError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure to read the source becomes an error result
        raise CollectorError(ctx.redact(describe(e, settings, step, ctx.timeout))) from None


def connect(settings, ctx):
    """Log in and return the service instance (caller disconnects)."""
    from pyVim.connect import SmartConnect

    sslctx = ssl_context(settings)
    with guarded(settings, ctx, "login"):
        return SmartConnect(
            host=settings["host"],
            port=int(settings.get("port", 443)),
            user=settings["username"],
            pwd=settings["password"],
            sslContext=sslctx,
            httpConnectionTimeout=float(ctx.timeout) * 0.9 if ctx.timeout else None,
            connectionPoolTimeout=-1,
        )


def disconnect(si) -> None:
    from pyVim.connect import Disconnect

    try:
        Disconnect(si)
    except Exception:  # noqa: BLE001 - logout failures do not change the facts read
        pass
