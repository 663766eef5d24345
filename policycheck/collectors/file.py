"""The built-in ``file`` collector: facts from YAML or JSON files, the way to record what no API
tells (roles, services, dependencies, DR tests)."""
from __future__ import annotations

import json
from pathlib import Path

from policycheck import hookimpl
from policycheck.api import Collector, CollectorError
from policycheck.facts import FactsError, check_fragment
from policycheck.yamlsafe import YamlError, load_data

SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "a facts file (YAML or JSON)"},
        "paths": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "kinds": {"type": "array", "items": {"type": "string"},
                  "description": "the kinds these files are authoritative for (default: those present)"},
    },
    "additionalProperties": False,
    "oneOf": [{"required": ["path"]}, {"required": ["paths"]}],
}


def collect(settings, ctx):
    files = settings.get("paths") or [settings["path"]]
    entities: dict = {}
    for f in files:
        p = Path(f).expanduser()
        if not p.is_absolute():
            p = Path(ctx.base_dir) / p
        if not p.is_file():
            raise CollectorError(f"facts file {p} not found")
        try:
            if p.suffix == ".json":
                with open(p, "rb") as fh:
                    data = json.load(fh)
            else:
                data = load_data(p)
        except YamlError as exc:
            raise CollectorError(str(exc)) from None
        except json.JSONDecodeError as exc:
            raise CollectorError(f"{p}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        except OSError as exc:
            raise CollectorError(f"cannot read {p}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise CollectorError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except RecursionError:
            raise CollectorError(f"{p}: nested too deeply: refused") from None
        if not isinstance(data, dict) or not isinstance(data.get("entities"), dict):
            raise CollectorError(f"{p}: a facts file is a mapping with 'entities: {{kind: [...]}}' "
                                 "(see docs/facts.md)")
        try:
            check_fragment(data, str(p))
        except FactsError as exc:
            raise CollectorError(str(exc).replace("source ", "", 1)) from None
        for kind, ents in data["entities"].items():
            entities.setdefault(kind, []).extend(ents)
    for k in settings.get("kinds") or ():
        entities.setdefault(k, [])
    return {"entities": entities}


@hookimpl
def policycheck_collectors():
    return [Collector(name="file", collect=collect, config_schema=SCHEMA, kinds=(),
                      description="facts from YAML or JSON files (docs/facts.md)")]
