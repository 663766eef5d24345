"""Safe YAML: standard tags only, duplicate keys refused, alias and size limits, line/column per JSON path."""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from policycheck.errors import PolicycheckError

try:  # the C parser is ~10x faster for big facts files
    from yaml import CSafeLoader as _FastLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _FastLoader  # type: ignore[assignment]



class _DataLoader(_FastLoader):
    """The C safe loader, but times stay ISO strings (facts are JSON-shaped)."""


_DataLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in _FastLoader.yaml_implicit_resolvers.items()
}

MAX_BYTES = 4 * 1024 * 1024
MAX_NODES = 2_000_000
MAX_ALIASES = 1000
MAX_DEPTH = 200  # nesting levels: no policy, config or facts file needs more, and recursion stays bounded
_ANCHOR = re.compile(r"(^|[\s\[{,:-])&[^\s\[\]{},]+", re.M)
_STD = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "timestamp", "binary")}

PathArg = str | os.PathLike[str]


class YamlError(PolicycheckError, ValueError):
    """A YAML problem with its location: ``file:line:col: message``."""

    def __init__(self, path: PathArg, line: int, col: int, message: str) -> None:
        self.path, self.line, self.col, self.message = str(path), line, col, message
        super().__init__(f"{path}:{line}:{col}: {message}")


@dataclass
class Document:
    """One YAML document: its data and where each JSON path starts (1-based line, column)."""

    data: Any
    positions: dict[tuple[Any, ...], tuple[int, int]]
    path: str
    line: int

    def where(self, jpath: Iterable[Any]) -> tuple[int, int]:
        """The position of ``jpath`` or of its nearest located parent."""
        p = tuple(jpath)
        while p:
            if p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return self.positions.get((), (self.line, 1))


def read_text(path: PathArg, max_bytes: int = MAX_BYTES) -> str:
    p = Path(path)
    size = p.stat().st_size
    if size > max_bytes:
        raise YamlError(path, 1, 1, f"file is {size} bytes, over the {max_bytes}-byte limit for this kind of file")
    return p.read_text(encoding="utf-8")


def load_documents(path: PathArg, text: str | None = None, max_bytes: int = MAX_BYTES) -> list[Document]:
    """All documents of a YAML file, with positions. Raises YamlError."""
    if text is None:
        try:
            text = read_text(path, max_bytes)
        except UnicodeDecodeError as exc:
            raise YamlError(path, 1, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    elif len(text.encode("utf-8", "replace")) > max_bytes:
        raise YamlError(path, 1, 1, f"text is over the {max_bytes}-byte limit")
    _check_depth(path, text)
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlError(path, line, col, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlError(path, 1, 1, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(path, 1, 1, f"nested too deeply (more than {MAX_DEPTH} levels): refused") from None
    docs: list[Document] = []
    for node in nodes:
        if node is None:
            continue
        conv = _Converter(path)
        data = conv.convert(node, ())
        docs.append(Document(data, conv.positions, str(path), node.start_mark.line + 1))
    return docs


def load_data(path: PathArg, max_bytes: int = 1 << 30) -> Any:
    """Fast load of one YAML (or JSON) data document without positions (facts files).

    Files without anchors take the C parser; files with anchors go through the checked
    converter so an alias bomb is refused."""
    text = read_text(path, max_bytes)
    if _ANCHOR.search(text):
        docs = load_documents(path, text, max_bytes)
        return docs[0].data if docs else None
    _check_depth(path, text)
    try:
        return yaml.load(text, Loader=_DataLoader)  # noqa: S506 - a safe loader
    except RecursionError:
        raise YamlError(path, 1, 1, f"nested too deeply (more than {MAX_DEPTH} levels): refused") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlError(path, line, col, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.constructor.ConstructorError as exc:  # pragma: no cover
        raise YamlError(path, 1, 1, str(exc)) from None
    except yaml.YAMLError as exc:  # a reader error (control characters), ...
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise YamlError(path, line, col, f"invalid YAML: {reason}") from None


def _check_depth(path: PathArg, text: str) -> None:
    """Refuse flow nesting (``[[[...``, ``{{{...``) deeper than MAX_DEPTH before a recursive parser
    sees it (block nesting is bounded by indentation and checked by the converter)."""
    if len(text) > (1 << 20) or text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # big files: the RecursionError guard around the parser catches what this would
    depth = 0
    line, col = 1, 0
    quote: str | None = None
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            if quote == "'" or quote == '"':
                continue
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"" and depth:
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlError(path, line, col, f"nested more than {MAX_DEPTH} levels deep: refused")
        elif ch in "]}":
            depth = max(0, depth - 1)


class _Converter:
    def __init__(self, path: PathArg) -> None:
        self.path = path
        self.positions: dict[tuple[Any, ...], tuple[int, int]] = {}
        self.nodes = 0
        self.aliases = 0
        self.seen: set[int] = set()
        self.open: set[int] = set()  # the collections being converted: a node inside itself is a cycle
        self.ctor = yaml.constructor.SafeConstructor()

    def err(self, node: yaml.Node, msg: str) -> YamlError:
        return YamlError(self.path, node.start_mark.line + 1, node.start_mark.column + 1, msg)

    def convert(self, node: yaml.Node, jpath: tuple[Any, ...]) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.err(node, f"more than {MAX_NODES} YAML nodes (an alias bomb?): refused")
        if len(jpath) > MAX_DEPTH:
            raise self.err(node, f"nested more than {MAX_DEPTH} levels deep: refused")
        if id(node) in self.open:
            raise self.err(node, "an alias refers to the collection that contains it (a recursive "
                                 "structure): refused")
        if isinstance(node, yaml.ScalarNode):
            return self._convert(node, jpath)
        self.open.add(id(node))
        try:
            return self._convert(node, jpath)
        finally:
            self.open.discard(id(node))

    def _convert(self, node: yaml.Node, jpath: tuple[Any, ...]) -> Any:
        if id(node) in self.seen:
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise self.err(node, f"more than {MAX_ALIASES} alias expansions (an alias bomb?): refused")
        if not isinstance(node, yaml.ScalarNode):
            self.seen.add(id(node))
        self.positions.setdefault(jpath, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            if node.tag not in (_STD + "map", _STD + "omap"):
                raise self.err(node, f"tag {node.tag!r} is not allowed (only plain YAML data)")
            out: dict[str, Any] = {}
            for knode, vnode in node.value:
                if knode.tag == _STD + "merge":
                    raise self.err(knode, "merge keys ('<<') are not allowed; write the keys out")
                key = self.ctor.construct_object(knode) if isinstance(knode, yaml.ScalarNode) else None
                if knode.tag not in _PLAIN_TAGS:
                    raise self.err(knode, f"tag {knode.tag!r} is not allowed (only plain YAML data)")
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise self.err(knode, "a mapping key must be a plain scalar")
                key = str(key) if not isinstance(key, str) else key
                if key in out:
                    raise self.err(knode, f"duplicate key {key!r} in the same mapping")
                self.positions[jpath + (key, "<key>")] = (knode.start_mark.line + 1, knode.start_mark.column + 1)
                out[key] = self.convert(vnode, jpath + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _STD + "seq":
                raise self.err(node, f"tag {node.tag!r} is not allowed (only plain YAML data)")
            return [self.convert(v, jpath + (i,)) for i, v in enumerate(node.value)]
        if node.tag not in _PLAIN_TAGS:
            raise self.err(node, f"tag {node.tag!r} is not allowed (only plain YAML data)")
        if node.tag == _STD + "timestamp":
            return node.value  # keep times as the ISO strings they are
        if node.tag == _STD + "binary":
            raise self.err(node, "binary values are not allowed")
        return self.ctor.construct_object(node, deep=True)
