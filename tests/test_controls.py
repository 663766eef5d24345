"""Control mapping (issue 18, item 2): every built-in policy maps to control frameworks, the schema validates
`controls:` (known frameworks, id patterns), `--framework` selects, and every report format carries the
per-control summary."""
import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from pchelpers import EXAMPLE, ROOT, run_cli

from policycheck.controls import FRAMEWORKS
from policycheck.pipeline import load_all_policies
from policycheck.policy import PolicyLoadError, load_policies

CONFIG = EXAMPLE / "policycheck.yaml"
SCHEMA = json.loads((ROOT / "policycheck" / "schemas" / "policy.schema.json").read_text())


def test_schema_frameworks_equal_the_registry():
    ctl = SCHEMA["properties"]["controls"]
    assert list(ctl["properties"]) == list(FRAMEWORKS)
    for name, (_title, pattern, example) in FRAMEWORKS.items():
        assert ctl["properties"][name]["items"]["pattern"] == pattern
        jsonschema.validate({"x": [example]}, {"properties": {"x": ctl["properties"][name]}})
    assert ctl["additionalProperties"] is False


def test_every_builtin_policy_maps_to_nist_and_iso():
    for p in load_all_policies():
        assert p.controls.get("nist-800-53"), p.id
        assert p.controls.get("iso-27001"), p.id


POLICY = """id: SITE-001
title: Our own policy
severity: low
target: host
rationale: a site's own rule, mapped to controls
remediation: do what the site says
controls: {CONTROLS}
require:
  fact: roles
  empty: false
"""


def _load(tmp_path, controls):
    f = tmp_path / "p.yaml"
    f.write_text(POLICY.replace("{CONTROLS}", controls))
    return load_policies([f], display_root=tmp_path)


def test_users_policies_carry_controls_including_their_own_framework(tmp_path):
    (p,) = _load(tmp_path, '{nist-800-53: [CP-9], x-internal: ["BK 7.1"]}')
    assert p.controls == {"nist-800-53": ["CP-9"], "x-internal": ["BK 7.1"]}


@pytest.mark.parametrize("controls,needle", [
    ("{nist-800-35: [CP-9]}", "p.yaml:7:11 SITE-001 controls: unknown framework 'nist-800-35' (did you mean "
                              "'nist-800-53'?)"),
    ("{nist-800-53: [CP9]}", "p.yaml:7:26 SITE-001 controls.nist-800-53[0]: 'CP9' is not a NIST SP 800-53 rev. 5 "
                             "control id (write it like 'CP-9(3)')"),
    ("{cis-v8: [11.2]}", "controls.cis-v8[0]: 11.2 is a number: write control ids as quoted strings"),
    ("{iso-27001: [A.13.1]}", "is not a ISO/IEC 27001:2022 Annex A control id"),
    ("{dora: [12]}", "controls.dora[0]: 12 is a number"),
    ("{nis2: []}", "controls.nis2: [] should be non-empty"),
])
def test_bad_controls_are_located_errors(tmp_path, controls, needle):
    with pytest.raises(PolicyLoadError) as exc:
        _load(tmp_path, controls)
    assert needle in str(exc.value)


def test_framework_selects_the_mapped_policies():
    code, out, err = run_cli("check", "-c", CONFIG, "--format", "json", "--framework", "dora")
    assert code == 1, err
    data = json.loads(out)
    ids = sorted(p["id"] for p in data["policies"])
    assert ids == sorted(p.id for p in load_all_policies() if p.controls.get("dora"))
    assert {r["policy_id"] for r in data["results"]} <= set(ids)
    assert {c["framework"] for c in data["controls"]} == {"dora"}
    code, out, _ = run_cli("policies", "list", "--framework", "nist-800-53:CP-9(1)")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == \
        sorted(p.id for p in load_all_policies() if "CP-9(1)" in p.controls.get("nist-800-53", ()))


def test_unknown_framework_is_exit_2_with_a_suggestion():
    code, out, err = run_cli("check", "-c", CONFIG, "--framework", "nsit")
    assert code == 2 and out == ""
    assert "unknown framework 'nsit' (did you mean 'nist'?)" in err
    code, _, err = run_cli("check", "-c", CONFIG, "--framework", "x-nobody")
    assert code == 2 and "no policy is mapped to it" in err


def test_per_control_summary_in_every_format(tmp_path):
    code, out, _ = run_cli("check", "-c", CONFIG, "--format", "json", "--framework", "cis-v8",
                           "--junit", tmp_path / "r.xml", "--markdown", tmp_path / "r.md")
    data = json.loads(out)
    jsonschema.Draft202012Validator(json.loads((ROOT / "policycheck" / "schemas" / "report.schema.json")
                                               .read_text())).validate(data)
    rows = {(c["framework"], c["control"]): c for c in data["controls"]}
    # each row counts its policies' results, and nothing else
    for (fw, cid), row in rows.items():
        mapped = [p["id"] for p in data["policies"] if cid in p["controls"].get(fw, ())]
        assert row["policies"] == sorted(mapped)
        for st in ("pass", "fail", "error", "skip", "waived"):
            assert row[st] == sum(1 for r in data["results"] if r["policy_id"] in mapped and r["status"] == st)
    assert rows[("cis-v8", "11.4")]["fail"] >= 1  # BOOT-002 fails on the example's nsr-dir
    suites = ET.parse(tmp_path / "r.xml").getroot()
    assert all(s.get("id") in {p["id"] for p in data["policies"]} for s in suites)  # a suite per policy only
    boot2 = next(s for s in suites if s.get("id") == "BOOT-002")
    props = {p.get("name"): p.get("value") for p in boot2.iter("property")}
    r = rows[("cis-v8", "11.4")]
    assert props["controls.cis-v8"] == "11.4"
    assert props["control cis-v8 11.4"] == (f"pass={r['pass']} fail={r['fail']} error={r['error']} skip={r['skip']} "
                                            f"waived={r['waived']} policies={','.join(r['policies'])}")
    md = (tmp_path / "r.md").read_text()
    assert "### Controls" in md and "| cis-v8 | 11.4 | BOOT-002, BOOT-003, CPY-001, IMM-001 |" in md
    code, out, _ = run_cli("audit", "-c", CONFIG, "--framework", "cis-v8")
    assert "CONTROLS" in out and "cis-v8 11.4" in out and "nist-800-53" not in out.split("CONTROLS")[1]
