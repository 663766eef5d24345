"""Issue 16 item 5: no input crashes the program. Hypothesis mutates valid policies, configs, waivers,
baselines, facts files and snapshots (wrong types, {param: [..]}, nulls, NaN/1e999, huge numbers, control
characters, deep nesting, recursive aliases, missing keys) and runs the CLI on each: never a traceback,
never "internal error", a documented exit code, and an exit 2 always names the file at fault.

Budget: POLICYCHECK_FUZZ_EXAMPLES cases per input kind (default 340: 2,040 cases in all); raise it to
fuzz longer, e.g. POLICYCHECK_FUZZ_EXAMPLES=20000."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relhelpers import ROOT, run_main

PER_KIND = int(os.environ.get("POLICYCHECK_FUZZ_EXAMPLES", "340"))
KINDS = ("policy", "config", "waivers", "baseline", "facts", "snapshot")
TOTAL_CASES = PER_KIND * len(KINDS)
POLICY = ROOT / "policies" / "bsrv-001-dedicated.yaml"
SETTINGS = settings(max_examples=PER_KIND, deadline=None, database=None, derandomize=False,
                    suppress_health_check=list(HealthCheck))

FACTS = {"entities": {
    "host": [{"id": "bk01.corp.example", "aliases": ["bk01"], "os": "linux", "platform": "physical",
              "roles": ["backup_server", "file_server"], "services": ["backup", "nfs"],
              "depends_on": ["dns01.corp.example"], "bmr_methods": ["rear"]},
             {"id": "dns01.corp.example", "roles": ["dns"], "services": ["dns"], "platform": "virtual"}],
    "backup_server": [{"id": "bk01", "host": "bk01.corp.example", "product": "networker"}],
    "bootstrap": [{"id": "bk01/b1", "backup_server": "bk01", "time": "2026-11-24T20:00:00+00:00",
                   "device": "d1", "offsite": False}],
    "client": [{"id": "bk01/dns01.corp.example", "backup_server": "bk01", "hostname": "dns01.corp.example",
                "last_backup": "2026-11-24T22:00:00+00:00"}],
}}
SNAPSHOT = {"schema_version": 1, "collected_at": "2026-11-25T06:00:00+00:00",
            "sources": [{"name": "inv", "plugin": "file", "status": "ok", "error": None, "kinds": ["host"],
                         "objects": 4, "duration_s": 0.1}],
            "entities": FACTS["entities"], "conflicts": []}
POLICY_DOC = yaml.safe_load(POLICY.read_text())
POLICY_DOC["id"] = "FUZZ-001"
POLICY_DOC["require"] = {"all": [{"fact": "host->host.roles", "subset_of": {"param": "allowed_roles"}},
                                 {"fact": "host->host.services", "count": {"max": 3}},
                                 {"for_any": "host->host.depends_on", "require": {"fact": "id", "matches": "^d"}}]}
CONFIG = {"version": 1, "as_of": "2026-11-25T06:00:00+00:00", "builtin_policies": False, "policies": [str(POLICY)],
          "parameters": {"BSRV-001": {"allowed_roles": ["backup_server"]}}, "select": ["BSRV-001"],
          "concurrency": 2, "default_timeout": 5,
          "sources": [{"name": "inv", "plugin": "file", "path": "facts.yaml", "timeout": 5}]}
WAIVERS = {"waivers": [{"policy": "BSRV-001", "target": "bk01", "reason": "being migrated (CHG-1)",
                        "owner": "ops@corp.example", "expires": "2026-12-31"}]}
BASELINE = {"schema_version": 1, "results": [{"policy_id": "BSRV-001", "target_id": "bk01", "status": "fail"},
                                             {"policy_id": "X", "target_id": "y", "status": "waived",
                                              "waiver": {"was": "fail"}}]}
SEEDS = {"policy": POLICY_DOC, "config": CONFIG, "waivers": WAIVERS, "baseline": BASELINE, "facts": FACTS,
         "snapshot": SNAPSHOT}

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                    st.sampled_from(["", "*", "bk01", "2026-13-45T99:00", "48h", "1e999", "\x1b[2J\n::error::x",
                                     "${NOPE}", "http://u:p@h", "../../etc/passwd", "backup_server", "null"]))
values = st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=4),
                                                   st.dictionaries(st.text(max_size=10), c, max_size=4)),
                      max_leaves=12)
DEEP = "__DEEP_{}__"


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, kind):
    doc = json.loads(json.dumps(SEEDS[kind]))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "param", "wrap", "deep", "rename", "null"]))
        if not path:
            if op in ("replace", "wrap"):
                doc = draw(values) if op == "replace" else [doc]
            continue
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        key = path[-1]
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(values)
        elif op == "param":
            parent[key] = {"param": draw(st.one_of(values, st.sampled_from(["allowed_roles", "nope"])))}
        elif op == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"x": parent[key]}]))
        elif op == "deep":
            parent[key] = DEEP.format(draw(st.sampled_from([150, 250, 600, 1100, 5000])))
        elif op == "null":
            parent[key] = None
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = parent.pop(key)
    return doc


def _serialise(doc, as_json: bool) -> str:
    if as_json:
        text = json.dumps(doc, allow_nan=True)
    else:
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    import re

    def deep(m):
        n = int(m.group(1))
        return "[" * n + "]" * n
    return re.sub(r"[\"']?__DEEP_(\d+)__[\"']?", deep, text)


RAW = st.sampled_from(["id: &a [*a]\n", "a: &a {b: *a}\n", "[" * 600 + "]" * 600, "{" * 1200,
                       "\x00\x01", "---\n...\n---\n", "- a\n- b\n", "'unterminated", "a: !!python/object:os.system x\n",
                       "a: b\na: c\n", "<<: {a: 1}\n", "NaN", "1e999", "[NaN, Infinity, -Infinity]"])


class Case:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="pcfuzz-"))
        (self.dir / "snap.json").write_text(json.dumps(SNAPSHOT))
        (self.dir / "facts.yaml").write_text(yaml.safe_dump(FACTS))

    def run(self, kind, text):
        d = self.dir
        base = ["--no-builtin", "--policies", str(POLICY), "--format", "brief", "--as-of", "2026-11-25T06:00:00Z"]
        if kind == "policy":
            f = d / "fuzz-policy.yaml"
            argv = ["policies", "validate", f]
        elif kind == "config":
            f = d / "policycheck.yaml"
            argv = ["check", "-c", f, "--format", "brief"]
        elif kind == "waivers":
            f = d / "waivers.yaml"
            argv = ["check", "--facts", d / "snap.json", "--waivers", f] + base
        elif kind == "baseline":
            f = d / "base.json"
            argv = ["check", "--facts", d / "snap.json", "--baseline", f] + base
        elif kind == "facts":
            f = d / "fuzzfacts.yaml"
            cfg = dict(CONFIG, sources=[{"name": "inv", "plugin": "file", "path": str(f)}])
            (d / "cfg.yaml").write_text(json.dumps(cfg))
            argv = ["check", "-c", d / "cfg.yaml", "--format", "json"]
        else:
            f = d / "fuzzsnap.json"
            argv = ["check", "--facts", f] + base
        f.write_text(text, encoding="utf-8", errors="surrogatepass") if True else None
        rc, out, err = run_main(argv, env={"POLICYCHECK_NO_ENTRY_POINTS": "1"})
        assert "Traceback" not in err and "internal error" not in err, (kind, text[:500], err[-2000:])
        assert rc in (0, 1, 2, 3), (rc, err)
        if rc == 2:  # located: the file at fault (or the one it names, e.g. a policy file), line:col when known
            import re

            located = f.name in err or re.search(r"\.(ya?ml|json):\d+", err) or \
                (kind == "facts" and "from source inv" in err) or \
                re.search(r"--[a-z-]+/", err)  # an option and its config key (e.g. --select/--skip)
            assert located, \
                ("exit 2 without a location", kind, text[:300], err[-600:])
        if kind == "facts" and rc == 3 and "inv" in out:
            pass  # a source error: its reason is in the report
        return rc


CASES = {"runs": 0}


@pytest.fixture(scope="module")
def case():
    return Case()


def _fuzz(kind):
    as_json = kind in ("baseline", "snapshot")

    @SETTINGS
    @given(doc=mutated(kind), raw=st.one_of(st.none(), st.none(), st.none(), st.none(), RAW), as_yaml=st.booleans())
    def run(case, doc, raw, as_yaml):
        text = raw if raw is not None else _serialise(doc, as_json or (kind == "facts" and not as_yaml))
        if isinstance(text, str) and max(text or "a") >= "\ud800" and any("\ud800" <= ch <= "\udfff" for ch in text):
            text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        CASES["runs"] += 1
        case.run(kind, text)
    return run


@pytest.mark.parametrize("kind", KINDS)
def test_no_input_crashes_the_cli(case, kind):
    _fuzz(kind)(case)


def test_the_seeds_are_valid_inputs(case):
    """The fuzz starts from inputs the CLI accepts, so a mutation is what makes a case bad."""
    for kind in KINDS:
        rc = case.run(kind, _serialise(SEEDS[kind], kind in ("baseline", "snapshot")))
        assert rc in (0, 1, 3), kind
