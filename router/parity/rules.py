"""Comparison rules: the one rule model, its one loader, and the ``Rules`` the engine compares with.

The same keys, with the same meaning, wherever rules are written: in a routes file (a route's ``shadow:``
and the file's ``parity.rules``, see ``router.config``) and in a rules file (``strangler replay --rules``)::

    ignore: [$..updated_at, $.results[*].stock]   JSON paths whose differences do not count (ignore_paths)
    unordered: [$.results]                        lists compared as multisets (unordered_lists)
    headers: [content-type, location]             headers compared (compared_headers; this is the default)
    ignore_headers: [date]                        headers never compared
    ignore_text: ['name="csrf[^"]*" value="[^"]*"']   in bodies that are not JSON (HTML pages, text), what
                                                  these regular expressions match does not count
    max_differences: 200                          differences listed before the rest are cut (truncated)

A single string stands for a list of one. ``RulesSpec`` is the schema (a ``router.validation.Spec``: unknown
keys and wrong types are errors); ``rules_from_data``/``rules_from_yaml``/``load_rules`` (also
``Rules.from_dict``/``Rules.from_yaml``/``Rules.load``) read it, raising ``RulesError`` with every problem,
each naming the key and the value: ``rules.yaml.ignore[1]: 'results.price' is not a JSON path: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, AliasChoices, Field, ValidationError, field_validator

from router.parity.exceptions import RulesError
from router.parity.jsonpath import JSONPath, Segment, parse_path
from router.validation import Spec, describe, header_name, show

DEFAULT_COMPARED_HEADERS: tuple[str, ...] = ("content-type", "location")
DEFAULT_MAX_DIFFERENCES = 200
IGNORE_CACHE = 20_000  # decisions remembered per Rules object (paths recur from one answer to the next)


@dataclass(frozen=True)
class Rules:
    """What to ignore and how to compare. Paths are validated on construction (PathError if bad)."""

    ignore_paths: tuple[str, ...] = ()
    ignore_headers: tuple[str, ...] = ()
    compared_headers: tuple[str, ...] = DEFAULT_COMPARED_HEADERS
    unordered_lists: tuple[str, ...] = ()
    max_differences: int = DEFAULT_MAX_DIFFERENCES
    ignore_text: tuple[str, ...] = ()
    _ignore: tuple[JSONPath, ...] = field(default=(), init=False, repr=False, compare=False)
    _text: tuple[re.Pattern[bytes], ...] = field(default=(), init=False, repr=False, compare=False)
    _unordered: tuple[JSONPath, ...] = field(default=(), init=False, repr=False, compare=False)
    _headers: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    _ignored: dict[tuple[Segment, ...], bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("ignore_paths", "ignore_headers", "compared_headers", "unordered_lists", "ignore_text"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "ignore_headers", tuple(h.lower() for h in self.ignore_headers))
        object.__setattr__(self, "compared_headers", tuple(h.lower() for h in self.compared_headers))
        object.__setattr__(self, "_ignore", tuple(parse_path(p) for p in self.ignore_paths))
        object.__setattr__(self, "_unordered", tuple(parse_path(p) for p in self.unordered_lists))
        object.__setattr__(self, "_headers", frozenset(self.compared_headers) - frozenset(self.ignore_headers))
        object.__setattr__(self, "_text", tuple(text_pattern(p) for p in self.ignore_text))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, where: str = "rules") -> Rules:
        """``rules_from_data``: a parsed rules document (None: the defaults)."""
        return rules_from_data(data, where=where)

    @classmethod
    def from_yaml(cls, text: str, *, where: str = "rules") -> Rules:
        """``rules_from_yaml``: a rules document as YAML text."""
        return rules_from_yaml(text, where=where)

    @classmethod
    def load(cls, path: str | Path) -> Rules:
        """``load_rules``: a rules file."""
        return load_rules(path)

    def as_dict(self) -> dict[str, Any]:
        return {"ignore": list(self.ignore_paths), "ignore_headers": list(self.ignore_headers),
                "headers": list(self.compared_headers), "unordered": list(self.unordered_lists),
                "ignore_text": list(self.ignore_text), "max_differences": self.max_differences}

    def merged(self, other: Rules) -> Rules:
        """Both rule sets (e.g. a file's global rules plus a route's); ``other`` wins on scalars."""
        def union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(a + b))
        return Rules(ignore_paths=union(self.ignore_paths, other.ignore_paths),
                     ignore_headers=union(self.ignore_headers, other.ignore_headers),
                     compared_headers=union(self.compared_headers, other.compared_headers),
                     unordered_lists=union(self.unordered_lists, other.unordered_lists),
                     ignore_text=union(self.ignore_text, other.ignore_text),
                     max_differences=other.max_differences)

    def ignores(self, segments: Sequence[Segment]) -> bool:
        key = tuple(segments)
        known = self._ignored.get(key)
        if known is None:
            known = any(p.matches(key) for p in self._ignore)
            if len(self._ignored) >= IGNORE_CACHE:
                self._ignored.clear()  # bounded: the same page shapes come back, so this rarely happens
            self._ignored[key] = known
        return known

    def unordered(self, segments: Sequence[Segment]) -> bool:
        return any(p.matches(segments, prefix=False) for p in self._unordered)

    def without_noise(self, body: bytes) -> bytes:
        """A body that is not JSON with what ``ignore_text`` matches blanked out (the same mark on both sides)."""
        for pattern in self._text:
            body = pattern.sub(NOISE, body)
        return body


DEFAULT_RULES = Rules()
NOISE = b"\xe2\x80\xa6"   # what an ignored stretch of text becomes: "…"


def text_pattern(value: str) -> re.Pattern[bytes]:
    """A regular expression over a body's bytes (UTF-8), or the problem with it as a ValueError."""
    try:
        return re.compile(value.encode())
    except re.error as exc:
        raise ValueError(f"{show(value)} is not a regular expression: {exc}") from None


def checked_pattern(value: str) -> str:
    text_pattern(value)
    return value


def json_path(value: str) -> str:
    """A JSON path as a rule writes it (``parse_path``'s problem, if not)."""
    parse_path(value)  # PathError is a ValueError: pydantic reports its message at the item
    return value


JsonPaths = list[Annotated[str, AfterValidator(json_path)]]
HeaderNames = list[Annotated[str, AfterValidator(header_name)]]


class RulesSpec(Spec):
    """The one rule model (see the module's docstring). A routes file's ``shadow:`` extends it with the
    shadow's own keys (``router.config.routes.ShadowSpec``); ``headers``/``max_differences`` left out
    (None) mean the defaults, or, for a route, the file's ``parity.rules``."""

    ignore: Annotated[JsonPaths, Field(validation_alias=AliasChoices("ignore", "ignore_paths"))] = []
    unordered: Annotated[JsonPaths, Field(validation_alias=AliasChoices("unordered", "unordered_lists"))] = []
    headers: Annotated[HeaderNames | None, Field(validation_alias=AliasChoices("headers", "compared_headers"))] \
        = None
    ignore_headers: HeaderNames = []
    ignore_text: list[Annotated[str, AfterValidator(checked_pattern)]] = []
    max_differences: int | None = None

    @field_validator("ignore", "unordered", "headers", "ignore_headers", "ignore_text", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("max_differences", mode="before")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{show(value)} is not a positive integer")
        return value

    def rules(self) -> Rules:
        return Rules(ignore_paths=tuple(self.ignore), unordered_lists=tuple(self.unordered),
                     compared_headers=tuple(self.headers) if self.headers is not None else DEFAULT_COMPARED_HEADERS,
                     ignore_headers=tuple(self.ignore_headers), ignore_text=tuple(self.ignore_text),
                     max_differences=self.max_differences or DEFAULT_MAX_DIFFERENCES)


def rules_from_data(data: Mapping[str, Any] | None, *, where: str = "rules") -> Rules:
    """A parsed rules document (None: the defaults); every problem is reported, each after ``where``."""
    if data is None:
        return Rules()
    try:
        spec = RulesSpec.model_validate(dict(data) if isinstance(data, Mapping) else data)
    except ValidationError as exc:
        raise RulesError([describe(error, where) for error in exc.errors()]) from None
    return spec.rules()


def rules_from_yaml(text: str, *, where: str = "rules") -> Rules:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError([f"{where}: not valid YAML: {exc}"]) from None
    return rules_from_data(data, where=where)


def load_rules(path: str | Path) -> Rules:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([f"{path}: cannot read: {exc}"]) from None
    return rules_from_yaml(text, where=str(path))
