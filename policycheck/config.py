"""The config file: load, validate (located errors), resolve relative paths; secrets stay unresolved
here and are resolved per source by the collector runtime."""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from policycheck.errors import ConfigError
from policycheck.textutil import suggest
from policycheck.yamlsafe import Document, YamlError, load_documents

SCHEMA_FILE = Path(__file__).parent / "schemas" / "config.schema.json"
DEFAULT_NAMES = ("policycheck.yaml", "policycheck.yml", ".policycheck.yaml")


@dataclass
class Config:
    path: Path | None
    base_dir: Path
    sources: list[dict[str, Any]] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    builtin_policies: bool = True
    parameters: dict[str, Any] = field(default_factory=dict)
    select: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    waivers: Path | None = None
    fail_on: str | None = None
    concurrency: int = 4
    default_timeout: float = 60.0
    as_of: str | None = None
    waiver_max_days: int | None = None
    positions: Document | None = None

    def where(self, jpath: Iterable[str | int]) -> str:
        if self.positions is None or self.path is None:
            return str(self.path or "<config>")
        line, col = self.positions.where(tuple(jpath))  # "<key>" asks for the key's own position
        return f"{self.path}:{line}:{col}"


def find_default(cwd: Path | None = None) -> Path | None:
    cwd = cwd or Path.cwd()
    for n in DEFAULT_NAMES:
        if (cwd / n).is_file():
            return cwd / n
    return None


def load_config(path: str | PathLike[str]) -> Config:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (write one, or pass --facts FILE to evaluate a snapshot)")
    try:
        docs = load_documents(path)
    except YamlError as exc:
        raise ConfigError(str(exc)) from None
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        raise ConfigError(f"{path}:1:1: a config file is one YAML mapping (version, sources, ...)")
    doc = docs[0]
    data = doc.data
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text())
    allowed = schema["properties"]
    for key in data:
        if key not in allowed:
            line, col = doc.where((key, "<key>"))
            raise ConfigError(f"{path}:{line}:{col}: unknown key '{key}'" + suggest(key, allowed)
                              + f" (allowed: {', '.join(allowed)})")
    errs = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(map(str, e.path)))
    if errs:
        e = errs[0]
        jp = tuple(e.absolute_path)
        line, col = doc.where(jp)
        shown = ".".join(str(p) for p in jp) or "<root>"
        raise ConfigError(f"{path}:{line}:{col}: {shown}: {e.message}")
    base = path.resolve().parent
    names: set[str] = set()
    for i, s in enumerate(data.get("sources") or []):
        if s["name"] in names:
            line, col = doc.where(("sources", i, "name"))
            raise ConfigError(f"{path}:{line}:{col}: duplicate source name '{s['name']}'")
        names.add(s["name"])
        from policycheck.secrets import URL_CREDENTIALS_HINT, find_url_credentials

        for jp in find_url_credentials({k: v for k, v in s.items() if k not in ("name", "plugin")}):
            line, col = doc.where(("sources", i) + jp)
            raise ConfigError(f"{path}:{line}:{col}: source '{s['name']}': {'.'.join(map(str, jp))}: "
                              + URL_CREDENTIALS_HINT)
    problems: list[str] = []
    for i, p in enumerate(data.get("policies") or []):
        if not _rel(base, p).exists():
            line, col = doc.where(("policies", i))
            problems.append(f"{path}:{line}:{col}: policies[{i}]: {_rel(base, p)} does not exist (a policy file or "
                            "directory, relative to this config file)")
    if data.get("waivers") and not _rel(base, data["waivers"]).is_file():
        line, col = doc.where(("waivers",))
        problems.append(f"{path}:{line}:{col}: waivers: {_rel(base, data['waivers'])} does not exist")
    if problems:
        raise ConfigError("\n".join(problems))
    cfg = Config(path=path, base_dir=base, sources=list(data.get("sources") or []),
                 policies=[str(_rel(base, p)) for p in data.get("policies") or []],
                 builtin_policies=data.get("builtin_policies", True),
                 parameters=data.get("parameters") or {}, select=data.get("select") or [],
                 skip=data.get("skip") or [], waivers=_rel(base, data["waivers"]) if data.get("waivers") else None,
                 fail_on=data.get("fail_on"), concurrency=data.get("concurrency", 4),
                 default_timeout=data.get("default_timeout", 60.0), positions=doc,
                 as_of=data.get("as_of"), waiver_max_days=data.get("waiver_max_days"))
    return cfg


def _rel(base: Path, p: object) -> Path:
    """``p`` (a config value) as a path, relative ones taken from ``base``."""
    p = Path(str(p)).expanduser()
    return p if p.is_absolute() else base / p
