"""YAML that people write, read safely: the loader for configuration files (routes, migration plans).

PyYAML's ``safe_load`` refuses arbitrary objects but not much else. A config file is small, hand-written and
read by processes that must not hang or fall over on a bad one, so on top of the safe loader this one refuses:

- a duplicate key (YAML keeps the last one silently, so a copied block quietly overrides the first):
  ``line 7, column 1: duplicate key 'name' (first at line 1)``;
- aliases (``*name``): an "alias bomb" (a few lines of anchors referring to each other) expands to billions
  of nodes in whatever walks the result; a config file has no need for them, so the first alias stops the
  read before anything is built;
- nesting deeper than ``max_depth`` (the composer and everything after it recurse: a 200 KB file of
  ``[[[[...`` ends in a RecursionError otherwise);
- a file larger than ``max_bytes``, and bytes that are not UTF-8 (named by their offset and line).

Every refusal is a :class:`YamlRefused` whose text says where (line and column, 1-based) and what; callers
prefix the file's name. This module imports nothing from the router or the toolkit so that both can use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlRefused(Exception):
    """Why a YAML text was refused; ``line``/``column`` (1-based) when the problem has a place."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        self.message, self.line, self.column = message, line, column
        super().__init__(f"{self.where}: {message}" if self.where else message)

    @property
    def where(self) -> str:
        if self.line is None:
            return ""
        return f"line {self.line}, column {self.column}" if self.column is not None else f"line {self.line}"


def _at(message: str, mark: Any) -> YamlRefused:
    if mark is None:
        return YamlRefused(message)
    return YamlRefused(message, line=mark.line + 1, column=mark.column + 1)


class _Loader(yaml.SafeLoader):
    """The safe loader with aliases refused, a depth limit, and duplicate keys refused."""

    max_depth = MAX_DEPTH

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _at(f"alias *{event.anchor}: aliases are not allowed in this file (write the value out; "
                      "aliases can expand a few lines into billions of values)", event.start_mark)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise _at(f"nested deeper than {self.max_depth} levels",
                          self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, Any] = {}  # key -> the mark where it first appears
        for key_node, _value in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
                continue  # complex keys are refused by the constructor itself if unhashable; merges may override
            key = self.construct_object(key_node)
            try:
                seen: Any = first.setdefault(key, key_node.start_mark)
            except TypeError:
                continue
            if seen is not key_node.start_mark:
                raise _at(f"duplicate key {key!r} (first at line {seen.line + 1})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def loads(text: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """One YAML document from ``text``, or :class:`YamlRefused` saying where and why."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader checks every character here
        loader.max_depth = max_depth
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        context = f" ({exc.context})" if exc.context else ""
        raise _at(f"not valid YAML: {exc.problem}{context}", exc.problem_mark) from None
    except yaml.reader.ReaderError as exc:
        # Characters YAML does not allow (NUL, most control characters): the reader reports a character index.
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise YamlRefused(f"character #x{char:04x} is not allowed in YAML (control characters are not)",
                          line=line) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error above carries a mark
        raise YamlRefused(f"not valid YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()


def decode(data: bytes, *, max_bytes: int = MAX_BYTES) -> str:
    """The text of a config file's bytes: refused when larger than ``max_bytes`` or not UTF-8."""
    if len(data) > max_bytes:
        raise YamlRefused(f"larger than {max_bytes:,} bytes; a config file this big is a mistake")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YamlRefused(f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line}); "
                          "save the file as UTF-8") from None
    return text.removeprefix("\ufeff")  # a byte-order mark is allowed, and not part of the text


def load_file(path: str | Path, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The YAML document in the file at ``path``; unreadable files are refused too ("cannot read: ...")."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)  # never more than the limit (plus one byte to see it is passed)
    except OSError as exc:
        raise YamlRefused(f"cannot read: {exc.strerror or exc}") from None
    return loads(decode(data, max_bytes=max_bytes), max_depth=max_depth)


def load_mapping(path: str | Path, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> dict[Any, Any]:
    """Like :func:`load_file`, for files whose top level must be a mapping (every config file here)."""
    doc = load_file(path, max_bytes=max_bytes, max_depth=max_depth)
    if doc is None:
        raise YamlRefused("the file is empty; expected a mapping at the top")
    if not isinstance(doc, dict):
        kind = "a list" if isinstance(doc, list) else f"{type(doc).__name__} {doc!r:.40}"
        raise YamlRefused(f"expected a mapping at the top, got {kind}")
    return doc
