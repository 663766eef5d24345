"""Transport only: log in to vCenter with pyVmomi and read it in bulk (PropertyCollector, EventManager);
vendor objects back as vCenter shapes them, every failure a one-line CollectorError naming the step."""
from __future__ import annotations

import contextlib
import errno
import http.client
import socket
import ssl
from contextlib import contextmanager

from policycheck.api import CollectorError


class HttpStatus(Exception):
    """The HTTP status behind one of pyVmomi's generic connection errors."""

    def __init__(self, code, reason, soap=False):
        super().__init__(f"HTTP {code} {reason}")
        self.code, self.reason, self.soap = code, reason, soap


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
    if isinstance(exc, HttpStatus):
        if exc.soap:
            return (f"{where}: {step}: HTTP {exc.code} {exc.reason} from POST /sdk (RetrieveServiceContent): the "
                    "answer is not a SOAP message; check vCenter's health (vpxd / the reverse proxy)")
        hint = {401: "the web server asks for authentication before SOAP (a proxy or a wrong port?)",
                403: "access to /sdk is forbidden (a proxy, a firewall rule or a wrong port?)",
                404: "there is no /sdk here (not a vCenter/ESXi, or a wrong port)",
                503: "the vSphere service is unavailable (vCenter starting, stopped or overloaded)"}.get(
            exc.code, "vCenter's web service failed" if exc.code >= 500 else "not a vSphere SOAP answer")
        return (f"{where}: {step}: HTTP {exc.code} {exc.reason} from GET /sdk/vimServiceVersions.xml: {hint}; "
                "check host and port and vCenter's health")
    if "not a VIM server" in str(exc):
        return (f"{where}: {step}: no vSphere SOAP service answered at /sdk (an HTTP error page, or not a "
                "vCenter/ESXi); check host and port and vCenter's health")
    if type(exc).__name__ in ("ParseError", "ExpatError", "SAXParseException"):
        return f"{where}: {step}: malformed or truncated SOAP answer ({exc}); check vCenter's health or a proxy"
    if isinstance(exc, vmodl.MethodFault):
        msg = getattr(exc, "msg", "") or type(exc).__name__
        obj = getattr(exc, "object", None) or getattr(exc, "obj", None)
        on = f" on {getattr(obj, '_moId', obj)}" if obj is not None else ""
        return f"{where}: {step}: vCenter fault {type(exc).__name__}{on}: {msg}"
    status = None if isinstance(exc, OSError) else getattr(exc, "status", None)
    if isinstance(status, int) and 100 <= status < 600:  # pyVmomi's HTTP errors carry the status
        return (f"{where}: {step}: HTTP {status} {getattr(exc, 'reason', '') or ''}: the answer is not "
                "a SOAP message; check vCenter's health")
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
        raise CollectorError(ctx.redact(one_line(describe(e, settings, step, ctx.timeout)))) from None


def one_line(text: str, limit: int = 600) -> str:
    """A reason on one line (a server's multi-line error page or traceback folded), bounded."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "… (truncated)"


SOAP_PROBE = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
              'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
              '<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this>'
              '</RetrieveServiceContent></soapenv:Body></soapenv:Envelope>')


def probe_status(settings, sslctx, timeout, soap=False):
    """The HTTP status of GET /sdk/vimServiceVersions.xml (what pyVmomi's version probe hides behind
    "is down or is not a VIM server") or, with ``soap``, of an anonymous RetrieveServiceContent POST
    (no credentials sent); None when nothing answers in HTTP."""
    host, port = settings["host"], int(settings.get("port", 443))
    for conn in (lambda: http.client.HTTPSConnection(host, port, timeout=timeout, context=sslctx),
                 lambda: http.client.HTTPConnection(host, port, timeout=timeout)):
        c = conn()
        try:
            if soap:
                c.request("POST", "/sdk", body=SOAP_PROBE.encode(),
                          headers={"Content-Type": "text/xml", "SOAPAction": "urn:vim25/8.0.0.0"})
            else:
                c.request("GET", "/sdk/vimServiceVersions.xml")
            r = c.getresponse()
            return r.status, r.reason
        except Exception:  # noqa: BLE001 - try the next scheme, else say nothing more
            continue
        finally:
            c.close()
    return None


def connect(settings, ctx):
    """Log in and return the service instance (caller disconnects)."""
    from pyVim.connect import SmartConnect

    sslctx = ssl_context(settings)
    with guarded(settings, ctx, "login"):
        try:
            return _smart_connect(SmartConnect, settings, ctx, sslctx)
        except Exception as e:
            wait = min(float(ctx.timeout or 10), 10.0)
            status = None
            if "not a VIM server" in str(e):
                status = probe_status(settings, sslctx, wait)
            elif type(e).__name__.endswith("HostConnectFault") and "non-exception" in str(getattr(e, "msg", "")):
                # pyVmomi's own error for an HTTP error page where a SOAP answer belongs
                status = probe_status(settings, sslctx, wait, soap=True)
                status = status + (True,) if status and status[0] != 200 else None
            if status:
                raise HttpStatus(*status) from None
            raise


def _smart_connect(SmartConnect, settings, ctx, sslctx):
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

    with contextlib.suppress(Exception):  # logout failures do not change the facts read
        Disconnect(si)


# The only properties read, per managed-object type (see README.md for what each feeds).
PROPERTIES = {
    "ClusterComputeResource": ["name", "host", "parent", "configurationEx"],
    "HostSystem": ["name", "parent", "datastore", "runtime.connectionState", "runtime.inMaintenanceMode",
                   "summary.config.vmotionEnabled", "config.virtualNicManagerInfo.netConfig"],
    "Datastore": ["name", "summary.type", "summary.multipleHostAccess", "host"],
    "VirtualMachine": ["name", "config.template", "config.uuid", "config.instanceUuid",
                       "config.hardware.device", "guest.hostName", "runtime.powerState", "runtime.host",
                       "resourcePool", "datastore", "snapshot"],
    # where each object lives: folders (their children) up to the datacenter, for the datacenter path
    "Datacenter": ["name", "parent"],
    "Folder": ["name", "parent", "childEntity"],
}

#: the most clone events one run reads (vCenter's own cap for one QueryEvents answer is 1000)
MAX_EVENTS = 1000


class Obj:
    """One managed object's retrieved properties: ``ref``, ``props`` {path: value}, ``missing`` {path: fault}."""

    __slots__ = ("ref", "props", "missing")

    def __init__(self, ref, props, missing):
        self.ref, self.props, self.missing = ref, props, missing

    @property
    def moid(self) -> str:
        return self.ref._moId

    def get(self, path, default=None):
        return self.props.get(path, default)


def properties_for(settings: dict) -> dict[str, list[str]]:
    """PROPERTIES, plus VirtualMachine.customValue when an exemption custom attribute is configured."""
    if not settings.get("backup_exempt_attribute"):
        return PROPERTIES
    props = {k: list(v) for k, v in PROPERTIES.items()}
    props["VirtualMachine"].append("customValue")
    return props


def custom_field_defs(si) -> list:
    """vCenter's custom attribute definitions (``CustomFieldsManager.field``: CustomFieldDef with
    key, name, managedObjectType), in one PropertyCollector call; a missingSet fault is raised."""
    from pyVmomi import vim, vmodl

    cfm = si.content.customFieldsManager
    if cfm is None:
        return []
    PC = vmodl.query.PropertyCollector
    spec = PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=cfm, skip=False)],
                         propSet=[PC.PropertySpec(type=vim.CustomFieldsManager, pathSet=["field"], all=False)])
    result = si.content.propertyCollector.RetrievePropertiesEx([spec], PC.RetrieveOptions())
    defs: list = []
    for oc in (result.objects if result is not None else None) or []:
        for m in oc.missingSet or []:
            raise m.fault
        for p in oc.propSet or []:
            defs.extend(p.val or [])
    return defs


def datacenters_and_folders(si) -> dict[str, list[Obj]]:
    """Every Datacenter and Folder (name, parent, children) under the root, in one bulk call."""
    return retrieve(si, si.content.rootFolder, {"Datacenter": ["name", "parent"],
                                                "Folder": ["name", "parent", "childEntity"]})


def clone_events(si, container) -> tuple[list, str | None]:
    """The VmClonedEvents under ``container`` in vCenter's event history: one bounded QueryEvents call.

    Returns (events, truncated): ``truncated`` says why older events may be missing (the answer
    reached MAX_EVENTS), else None. Raises what vCenter raises (NoPermission, NotImplemented...)."""
    from pyVmomi import vim

    spec = vim.event.EventFilterSpec(
        eventTypeId=["VmClonedEvent"], maxCount=MAX_EVENTS,
        entity=vim.event.EventFilterSpec.ByEntity(entity=container, recursion="all"))
    events = list(si.content.eventManager.QueryEvents(spec) or [])
    truncated = None
    if len(events) >= MAX_EVENTS:
        truncated = f"the answer held the most events one call returns ({MAX_EVENTS})"
    return events, truncated


def retrieve(si, container, properties=PROPERTIES, page_size: int = 1000) -> dict[str, list[Obj]]:
    """Read ``properties`` of every object of each type under ``container`` in bulk.

    One ContainerView per type, one RetrievePropertiesEx carrying all of them, then
    ContinueRetrievePropertiesEx while vCenter hands back a token. Views are destroyed after.
    """
    from pyVmomi import vim, vmodl

    content = si.content
    pc = content.propertyCollector
    views = []
    try:
        object_specs, prop_specs = [], []
        for type_name, paths in properties.items():
            vtype = getattr(vim, type_name)
            view = content.viewManager.CreateContainerView(container, [vtype], True)
            views.append(view)
            traverse = vmodl.query.PropertyCollector.TraversalSpec(
                name=f"view-{type_name}", path="view", skip=False, type=vim.view.ContainerView)
            object_specs.append(vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True,
                                                                         selectSet=[traverse]))
            prop_specs.append(vmodl.query.PropertyCollector.PropertySpec(type=vtype, pathSet=list(paths),
                                                                         all=False))
        spec = vmodl.query.PropertyCollector.FilterSpec(objectSet=object_specs, propSet=prop_specs)
        options = vmodl.query.PropertyCollector.RetrieveOptions(maxObjects=page_size)
        result = pc.RetrievePropertiesEx([spec], options)
        out: dict[str, list[Obj]] = {t: [] for t in properties}
        while result is not None:
            for oc in result.objects or []:
                props = {p.name: p.val for p in (oc.propSet or [])}
                missing = {m.path: m.fault for m in (oc.missingSet or [])}
                type_name = type(oc.obj).__name__.split(".")[-1]
                out.setdefault(_type_key(oc.obj, properties), []).append(Obj(oc.obj, props, missing))
            token = getattr(result, "token", None)
            if not token:
                break
            result = pc.ContinueRetrievePropertiesEx(token)
        return out
    finally:
        for v in views:
            with contextlib.suppress(Exception):  # a view left behind expires with the session
                v.DestroyView()


def _type_key(ref, properties) -> str:
    from pyVmomi import vim

    for type_name in properties:
        if isinstance(ref, getattr(vim, type_name)):
            return type_name
    return type(ref).__name__
