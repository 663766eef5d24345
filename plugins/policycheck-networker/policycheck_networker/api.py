"""NetWorker REST API access: base URL, one list call per resource (q=/fl=), concurrent fetch, lean decode."""
from __future__ import annotations

import json
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
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
    optional: bool = False  # a 404 means "not available on this server", not a failure
    params: dict = field(default_factory=dict)


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
          "volumeId", "mountedVolume", "volumePool")),
    Call("pools", "pools", "pools", ("name", "poolType", "devices", "enabled")),
    Call("volumes", "volumes", "volumes", ("id", "name", "pool", "type", "family", "location", "mode")),
    Call("clients", "clients", "clients",
         ("resourceId", "clientId", "hostname", "aliases", "backupType", "saveSets", "protectionGroups",
          "storageNodes", "scheduledBackup", "os")),
    Call("protectionpolicies", "protectionpolicies", "protectionPolicies"),
    Call("jukeboxes", "jukeboxes", "jukeboxes", ("name", "hostname", "devices", "volumes", "volumeIds", "virtual"),
         optional=True),
    Call("protectedvms", "vmware/protectedvms", "vms", ("name", "hostname", "uuid", "vCenterHostname"),
         optional=True),
)


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

    def __init__(self, client, *, max_bytes: int, log=lambda m: None):
        self.client = client
        self.max_bytes = max_bytes
        self.log = log
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
            except CollectorError as exc:
                text = str(exc)
                if call.optional and "HTTP 404" in text:
                    self.log(f"{call.path}: not available on this server (404), skipped")
                    return None
                dropped = next((k for k in ("q", "fl") if k in params), None) if "HTTP 400" in text else None
                if dropped is None:
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
        items = doc.get(call.key)
        if items is None:
            items = []  # an empty list may come as {"count": 0} without the key
        if not isinstance(items, list):
            raise CollectorError(f"malformed answer from {self.where(call.path)}: '{call.key}' is not a list")
        count = doc.get("count")
        if isinstance(count, int) and count != len(items):
            raise CollectorError(f"incomplete answer from {self.where(call.path)}: count says {count} "
                                 f"but {len(items)} {call.key} came (truncated or inconsistent list)")
        return items

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
                    raise CollectorError(
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
                                 f"({type(exc).__name__}); the server or a proxy closed the connection")
        ctype = resp.headers.get("Content-Type", "")
        try:
            text = buf.decode("utf-8")
            del buf
            return json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            raise CollectorError(f"malformed JSON from {self.where(call.path)} (Content-Type {ctype or 'none'}):"
                                 f" {str(exc)[:160]}") from None

    def fetch_all(self, calls, workers: int, deadline: float) -> dict:
        """Run the calls concurrently; the first failure cancels the rest and is raised."""
        results: dict = {}
        self.started = time.monotonic()
        self.deadline = deadline
        pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(calls))),
                                  thread_name_prefix="networker")
        try:
            futures = {pool.submit(self.fetch, c): c for c in calls}
            done, pending = wait(futures, timeout=max(0.1, deadline - time.monotonic()),
                                 return_when=FIRST_EXCEPTION)
            for fut in done:
                exc = fut.exception()
                if exc is not None:
                    raise exc if isinstance(exc, CollectorError) else CollectorError(
                        f"reading {self.where(futures[fut].path)} failed: {type(exc).__name__}: {exc}")
            if pending:
                names = ", ".join(sorted(self.where(futures[f].path) for f in pending))
                raise CollectorError(f"no answer from {names} within the source's timeout of "
                                     f"{deadline - self.started:.0f}s (raise timeout: or check the server's load)")
            for fut, call in futures.items():
                results[call.name] = fut.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return results
