"""Transport: the NetWorker REST calls (q=/fl=) through the kit's HttpClient, fetched concurrently, decoded lean."""
from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from policycheck.api import CollectorError

DEFAULT_PORT = 9090


@dataclass
class Call:
    """One list (or single-object) GET: resource path, the answer's list key, fields to select."""
    name: str
    path: str
    key: str | None  # None: the answer is one object (serverconfig)
    fields: tuple = ()
    query: str | None = None
    optional: bool = False  # feeds evidence only: a refusal (403/404/500) degrades its facts, not the source
    params: dict = field(default_factory=dict)
    privilege: str = "Monitor NetWorker"  # the NetWorker privilege a 403 on this call is missing
    feeds: str = ""  # the facts an optional call feeds (named in the warning when it is refused)


@dataclass
class Refused:
    """The answer of an optional call the server refused: which status, and the server's reason.
    ``status`` 0: not a refusal by the server but an answer over ``max_response_mb`` (the list is capped:
    the facts it feeds are unknown, never decided from a part of it)."""
    call: Call
    status: int
    reason: str


class TooLarge(CollectorError):
    """An answer over the configured cap (max_response_mb)."""


# Fields named in fl= must exist on the server (an unknown field is a 400); see networker.md.
CALLS = (  # the biggest answer first: it is the critical path
    Call("backups", "backups", "backups",
         # no attributes: a real save set carries a dozen; image backups join by name/vmInformation
         ("id", "name", "clientHostname", "level", "saveTime", "instances", "vmInformation")),
    Call("serverconfig", "serverconfig", None),
    Call("storagenodes", "storagenodes", "storageNodes",
         ("name", "typeOfStorageNode", "enabled", "ready", "cloneStorageNodes", "dedicatedStorageNode")),
    Call("devices", "devices", "devices",
         ("name", "mediaType", "mediaFamily", "deviceAccessInfo", "dataDomainHost", "status", "readOnly",
          "volumeId", "mountedVolume", "volumePool", "dataDomainRetentionLockMode")),
    Call("pools", "pools", "pools", ("name", "poolType", "devices", "enabled")),
    Call("volumes", "volumes", "volumes", ("id", "name", "pool", "type", "family", "location", "mode", "states")),
    Call("clients", "clients", "clients",
         ("resourceId", "clientId", "hostname", "aliases", "backupType", "saveSets", "protectionGroups",
          "storageNodes", "scheduledBackup", "os")),
    Call("protectionpolicies", "protectionpolicies", "protectionPolicies", optional=True,
         privilege="View Application Settings",
         feeds="backup_server.networker_bootstrap_actions, networker_client_actions_to_server"),
    Call("jukeboxes", "jukeboxes", "jukeboxes", ("name", "hostname", "devices", "volumes", "volumeIds", "virtual"),
         optional=True, feeds="where bootstrap copies on unmounted volumes are (copy local_to_server)"),
    # the job log: only save jobs (failed ones leave no save set); a server that refuses the q= gets asked
    # again without it and the mapping filters
    Call("jobs", "jobs", "jobs", ("id", "name", "type", "completionStatus", "clientHostname", "startTime",
                                  "endTime"), query='type:"save job"', optional=True,
         feeds="client.last_failed_backup"),
    Call("protectedvms", "vmware/protectedvms", "vms", ("name", "hostname", "uuid", "vCenterHostname"),
         optional=True, privilege="View Application Settings",
         feeds="client.last_image_backup (vProxy image backups joined to guests)"),
)
REFUSALS = (403, 404, 500)  # statuses by which a server refuses an optional call (privilege, no such API, no vProxy)


def base_url(url: str, api_version: str = "v3") -> tuple[str, str]:
    """(REST base URL ending in /global, server host) from a configured url or bare host name."""
    raw = url.strip()
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CollectorError(f"url {url!r} is not https://SERVER[:PORT] (fix the source's url:)")
    host = parts.hostname
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise CollectorError(f"url {url!r} has an invalid port") from None
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}:{port}/nwrestapi/{api_version}/global", host


class NetworkerApi:
    """Reads the resources of one NetWorker server through a policycheck HttpClient."""

    def __init__(self, client, *, max_bytes: int, log=lambda m: None, redact=lambda t: t):
        self.client = client
        self.max_bytes = max_bytes
        self.redact = redact
        self.log = lambda m: log(redact(m))
        self.requests = 0
        self.deadline = float("inf")
        self.unfiltered: set = set()  # calls whose q= the server refused: their answer is the whole list

    def where(self, path: str) -> str:
        return f"{self.client.base_url}/{path}"

    def fetch(self, call: Call):
        """The decoded answer of one call: the list (``[]`` when empty) or the object.

        A 400 (an older server that rejects a time range in q= or a field in fl=) is answered by
        asking again without q=, then without fl=: more data, never less.
        """
        params = dict(call.params)
        if call.fields:
            params["fl"] = ",".join(call.fields)
        if call.query:
            params["q"] = call.query
        while True:
            try:
                return self._get(call, params)
            except TooLarge as exc:
                if not call.optional:
                    raise
                return Refused(call, 0, self.redact(str(exc)))
            except CollectorError as exc:
                text = self.redact(str(exc))
                status = getattr(exc, "status", None) or _status(text)  # the kit's HttpError carries it
                if call.optional and status in REFUSALS:
                    if status == 404:
                        self.log(f"{call.path}: not available on this server (404), skipped")
                    return Refused(call, status, text)
                dropped = next((k for k in ("q", "fl") if k in params), None) if status == 400 else None
                if dropped is None:
                    if text != str(exc):
                        raise CollectorError(text) from None
                    raise
                self.log(f"{call.path}: {dropped}= refused ({text[:160]}), asking again without it")
                del params[dropped]
                if dropped == "q":
                    self.unfiltered.add(call.name)

    def _get(self, call: Call, params: dict):
        self.requests += 1
        resp = self.client.get(call.path, params=params or None, stream=True)
        try:
            doc = self._decode(resp, call)
        finally:
            resp.close()
        if call.key is None:
            if not isinstance(doc, dict):
                raise CollectorError(f"malformed answer from {self.where(call.path)}: expected an object")
            return doc
        if not isinstance(doc, dict):
            raise CollectorError(f"malformed answer from {self.where(call.path)}: expected "
                                 f"{{count, {call.key}}}, got {type(doc).__name__}")
        return envelope(doc, call, self.where(call.path))

    def _decode(self, resp, call: Call):
        """Read the body once into a bytearray (capped), decode it to one text, parse, drop both."""
        buf = bytearray()
        raw = resp.raw
        try:
            while True:
                # read1: whatever has arrived (<= 256 KiB), so a body that trickles in is still
                # checked against the source's deadline between reads
                chunk = raw.read1(1 << 18, decode_content=True)
                if not chunk:
                    break
                buf += chunk
                if len(buf) > self.max_bytes:
                    raise TooLarge(
                        f"answer from {self.where(call.path)} exceeds {self.max_bytes >> 20} MiB "
                        "(raise max_response_mb: if this datazone is really that large)")
                if time.monotonic() > self.deadline:
                    raise CollectorError(f"answer from {self.where(call.path)} still arriving after the source's "
                                         f"timeout ({len(buf)} bytes so far; raise timeout: or check the network)")
        except CollectorError:
            raise
        except Exception as exc:  # urllib3 ProtocolError/IncompleteRead, ReadTimeoutError, ...
            kind = "timed out" if "timed out" in str(exc).lower() else "was cut short"
            raise CollectorError(f"answer from {self.where(call.path)} {kind} after {len(buf)} bytes "
                                 f"({type(exc).__name__}); the server or a proxy closed the connection") from None
        ctype = resp.headers.get("Content-Type", "")
        try:
            text = buf.decode("utf-8")
            del buf
            return json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            raise CollectorError(f"malformed JSON from {self.where(call.path)} (Content-Type {ctype or 'none'}):"
                                 f" {str(exc)[:160]}") from None

    def fetch_all(self, calls, workers: int, deadline: float) -> dict:
        """Run the calls concurrently on daemon threads; the first failure is raised at once.

        The workers are daemon threads (a ThreadPoolExecutor's are not: the interpreter waits for them
        at exit) and each stops at its next read once the deadline has passed, so no worker keeps the
        process alive after the run, whatever the server does.
        """
        self.started = time.monotonic()
        self.deadline = deadline
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for c in calls:
            todo.put(c)
        done: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()

        def work():
            while not stop.is_set():
                try:
                    call = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((call, self.fetch(call), None))
                except BaseException as exc:  # noqa: BLE001 - reported to the caller
                    done.put((call, None, exc))

        for i in range(max(1, min(workers, len(calls)))):
            threading.Thread(target=work, name=f"networker-{i}", daemon=True).start()
        results: dict = {}
        try:
            while len(results) < len(calls):
                left = deadline - time.monotonic()
                try:
                    call, value, exc = done.get(timeout=max(0.05, left))
                except queue.Empty:
                    names = ", ".join(sorted(self.where(c.path) for c in calls if c.name not in results))
                    raise CollectorError(f"no answer from {names} within the source's timeout of "
                                         f"{deadline - self.started:.0f}s (raise timeout: or check the server's "
                                         "load)") from None
                if exc is not None:
                    if isinstance(exc, CollectorError):
                        raise exc
                    raise CollectorError(self.redact(f"reading {self.where(call.path)} failed: "
                                                     f"{type(exc).__name__}: {exc}"))
                results[call.name] = value
        finally:
            stop.set()  # workers take no new call; one still reading ends at its next chunk (deadline)
        return results


def _status(text: str) -> int | None:
    """The HTTP status named in a core HttpClient error ("HTTP 403 Forbidden from ...")."""
    import re

    m = re.search(r"\bHTTP (\d{3})\b", text)
    return int(m.group(1)) if m else None


def envelope(doc, call: Call, where: str) -> list:
    """The items of a list answer ``{"count": N, "<key>": [...]}``, checked: an answer without the list
    key is an error unless ``count`` says 0 (an empty list may come without the key), ``count`` must be
    present and agree with the items. ``{}`` (no count, no key) is an error, never an empty list."""
    if not isinstance(doc, dict):
        raise CollectorError(f"malformed answer from {where}: expected {{count, {call.key}}}, "
                             f"got {type(doc).__name__}")
    count = doc.get("count")
    if "count" not in doc or count.__class__ is not int:
        what = "no 'count'" if "count" not in doc else f"'count' is {json.dumps(count)[:40]}"
        raise CollectorError(f"malformed answer from {where}: {what} in the list envelope "
                             f"(keys: {', '.join(sorted(map(str, doc))[:8]) or 'none'}); expected "
                             f"{{count, {call.key}}}")
    items = doc.get(call.key)
    if items is None:
        if call.key in doc or count != 0:
            raise CollectorError(f"malformed answer from {where}: count says {count} but the answer has "
                                 f"{'a null' if call.key in doc else 'no'} '{call.key}' list")
        return []  # {"count": 0} without the key: an empty list
    if not isinstance(items, list):
        raise CollectorError(f"malformed answer from {where}: '{call.key}' is not a list")
    if count != len(items):
        raise CollectorError(f"incomplete answer from {where}: count says {count} "
                             f"but {len(items)} {call.key} came (truncated or inconsistent list)")
    return items
