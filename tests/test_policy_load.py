"""Loading policies in layers: YAML errors with line/column, schema, conditions, duplicate ids; safe
YAML (no object tags, no alias bombs, no oversized files)."""
import pytest

from policycheck.policy import PolicyLoadError, builtin_dir, load_policies
from policycheck.yamlsafe import YamlError, load_data, load_documents

GOOD = """id: TEST-001
title: A test policy
severity: low
target: backup_server
rationale: because it matters
remediation: fix it like this
require:
  fact: product
  exists: true
"""


def errors_of(tmp_path, text, name="p.yaml"):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(PolicyLoadError) as exc:
        load_policies([f], display_root=tmp_path)
    return [str(e) for e in exc.value.errors]


def test_builtin_catalog_loads_and_every_policy_has_rationale_and_remediation():
    pols = load_policies([builtin_dir()])
    assert len(pols) == 15
    for p in pols:
        assert len(p.rationale) > 80 and len(p.remediation) > 80, p.id


def test_yaml_syntax_error_is_located(tmp_path):
    errs = errors_of(tmp_path, GOOD + "tags: [a, b\n")
    assert len(errs) == 1 and errs[0].startswith("p.yaml:11:") and "invalid YAML" in errs[0]


def test_unknown_key_with_suggestion(tmp_path):
    errs = errors_of(tmp_path, GOOD + "remedation: x\n")
    assert errs == ["p.yaml:10:1 TEST-001 remedation: unknown key 'remedation' (did you mean 'remediation'?) "
                    "(allowed: id, title, severity, target, tags, rationale, remediation, references, controls, parameters, context, "
                    "when, require)"]


def test_bad_enum_and_missing_field(tmp_path):
    errs = errors_of(tmp_path, GOOD.replace("severity: low", "severity: hgh"))
    assert "p.yaml:3:" in errs[0] and "did you mean 'high'" in errs[0]
    errs = errors_of(tmp_path, GOOD.replace("title: A test policy\n", ""))
    assert "'title' is a required property" in errs[0]


def test_duplicate_ids_across_files(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(PolicyLoadError) as exc:
        load_policies([tmp_path], display_root=tmp_path)
    assert str(exc.value.errors[0]) == "b.yaml:1:5 TEST-001 id: duplicate policy id (also defined at a.yaml:1)"


def test_several_documents_and_every_error_reported(tmp_path):
    text = GOOD + "---\n" + GOOD.replace("TEST-001", "TEST-002").replace("exists: true", "exist: true") + \
        "---\n" + GOOD.replace("TEST-001", "TEST-003").replace("target: backup_server", "target: servers")
    errs = errors_of(tmp_path, text)
    assert len(errs) == 2
    assert "TEST-002 require.exist: unknown operator 'exist' (did you mean 'exists'?)" in errs[0]
    assert "TEST-003 target" in errs[1]


def test_parameter_default_must_match_its_type(tmp_path):
    errs = errors_of(tmp_path, GOOD + "parameters:\n  - {name: age, type: duration, default: soon, description: d}\n")
    assert "parameters[0].default" in errs[0] and "not a duration" in errs[0]


def test_object_tags_refused(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("a: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(YamlError, match="not allowed"):
        load_documents(f)
    with pytest.raises(YamlError):  # the fast loader refuses the tag too
        load_data(f)


def test_alias_bomb_refused(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    f = tmp_path / "bomb.yaml"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(YamlError, match="alias bomb"):
        load_data(f)


def test_oversized_policy_file_refused(tmp_path):
    f = tmp_path / "big.yaml"
    f.write_text(GOOD + "# " + "x" * (1024 * 1024) + "\n")
    with pytest.raises(PolicyLoadError, match="limit"):
        load_policies([f])


def test_duplicate_yaml_keys_refused(tmp_path):
    errs = errors_of(tmp_path, GOOD + "severity: high\n")
    assert "duplicate key 'severity'" in errs[0]


def test_times_stay_strings(tmp_path):
    f = tmp_path / "f.yaml"
    f.write_text("t: 2026-11-25T06:00:00Z\nd: 2026-11-25\n")
    assert load_data(f) == {"t": "2026-11-25T06:00:00Z", "d": "2026-11-25"}
    assert load_documents(f)[0].data == {"t": "2026-11-25T06:00:00Z", "d": "2026-11-25"}


def test_builtin_policy_tests_pass_in_pytest():
    from policycheck import policytest
    outcomes = policytest.run_tests([policytest.builtin_tests_dir()], load_policies([builtin_dir()]))
    assert outcomes and all(o.ok for o in outcomes), [o.problems for o in outcomes if not o.ok]
    assert {o.policy for o in outcomes} == {p.id for p in load_policies([builtin_dir()])}


@pytest.mark.parametrize("case, message", [
    ("  - 1\n", "a case is a mapping"),
    ("  - name: x\n    expect: [nsr01]\n", "expect: maps target ids"),
])
def test_a_malformed_policy_test_case_is_a_located_error_not_a_crash(tmp_path, case, message):
    from policycheck import policytest
    f = tmp_path / "t.yaml"
    f.write_text("policy: BOOT-001\ncases:\n" + case)
    with pytest.raises(policytest.TestFileError, match=rf"t\.yaml:3:\d+: {message}"):
        policytest.run_tests([f], load_policies([builtin_dir()]))
