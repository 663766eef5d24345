"""The built-in ``file`` collector: facts from YAML or JSON files, the way to record what no API
tells (roles, services, dependencies, DR tests)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from policycheck import hookimpl
from policycheck.api import CollectContext, Collector, CollectorError, Fragment, Settings
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


def collect(settings: Settings, ctx: CollectContext) -> Fragment:
    files = settings.get("paths") or [settings["path"]]
    entities: dict[str, list[Any]] = {}
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


def _read(p: Path) -> Any:
    if p.suffix == ".json":
        with open(p, "rb") as fh:
            return json.load(fh)
    return load_data(p)


def _locate(p: Path, jpath: Sequence[str | int]) -> str:
    """``file:line:col`` of a JSON path, computed only for a problem."""
    try:
        if p.suffix == ".json":
            from policycheck.jsonpos import line_col

            line, col = line_col(p.read_text(encoding="utf-8"), jpath)
        else:
            from policycheck.yamlsafe import load_documents

            docs = load_documents(p, max_bytes=1 << 30)
            line, col = docs[0].where(tuple(jpath)) if docs else (1, 1)
    except (OSError, ValueError):
        line, col = 1, 1
    return f"{p}:{line}:{col}"


def check(settings: Settings, base_dir: str) -> list[tuple[tuple[str | int, ...], str]]:
    """Mistakes found before anything is collected: a facts file that does not exist, cannot be read, or
    does not follow the facts model (docs/facts.md): each problem located in its file (exit 2)."""
    from policycheck.model import MAX_PROBLEMS, check_entities, format_path
    from policycheck.textutil import suggest

    problems: list[tuple[tuple[str | int, ...], str]] = []
    files: list[tuple[str, int | None, Any]] = [("paths", i, f) for i, f in enumerate(settings.get("paths") or ())] or [("path", None, settings["path"])]
    ids: dict[tuple[str, str], tuple[Path, int]] = {}
    for key, i, f in files:
        where: tuple[str | int, ...] = (key,) if i is None else (key, i)
        p = Path(f).expanduser()
        if not p.is_absolute():
            p = Path(base_dir) / p
        if not p.is_file():
            near = sorted(x.name for x in p.parent.glob("*") if x.suffix in (".yaml", ".yml", ".json")) \
                if p.parent.is_dir() else []
            problems.append((where, f"facts file {p} not found" + suggest(p.name, near)))
            continue
        try:
            data = _read(p)
        except YamlError as exc:
            problems.append((where, str(exc)))
            continue
        except json.JSONDecodeError as exc:
            problems.append((where, f"{p}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"))
            continue
        except (OSError, UnicodeDecodeError, RecursionError) as exc:
            problems.append((where, f"cannot read {p}: {getattr(exc, 'strerror', None) or exc}"))
            continue
        if not isinstance(data, dict) or "entities" not in data:
            problems.append((where, f"{p}:1:1: a facts file is a mapping with 'entities: {{kind: [...]}}' "
                                    "(see docs/facts.md)"))
            continue
        found = check_entities(data["entities"], limit=MAX_PROBLEMS)
        ents = data["entities"] if isinstance(data["entities"], dict) else {}
        for kind, lst in ents.items():
            for j, e in enumerate(lst if isinstance(lst, list) else ()):
                if isinstance(e, dict) and isinstance(e.get("id"), str):
                    other = ids.get((kind, e["id"]))
                    if other is not None and other[0] != p:
                        found.append((("entities", kind, j, "id"),
                                      f"duplicate {kind} id '{e['id']}' (also in {other[0].name}): the verdict "
                                      "would depend on the order of the files; merge them or use distinct ids"))
                    ids.setdefault((kind, e["id"]), (p, j))
        for jpath, msg in found[:MAX_PROBLEMS]:
            problems.append((where, f"{_locate(p, jpath)}: {format_path(jpath)} {msg}"))
    return problems


@hookimpl
def policycheck_collectors() -> list[Collector]:
    return [Collector(name="file", collect=collect, config_schema=SCHEMA, kinds=(), check=check,
                      description="facts from YAML or JSON files (docs/facts.md)")]
