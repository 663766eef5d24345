"""Hook implementations of the demo plugin."""
from pathlib import Path

from policycheck import hookimpl
from policycheck.api import Collector, CollectorError, Derivation, Reporter

SCHEMA = {
    "type": "object",
    "required": ["url"],
    "properties": {"url": {"type": "string"}, "token": {"type": "string"},
                   "verify_tls": {"type": "boolean"}},
    "additionalProperties": False,
}


def collect(settings, ctx):
    """GET {url}/hosts (a JSON list of {name, roles}) and map each to a host entity."""
    with ctx.http(settings["url"], token=settings.get("token"),
                  verify_tls=settings.get("verify_tls", True)) as http:
        rows = http.get_json("/hosts")
    if not isinstance(rows, list):
        raise CollectorError(f"{settings['url']}/hosts: expected a JSON list, got {type(rows).__name__}")
    hosts = [{"id": r["name"], "roles": r.get("roles", []), "services": r.get("services", [])} for r in rows]
    ctx.progress(len(hosts))
    return {"entities": {"host": hosts}}


def render_csv(report):
    lines = ["policy,target,status"]
    lines += [f"{r.policy.id},{r.target_id},{r.status}" for r in report.results]
    return "\n".join(lines) + "\n"


@hookimpl
def policycheck_collectors():
    return [Collector(name="democmdb", collect=collect, config_schema=SCHEMA, kinds=("host",),
                      description="hosts from the demo CMDB's /hosts")]


@hookimpl
def policycheck_reporters():
    return [Reporter("csv", render_csv, "csv", "one line per result")]


@hookimpl
def policycheck_policy_dirs():
    return [Path(__file__).parent / "policies"]


def derive_demo_checked(facts):
    """backup_server.demo_checked: true when its product is named (else unknown, with the reason)."""
    for s in facts.entities("backup_server"):
        if "demo_checked" in s or "demo_checked" in (s.get("_unknown") or {}):
            continue
        if s.get("product"):
            s["demo_checked"] = True
            s.setdefault("_attr_sources", {})["demo_checked"] = "derived from " + ", ".join(s.get("_sources") or ())
        else:
            s.setdefault("_unknown", {})["demo_checked"] = "its product is not recorded"


@hookimpl
def policycheck_derivations():
    return [Derivation("backup_server", "demo_checked", (("backup_server", "product"),), derive_demo_checked,
                       "true when the backup server's product is named", "product networker -> true",
                       plugin="demo")]
