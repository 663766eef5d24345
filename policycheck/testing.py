"""Contract-test kit for collector plugins: validate fragments, run a source end to end, hunt secrets.

Use from a plugin's tests::

    from policycheck.testing import assert_valid_fragment, run_source, assert_no_secret
    from policycheck.testing import FaultProxy, faults      # a fault-injecting proxy (faultproxy.py)
    from policycheck.testing import secret_forms             # every encoding a leak scan looks for
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from policycheck.faultproxy import ALL_TRANSPORT_FAULTS, Fault, FaultProxy, corrupt_json, faults  # noqa: F401

SCHEMAS = Path(__file__).parent / "schemas"


def secret_forms(secret: str, users=()) -> list:
    """Every encoding of ``secret`` a leak scan must not find: raw, base64 (and of ``user:secret``),
    URL-, XML- and JSON-escaped."""
    from policycheck.secrets import variants

    return sorted(variants(secret, tuple(users)), key=len, reverse=True)


@lru_cache(maxsize=None)
def _validator(name: str):
    import jsonschema

    schema = json.loads((SCHEMAS / name).read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def fragment_errors(fragment: dict) -> list[str]:
    """Every schema violation of a collector fragment, as 'path: message' lines."""
    v = _validator("fragment.schema.json")
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in sorted(v.iter_errors(fragment), key=lambda e: list(map(str, e.absolute_path)))]


def assert_valid_fragment(fragment: dict) -> None:
    """Fail with every violation when a fragment does not match docs/facts.md's schema."""
    errors = fragment_errors(fragment)
    assert not errors, "fragment does not validate against the facts schema:\n" + "\n".join(errors[:50])


def facts_errors(document: dict) -> list[str]:
    """Every schema violation of a whole facts document (``policycheck collect`` output)."""
    v = _validator("facts.schema.json")
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in v.iter_errors(document)]


def assert_valid_facts(document: dict) -> None:
    errors = facts_errors(document)
    assert not errors, "facts document does not validate:\n" + "\n".join(errors[:50])


def assert_no_secret(secret: str, *texts, users=()) -> None:
    """Fail if ``secret`` appears, in any encoding (:func:`secret_forms`), in any of ``texts`` (str,
    bytes, or objects dumped as JSON)."""
    assert secret, "assert_no_secret needs a non-empty secret"
    forms = secret_forms(secret, users) or [secret]
    for i, t in enumerate(texts):
        if isinstance(t, bytes):
            t = t.decode("utf-8", "replace")
        elif not isinstance(t, str):
            t = json.dumps(t, default=str)
        for f in forms:
            assert f not in t, f"secret found in output #{i} (as {'raw' if f == secret else 'an encoding'})"


class SourceRun:
    """What :func:`run_source` returns: the source's status and error, its fragment, the merged document."""

    def __init__(self, status, error, fragment, document):
        self.status, self.error, self.fragment, self.document = status, error, fragment, document


def run_source(plugin: str, settings: dict, timeout: float = 10.0, name: str = "src", base_dir: str = ".",
               **plugin_kwargs) -> SourceRun:
    """Run one source through the real pipeline (:func:`policycheck.pipeline.run`, as `collect` does:
    schema validation, secrets, timeout, error capture and redaction, then the derivations) and return
    its outcome; ``document`` is the derived facts document a snapshot would hold."""
    import copy

    from policycheck import pipeline
    from policycheck.collect import plan_sources
    from policycheck.config import Config
    from policycheck.plugins import make_plugins

    plugins = make_plugins(**plugin_kwargs)
    cfg = Config(path=None, base_dir=base_dir, sources=[dict(settings, name=name, plugin=plugin, timeout=timeout)])
    captured = {}
    plans = plan_sources(cfg, plugins)
    for p in plans:
        if p.collector is not None:
            original = p.collector.collect

            def spy(s, ctx, original=original):
                captured["fragment"] = original(s, ctx)
                return captured["fragment"]

            p.collector = copy.copy(p.collector)
            p.collector.collect = spy
    outcome = pipeline.run(pipeline.RunInputs(policies=(), config=cfg, plugins=plugins, plans=plans))
    doc = outcome.document
    src = doc["sources"][0]
    return SourceRun(src["status"], src["error"], captured.get("fragment") if src["status"] == "ok" else None, doc)
