"""A fake NetWorker REST server for tests and benchmarks: recorded or generated datazones, faults, delays.

Test-only (not installed with the plugin): the tests' conftest puts this folder on sys.path; a benchmark
adds ``plugins/policycheck-networker/tests`` itself.

The transport (threads, TLS, delays, bodies sent in pieces or cut short, the count of requests in flight)
is policycheck.testing.FakeHTTPServer's; this module only says what NetWorker answers.

    from fakenetworker import FakeNetworker, generate_datazone
    with FakeNetworker(generate_datazone(20000), delay=0.05) as srv:
        settings = {"url": srv.url, "username": "audit", "password": srv.password}

Only loopback is ever bound. Faults per resource: ``{"backups": 500}`` (any HTTP status, answered with
the API's error body), ``"invalid_json"``, ``"truncated"``, ``"slow"`` (sleeps ``slow_seconds`` before answering), ``"drip"``
(sends the body in 20 pieces over ``slow_seconds``), ``"busy_once"`` (one 503 with Retry-After: 0),
``"busy_forever"`` (503 with Retry-After: 3600, every time), ``"empty_object"`` (200 with ``{}``: no count, no list key), ``"no_count"`` (the list without its count).
``echo_auth=True`` makes error bodies describe the request the way NetWorker's ``userAgentRequest`` does,
Authorization header included, and quote it in the ``message`` (a server or proxy that leaks it).
"""
from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlsplit

from policycheck.testing import Answer, FakeHTTPServer, Request

LIST_KEYS = {"storagenodes": "storageNodes", "devices": "devices", "pools": "pools", "volumes": "volumes",
             "clients": "clients", "protectionpolicies": "protectionPolicies", "backups": "backups",
             "vmware/protectedvms": "vms", "jobs": "jobs", "jukeboxes": "jukeboxes", "protectiongroups": "protectionGroups"}
# Fields each resource knows (from Dell's swagger); fl= naming anything else is a 400 like a real server.
KNOWN_FIELDS = {
    "storagenodes": "name typeOfStorageNode enabled ready configuredDevices numberOfDevices cloneStorageNodes "
                    "dedicatedStorageNode version links",
    "devices": "name mediaType mediaFamily deviceAccessInfo dataDomainHost status readOnly volumeId "
               "mountedVolume volumePool links resourceId dataDomainRetentionLockMode dataDomainRetentionLockPeriodMin "
               "dataDomainRetentionLockPeriodMax wormCapable wormCartridgePresent dltWormCapable",
    "pools": "name poolType devices enabled links resourceId",
    "volumes": "id shortId name pool type family location mode saveSetIds expirationTime links states flags "
               "availabilityFlags barcode",
    "clients": "resourceId clientId hostname aliases backupType saveSets protectionGroups storageNodes "
               "scheduledBackup os virtualClient links",
    "backups": "id shortId name clientHostname clientId level type saveTime completionTime retentionTime size "
               "attributes instances vmInformation links",
    "vmware/protectedvms": "name hostname uuid vCenterHostname links",
    "jukeboxes": "name hostname devices volumes volumeIds virtual readHostname controlPort links",
    "jobs": "id name type state completionStatus clientHostname command startTime endTime exitCode level "
            "saveSetId parentJobId rootParentJobId runOnHost stopped links",
}
REASONS = {400: ("Client Error", "Bad Request"), 401: ("Client Error", "Unauthorized"),
           403: ("Client Error", "Forbidden"), 404: ("Client Error", "Not Found"),
           500: ("Server Error", "Internal Server Error"), 503: ("Server Error", "Service Unavailable")}
_NOW = re.compile(r"^NOW(?:-(\d+)([dhm]))?$")


def error_body(code: int, message: str, path: str = "") -> dict:
    cls, reason = REASONS.get(code, ("Client Error" if code < 500 else "Server Error", "Error"))
    return {"message": message, "status": {"code": code, "codeClass": cls, "reasonPhrase": reason},
            "timestamp": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
            "userAgentRequest": {"method": "GET", "url": path}, "version": "19.13.0.0.Build.42"}


def render_times(doc, offset: str = "+00:00", now: datetime | None = None):
    """Replace strings 'NOW' / 'NOW-26h' / 'NOW-3d' / 'NOW-90m' by ISO times in the given offset."""
    sign = -1 if offset.startswith("-") else 1
    hh, mm = offset[1:].split(":")
    tz = timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))
    base = (now or datetime.now(timezone.utc)).astimezone(tz).replace(microsecond=0)

    def walk(v):
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str):
            m = _NOW.match(v)
            if m:
                n, unit = int(m.group(1) or 0), m.group(2) or "m"
                return (base - timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: n})).isoformat()
        return v
    return walk(doc)


def _after(value, since: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(value)) >= since
    except ValueError:
        return False


def load_datazone(path) -> dict:
    """A recorded datazone file: {"_offset": "-05:00", "serverconfig": {...}, "devices": {...}, ...}."""
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    return render_times(doc, doc.pop("_offset", "+00:00"))


def generate_datazone(n_backups: int, n_clients: int | None = None, server: str = "nsr01.corp.example",
                      offset: str = "-05:00") -> dict:
    """A director-mode datazone with n_backups save sets over n_clients clients and daily bootstraps."""
    n_clients = n_clients or max(1, n_backups // 10)
    sn = "sn01.corp.example"
    boot_dev, client_dev = "rd=sn01.corp.example:/nsr/aftd_boot", "rd=sn01.corp.example:/nsr/aftd01"
    zone = {"serverconfig": {"name": server, "version": "19.13.0.0.Build.42", "serverOSType": "Linux",
                             "serverTimezone": "America/New_York", "jobsdbRetentionInHours": 72},
            "storagenodes": {"storageNodes": [{"name": server, "typeOfStorageNode": "SCSI", "enabled": True},
                                              {"name": sn, "typeOfStorageNode": "SCSI", "enabled": True}]},
            "devices": {"devices": [
                {"name": boot_dev, "mediaType": "adv_file", "mediaFamily": "Disk", "status": "Enabled",
                 "deviceAccessInfo": "/nsr/aftd_boot", "volumeId": "100", "mountedVolume": "sn01.boot.001"},
                {"name": client_dev, "mediaType": "adv_file", "mediaFamily": "Disk", "status": "Enabled",
                 "deviceAccessInfo": "/nsr/aftd01", "volumeId": "101", "mountedVolume": "sn01.001"}]},
            "pools": {"pools": [{"name": "Bootstrap", "poolType": "Backup", "devices": [boot_dev]},
                                {"name": "Default", "poolType": "Backup", "devices": [client_dev]}]},
            "volumes": {"volumes": [{"id": "100", "name": "sn01.boot.001", "pool": "Bootstrap", "type": "adv_file"},
                                    {"id": "101", "name": "sn01.001", "pool": "Default", "type": "adv_file"}]},
            "clients": {"clients": [
                {"resourceId": {"id": f"{i}.0.1.2", "sequence": 1}, "hostname": f"c{i:05d}.corp.example",
                 "aliases": [f"c{i:05d}"], "backupType": "Filesystem", "saveSets": ["All"],
                 "protectionGroups": ["Gold"], "storageNodes": [sn]} for i in range(n_clients)]},
            "protectionpolicies": {"protectionPolicies": [{"name": "Server Protection", "workflows": [
                {"name": "Server backup", "actions": [{"name": "Server db backup", "actionSpecificData": {
                    "serverBackup": {"destinationPool": "Bootstrap", "destinationStorageNode": sn}}}]}]}]},
            "vmware/protectedvms": {"vms": []}, "jukeboxes": {"jukeboxes": []}}
    backups, j = [], 0
    for i in range(n_backups):
        boot = i % 50 == 0
        j += not boot
        backups.append({
            "id": f"{i:08x}-0000-0000-0000-000000000000", "shortId": str(4000000 + i),
            "name": "bootstrap" if boot else "/", "clientHostname": server if boot else f"c{j % n_clients:05d}.corp.example",
            "level": "Full" if boot or i % 7 == 0 else "Incr",
            "saveTime": f"NOW-{(i * 7) % 4000 + 30}m",
            "instances": [{"id": "1", "clone": False, "status": "Browsable", "volumeIds": ["100" if boot else "101"]}],
            "attributes": [{"key": "*backup start time", "values": ["x"]}]})
    zone["backups"] = {"backups": backups}
    # the job log of the last run: one save job per client, every 20th failed (a failed save leaves no save set)
    zone["jobs"] = {"jobs": [
        {"id": 10000 + k, "name": "/", "type": "save job", "state": "Completed",
         "completionStatus": "Failed" if k % 20 == 0 else "Succeeded", "clientHostname": f"c{k:05d}.corp.example",
         "startTime": f"NOW-{(k * 7) % 1400 + 40}m", "endTime": f"NOW-{(k * 7) % 1400 + 30}m"}
        for k in range(n_clients)]}
    return render_times(zone, offset)


class FakeNetworker:
    """A threaded HTTP(S) server on 127.0.0.1 answering /nwrestapi/<v>/global/<resource> from a datazone.
    ``requests``: (path, query) of every request; ``max_in_flight``: the most answered at once."""

    def __init__(self, datazone: dict, *, username: str = "audit", password: str = "s3cr3t-Pa55word!",
                 delay: float = 0.0, faults: dict | None = None, reject_paging: bool = True,
                 slow_seconds: float = 5.0, api_version: str = "v3", certfile: str | None = None,
                 keyfile: str | None = None, error_bodies: dict | None = None, reject_ranges: bool = False,
                 echo_auth: bool = False):
        self.zone, self.username, self.password = datazone, username, password
        self.delay, self.faults, self.reject_paging = delay, dict(faults or {}), reject_paging
        self.slow_seconds, self.api_version = slow_seconds, api_version
        self.error_bodies = error_bodies or {}
        self.echo_auth = echo_auth
        self.reject_ranges = reject_ranges  # an older server: a time range in q= is a 400
        self.requests: list[tuple[str, dict]] = []  # the vendor's view: path and parsed query
        self._cache: dict = {}
        self._lock = threading.Lock()
        self.http = FakeHTTPServer(default=self._answer, tls=(certfile, keyfile or certfile) if certfile else None)

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def max_in_flight(self) -> int:
        """The most requests being answered at once (concurrency, not timing)."""
        return self.http.max_in_flight

    def __enter__(self):
        self.http.start()
        return self

    def __exit__(self, *exc):
        self.http.close()  # also releases answers still waiting (slow, busy)

    def body_for(self, resource: str, query: dict) -> tuple[int, bytes]:
        key = (resource, tuple(sorted((k, tuple(v)) for k, v in query.items())))
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        doc = self.zone.get(resource)
        if doc is None:
            result = 404, json.dumps(error_body(404, f"Resource '{resource}' not found.")).encode()
        else:
            result = self._select(resource, doc, query)
        with self._lock:
            self._cache[key] = result
        return result

    def _select(self, resource: str, doc: dict, query: dict) -> tuple[int, bytes]:
        list_key = LIST_KEYS.get(resource)
        if list_key is None:
            return 200, json.dumps(doc).encode()
        items = doc.get(list_key)
        fields = query.get("fl", [""])[0]
        if fields:
            wanted = [f for f in fields.split(",") if f]
            unknown = [f for f in wanted if f not in KNOWN_FIELDS.get(resource, "").split()]
            if unknown:
                return 400, json.dumps(error_body(400, f"Invalid field name(s) in fl: {','.join(unknown)}")).encode()
        if items is not None and "q" in query:
            for cond in query["q"][0].split(" and "):
                field, _, value = cond.partition(":")
                if value.startswith("["):
                    m = re.fullmatch(r'\["(\d+) (hours|days)"\]', value)
                    if self.reject_ranges or not m:
                        return 400, json.dumps(error_body(400, f"Invalid query: {cond}")).encode()
                    since = datetime.now(timezone.utc) - timedelta(**{m.group(2): int(m.group(1))})
                    items = [i for i in items if isinstance(i, dict) and _after(i.get(field), since)]
                else:
                    items = [i for i in items if isinstance(i, dict) and str(i.get(field)) == value.strip('"')]
        if items is not None and fields:
            items = [{k: v for k, v in i.items() if k in wanted} if isinstance(i, dict) else i for i in items]
        out = {"count": len(items or []) if "q" in query else doc.get("count", len(items or []))}
        if items is not None:  # an empty list may come with the key missing: keep what was recorded
            out[list_key] = items
        return 200, json.dumps(out).encode()

    def _error(self, req: Request, code: int, message: str, headers: dict | None = None) -> Answer:
        body = self.error_bodies.get(code) or error_body(code, message, req.target)
        if self.echo_auth:
            auth = req.headers.get("Authorization", "")
            body = dict(body, message=f"{body.get('message')} (request headers: Authorization={auth})")
            body["userAgentRequest"] = {"method": "GET", "url": req.target, "headers": [
                {"name": k, "value": v} for k, v in req.headers.items()]}
        return Answer(code, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _answer(self, req: Request) -> Answer:
        query = parse_qs(urlsplit(req.target).query)
        self.requests.append((req.path, query))
        if self.delay:  # time.sleep, not the kit's delay=: its timed Event.wait never ends under libfaketime
            time.sleep(self.delay)
        prefix = f"/nwrestapi/{self.api_version}/global/"
        if not req.path.startswith(prefix):
            html = b"<html><body><h1>HTTP Status 404 - Not Found</h1></body></html>"
            return Answer(404, html, {"Content-Type": "text/html"})
        auth = req.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if auth != expected:
            return self._error(req, 401, "Authentication failed: invalid user name or password.")
        resource = unquote(req.path[len(prefix):]).strip("/")
        fault = self.faults.get(resource, self.faults.get("*"))
        if self.reject_paging and ({"offset", "limit"} & set(query)):
            return self._error(req, 400, "Query parameter 'offset' or 'limit' is not supported.")
        if isinstance(fault, int):
            msgs = {401: "Authentication failed: invalid user name or password.",
                    403: "User 'audit' does not have the privilege to view resource.",
                    404: f"Resource '{resource}' not found.", 500: "Unable to open DB session."}
            return self._error(req, fault, msgs.get(fault, "error"))
        if fault == "busy_forever":  # 503 with an hour's Retry-After, every time
            return Answer(503, json.dumps(error_body(503, "Server is busy, try again.")).encode(),
                          {"Content-Type": "application/json", "Retry-After": "3600"})
        if fault == "busy_once":  # one 503 with Retry-After, then normal answers
            self.faults[resource] = None
            return Answer(503, json.dumps(error_body(503, "Server is busy, try again.")).encode(),
                          {"Content-Type": "application/json", "Retry-After": "0"})
        code, body = self.body_for(resource, query)
        if fault == "slow":  # the whole answer after slow_seconds more (released when the server closes)
            return Answer(code, body, delay=self.slow_seconds)
        if fault == "empty_object" and code == 200:
            return Answer(200, b"{}")
        if fault == "no_count" and code == 200:
            doc = json.loads(body)
            doc.pop("count", None)
            return Answer(200, json.dumps(doc).encode())
        if fault == "invalid_json" and code == 200:
            return Answer(200, b"<html>Service temporarily unavailable</html>{")
        if fault == "drip" and code == 200:  # headers at once, then the body in 20 pieces over slow_seconds
            return Answer(200, body, trickle=self.slow_seconds)
        if fault == "truncated" and code == 200:  # half the body, Content-Length announcing all, then closed
            return Answer(200, body, cut_after=max(1, len(body) // 2))
        return Answer(code, body)


def main(argv=None) -> int:
    """Serve a generated or recorded datazone until interrupted; print a matching config source."""
    import argparse

    ap = argparse.ArgumentParser(prog="python plugins/policycheck-networker/tests/fakenetworker.py", description=main.__doc__)
    ap.add_argument("--backups", type=int, default=20000, help="save sets to generate (default 20000)")
    ap.add_argument("--clients", type=int, default=None, help="clients to generate (default backups/10)")
    ap.add_argument("--datazone", help="a recorded datazone JSON file instead of a generated one")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds before each answer (e.g. 0.05)")
    args = ap.parse_args(argv)
    zone = load_datazone(args.datazone) if args.datazone else generate_datazone(args.backups, args.clients)
    with FakeNetworker(zone, delay=args.delay) as srv:
        print(json.dumps({"name": "nsr", "plugin": "networker", "url": srv.url, "username": srv.username,
                          "password": srv.password}), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
