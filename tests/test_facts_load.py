"""The facts load path (issue 19): reading a snapshot decodes and frees its bytes before parsing, with the
same result as json.load (a UTF-8 BOM, UTF-16 files); alias lookups of names already in normal form take
a shortcut with the same answers; references already canonical are kept, not copied."""
from __future__ import annotations

import io
import json

import pytest

from policycheck.facts import AliasIndex, read_json, resolve_refs

DOC = {"a": [1, 2.5, "é ☃", None, True], "b": {"c": "x"}}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"])
def test_read_json_equals_json_load(encoding):
    raw = json.dumps(DOC, ensure_ascii=False).encode(encoding)
    assert read_json(io.BytesIO(raw)) == json.load(io.BytesIO(raw)) == DOC


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32"])
def test_read_json_of_a_file_equals_json_load(tmp_path, encoding):
    # a file of each encoding gives json.load's result, and is read to its end
    path = tmp_path / "snap.json"
    path.write_bytes(json.dumps(DOC, ensure_ascii=False).encode(encoding))
    with open(path, "rb") as fh:
        assert read_json(fh) == DOC
        assert fh.tell() == path.stat().st_size
    path.write_bytes(b"")
    with open(path, "rb") as fh, pytest.raises(json.JSONDecodeError):
        read_json(fh)


def test_read_json_of_a_file_reports_what_decode_reports(tmp_path):
    path = tmp_path / "snap.json"
    for raw in (b'{"x": "\xff"}', b'\xef\xbb\xbf{"x": "\xff"}'):
        path.write_bytes(raw)
        with open(path, "rb") as fh, pytest.raises(UnicodeDecodeError) as exc:
            read_json(fh)
        with pytest.raises(UnicodeDecodeError) as want:
            raw.decode("utf-8-sig")
        assert str(exc.value) == str(want.value)


def test_read_json_passes_options_and_errors_through():
    with pytest.raises(ValueError, match="NaN"):
        read_json(io.BytesIO(b'{"x": NaN}'), parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    with pytest.raises(json.JSONDecodeError) as exc:
        read_json(io.BytesIO(b'{\n "x": }'))
    assert (exc.value.lineno, exc.value.colno) == (2, 7)
    with pytest.raises(UnicodeDecodeError):
        read_json(io.BytesIO(b'{"x": "\xff"}'))


HOSTS = [{"id": "web01.corp.example", "aliases": ["WEB01", "www.corp.example."]},
         {"id": "db01.a.example"}, {"id": "db01.b.example"}, {"id": "solo"}]


@pytest.mark.parametrize("name, expected", [
    ("web01.corp.example", "web01.corp.example"), ("WEB01.Corp.Example.", "web01.corp.example"),
    ("web01", "web01.corp.example"), ("www.corp.example", "web01.corp.example"), (" Web01 ", "web01.corp.example"),
    ("db01", None), ("db01.a.example", "db01.a.example"), ("solo.corp.example", "solo"), ("SOLO", "solo"),
    ("nope", None), (None, None)])
def test_lookup_answers_for_normal_and_other_forms(name, expected):
    assert AliasIndex(HOSTS).lookup(name) == expected


def test_canonical_reference_lists_are_kept_others_rewritten():
    deps = ["web01.corp.example", "solo"]
    ents = {"host": [dict(h) for h in HOSTS] + [{"id": "app", "depends_on": deps},
                                                 {"id": "app2", "depends_on": ["WEB01", "solo"]}]}
    resolve_refs(ents)
    app, app2 = ents["host"][-2], ents["host"][-1]
    assert app["depends_on"] is deps  # nothing to rewrite: the same list, no copy
    assert app2["depends_on"] == ["web01.corp.example", "solo"]
