"""The response comparison engine: two HTTP answers to one request, compared after normalisation.

Shared by the router's shadow (``router.shadow``), ``strangler``'s replay and the regression suite. Pure
data and functions: no I/O, no event loop, no imports from the rest of the toolkit.

Public API (stable)::

    Response(status, headers, body)            one HTTP answer (``Exchange`` is the same class)
    Rules(ignore_paths, ignore_headers, compared_headers, unordered_lists, max_differences)
    Rules.from_dict(data) / Rules.from_yaml(text) / Rules.load(path) / rules.merged(other)
    Difference(path, expected, got, kind)      one difference; ``as_dict()`` is JSON-ready
    compare(expected, got, rules=None) -> list[Difference]
    compare_bodies(expected_body, got_body, rules=None, content_type=None) -> list[Difference]
    compare_json(expected_data, got_data, rules=None) -> list[Difference]
    Calibrator(rules=None).observe(a, b); .suggestions() -> list[Suggestion(path, count, example)]
    parse_path(text) -> JSONPath                (raises PathError naming what is wrong)
    format_path(segments) -> str; generalise_path("$.results[3].price") -> "$.results[*].price"

Headers may be given as ``(str, str)`` or ``(bytes, bytes)`` pairs (the router's own form is bytes, as ASGI
has them); bytes are decoded as latin-1, names compared case-insensitively, repeated headers joined with
", ". Anything with ``status``, ``headers`` and ``body`` attributes can be compared (``router.shadow.Exchange``
can, as is).

What counts as equal:

- status: equal integers (a difference has path ``status``, kind ``status``);
- headers: only ``compared_headers`` (default: content-type, location), minus ``ignore_headers``; values
  compared after trimming; ``content-type`` also case- and whitespace-insensitively. Path ``header:<name>``,
  kind ``header``.
- body: equal bytes are equal (fast path). Otherwise, when either side says or looks like JSON and both
  parse, structurally: object key order does not count, numbers compare by value (``1 == 1.0``; a
  ``true`` is never ``1``), strings are strings (``"12.50" != "12.5"``: a decimal in a string stays text),
  lists are ordered unless their path is in ``unordered_lists`` (then compared as multisets). Other bodies
  compare as bytes (path ``body``, kind ``body``, excerpts around the first differing byte).

Paths are JSONPath-like: ``$`` the root, ``.name`` or ``['any name']`` a key, ``[3]`` an index, ``[*]`` or
``.*`` any key or index, ``..name`` the key at any depth. A difference path is concrete
(``$.results[3].price``); an ignore rule matches a difference at its path or below it
(``$.results[*].updated_at``, ``$..request_id``); an unordered rule names list paths exactly.

Kinds of differences: ``status``, ``header``, ``value`` (same type, other value), ``type`` (other JSON
type), ``missing`` (a key or list item of ``expected`` absent from ``got``), ``extra`` (the reverse),
``order`` (the same items in another order where order counts; ``expected``/``got`` then hold, for
``got``'s items in order, their positions in ``expected``), ``body`` (non-JSON bodies differ),
``truncated`` (more than ``max_differences``; the rest were not listed).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
import yaml

__all__ = [
    "DEFAULT_COMPARED_HEADERS", "Calibrator", "Difference", "Exchange", "JSONPath", "PathError", "Response",
    "ResponseLike", "Rules", "RulesError", "Suggestion", "compare", "compare_bodies", "compare_json",
    "format_path", "generalise_path", "parse_path",
]

DEFAULT_COMPARED_HEADERS: tuple[str, ...] = ("content-type", "location")
DEFAULT_MAX_DIFFERENCES = 200
EXCERPT = 120
IGNORE_CACHE = 20_000  # decisions remembered per Rules object (paths recur from one answer to the next)

HeaderPairs = Sequence[tuple[str, str]] | Sequence[tuple[bytes, bytes]]
Segment = str | int


class ResponseLike(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> HeaderPairs: ...

    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True)
class Response:
    """One HTTP answer. ``headers``: (str, str) or (bytes, bytes) pairs, names in any case."""

    status: int
    headers: HeaderPairs = ()
    body: bytes = b""

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: HeaderPairs | None = None) -> Response:
        """A JSON answer (for tests and tools): ``data`` serialised, content-type set unless given."""
        pairs = _pairs(headers or ())
        if not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("content-type", "application/json"))
        return cls(status, pairs, orjson.dumps(data))


Exchange = Response


@dataclass(frozen=True)
class Difference:
    path: str
    expected: Any
    got: Any
    kind: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "expected": self.expected, "got": self.got}

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: expected {_short(self.expected)}, got {_short(self.got)}"


# --- paths -------------------------------------------------------------------------------------------------

class PathError(ValueError):
    pass


@dataclass(frozen=True)
class _Key:
    name: str


@dataclass(frozen=True)
class _Index:
    number: int


@dataclass(frozen=True)
class _Any:
    pass


@dataclass(frozen=True)
class _Descend:
    inner: _Key | _Index | _Any


_Token = _Key | _Index | _Any | _Descend
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_NAME = re.compile(r"[^.\[\]]+")


@dataclass(frozen=True)
class JSONPath:
    text: str
    tokens: tuple[_Token, ...]

    def matches(self, segments: Sequence[Segment], *, prefix: bool = True) -> bool:
        """True if the path names ``segments`` (or, with ``prefix``, something that contains them)."""
        return _match(self.tokens, 0, segments, 0, prefix)

    @property
    def is_concrete(self) -> bool:
        return all(isinstance(t, _Key | _Index) for t in self.tokens)

    def segments(self) -> tuple[Segment, ...]:
        out: list[Segment] = []
        for token in self.tokens:
            if isinstance(token, _Key):
                out.append(token.name)
            elif isinstance(token, _Index):
                out.append(token.number)
            else:
                raise PathError(f"{self.text!r} is not a concrete path")
        return tuple(out)


def parse_path(text: str) -> JSONPath:
    """Parses ``$.a[*].b``, ``$..request_id``, ``$['odd key'][0]``; raises PathError saying what is wrong."""
    if not isinstance(text, str):
        raise PathError(f"{text!r} is not a JSON path (a string starting with '$')")
    if not text.startswith("$"):
        raise PathError(f"{text!r} is not a JSON path: it must start with '$' (e.g. '$.results[*].updated_at')")
    tokens: list[_Token] = []
    i, n = 1, len(text)
    while i < n:
        descend = text.startswith("..", i)
        if descend:
            i += 2
        elif text[i] == ".":
            i += 1
        elif text[i] != "[":
            raise PathError(f"{text!r}: unexpected {text[i]!r} at position {i}")
        token: _Key | _Index | _Any
        if i < n and text[i] == "[":
            end = _bracket_end(text, i)
            inside = text[i + 1:end].strip()
            i = end + 1
            if inside == "*":
                token = _Any()
            elif re.fullmatch(r"\d+", inside):
                token = _Index(int(inside))
            elif len(inside) >= 2 and inside[0] == inside[-1] and inside[0] in "'\"":
                token = _Key(_unquote(inside, text))
            else:
                raise PathError(f"{text!r}: [{inside}] is neither an index, '*' nor a quoted key")
        else:
            if i < n and text[i] == "*":
                token, i = _Any(), i + 1
            else:
                found = _NAME.match(text, i)
                if not found:
                    raise PathError(f"{text!r}: a key name is missing at position {i}")
                token, i = _Key(found.group(0)), found.end()
        tokens.append(_Descend(token) if descend else token)
    return JSONPath(text, tuple(tokens))


def _bracket_end(text: str, start: int) -> int:
    quote: str | None = None
    i = start + 1
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "]":
            return i
        i += 1
    raise PathError(f"{text!r}: '[' at position {start} is never closed")


def _unquote(inside: str, text: str) -> str:
    if inside[0] == '"':
        try:
            value = json.loads(inside)
        except ValueError:
            raise PathError(f"{text!r}: {inside} is not a valid quoted key") from None
        return str(value)
    return re.sub(r"\\(.)", r"\1", inside[1:-1])


def _match(tokens: tuple[_Token, ...], i: int, segments: Sequence[Segment], j: int, prefix: bool) -> bool:
    while True:
        if i == len(tokens):
            return prefix or j == len(segments)
        token = tokens[i]
        if isinstance(token, _Descend):
            return any(_step(token.inner, segments[k]) and _match(tokens, i + 1, segments, k + 1, prefix)
                       for k in range(j, len(segments)))
        if j >= len(segments) or not _step(token, segments[j]):
            return False
        i, j = i + 1, j + 1


def _step(token: _Key | _Index | _Any, segment: Segment) -> bool:
    if isinstance(token, _Any):
        return True
    if isinstance(token, _Key):
        return isinstance(segment, str) and segment == token.name
    return isinstance(segment, int) and segment == token.number


def format_path(segments: Iterable[Segment]) -> str:
    parts = ["$"]
    for segment in segments:
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif _IDENT.fullmatch(segment):
            parts.append(f".{segment}")
        else:
            parts.append(f"[{json.dumps(segment)}]")
    return "".join(parts)


# --- rules -------------------------------------------------------------------------------------------------

class RulesError(ValueError):
    """A bad rules document; ``problems`` name the field (``rules.ignore[1]: ...``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


_RULE_KEYS = {
    "ignore": "ignore_paths", "ignore_paths": "ignore_paths",
    "ignore_headers": "ignore_headers",
    "headers": "compared_headers", "compared_headers": "compared_headers",
    "unordered": "unordered_lists", "unordered_lists": "unordered_lists",
    "max_differences": "max_differences",
}
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True)
class Rules:
    """What to ignore and how to compare. Paths are validated on construction (PathError if bad)."""

    ignore_paths: tuple[str, ...] = ()
    ignore_headers: tuple[str, ...] = ()
    compared_headers: tuple[str, ...] = DEFAULT_COMPARED_HEADERS
    unordered_lists: tuple[str, ...] = ()
    max_differences: int = DEFAULT_MAX_DIFFERENCES
    _ignore: tuple[JSONPath, ...] = field(default=(), init=False, repr=False, compare=False)
    _unordered: tuple[JSONPath, ...] = field(default=(), init=False, repr=False, compare=False)
    _headers: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    _ignored: dict[tuple[Segment, ...], bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("ignore_paths", "ignore_headers", "compared_headers", "unordered_lists"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "ignore_headers", tuple(h.lower() for h in self.ignore_headers))
        object.__setattr__(self, "compared_headers", tuple(h.lower() for h in self.compared_headers))
        object.__setattr__(self, "_ignore", tuple(parse_path(p) for p in self.ignore_paths))
        object.__setattr__(self, "_unordered", tuple(parse_path(p) for p in self.unordered_lists))
        object.__setattr__(self, "_headers", frozenset(self.compared_headers) - frozenset(self.ignore_headers))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, where: str = "rules") -> Rules:
        """Keys: ignore (ignore_paths), ignore_headers, headers (compared_headers), unordered
        (unordered_lists), max_differences. Every problem is reported, each naming its field."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise RulesError([f"{where}: expected a mapping (ignore, ignore_headers, headers, unordered)"])
        problems: list[str] = []
        values: dict[str, Any] = {}
        for key, value in data.items():
            target = _RULE_KEYS.get(key)
            if target is None:
                problems.append(f"{where}.{key}: unknown key (known: {', '.join(sorted(set(_RULE_KEYS)))})")
                continue
            if target == "max_differences":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    problems.append(f"{where}.{key}: {value!r} is not a positive integer")
                else:
                    values[target] = value
                continue
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list | tuple):
                problems.append(f"{where}.{key}: expected a list of strings (got {value!r})")
                continue
            good = []
            for index, item in enumerate(items):
                spot = f"{where}.{key}[{index}]"
                if not isinstance(item, str):
                    problems.append(f"{spot}: {item!r} is not a string")
                elif target in ("ignore_paths", "unordered_lists"):
                    try:
                        parse_path(item)
                        good.append(item)
                    except PathError as exc:
                        problems.append(f"{spot}: {exc}")
                elif not _HEADER_NAME.match(item):
                    problems.append(f"{spot}: {item!r} is not a header name")
                else:
                    good.append(item)
            values[target] = tuple(good)
        if problems:
            raise RulesError(problems)
        return cls(**values)

    @classmethod
    def from_yaml(cls, text: str, *, where: str = "rules") -> Rules:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RulesError([f"{where}: not valid YAML: {exc}"]) from None
        return cls.from_dict(data, where=where)

    @classmethod
    def load(cls, path: str | Path) -> Rules:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RulesError([f"{path}: cannot read: {exc}"]) from None
        return cls.from_yaml(text, where=str(path))

    def as_dict(self) -> dict[str, Any]:
        return {"ignore": list(self.ignore_paths), "ignore_headers": list(self.ignore_headers),
                "headers": list(self.compared_headers), "unordered": list(self.unordered_lists),
                "max_differences": self.max_differences}

    def merged(self, other: Rules) -> Rules:
        """Both rule sets (e.g. a file's global rules plus a route's); ``other`` wins on scalars."""
        def union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(a + b))
        return Rules(ignore_paths=union(self.ignore_paths, other.ignore_paths),
                     ignore_headers=union(self.ignore_headers, other.ignore_headers),
                     compared_headers=union(self.compared_headers, other.compared_headers),
                     unordered_lists=union(self.unordered_lists, other.unordered_lists),
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


_DEFAULT_RULES = Rules()


# --- comparing ---------------------------------------------------------------------------------------------

_ABSENT: Any = object()


class _Full(Exception):
    pass


class _Collector:
    __slots__ = ("rules", "out", "limit")

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.out: list[Difference] = []
        self.limit = rules.max_differences

    def add(self, segments: Sequence[Segment], expected: Any, got: Any, kind: str) -> None:
        if self.rules._ignore and self.rules.ignores(segments):
            return
        if len(self.out) >= self.limit:
            self.out.append(Difference(format_path(segments), None, None, "truncated"))
            raise _Full
        self.out.append(Difference(format_path(segments), expected, got, kind))


def compare(expected: ResponseLike, got: ResponseLike, rules: Rules | None = None) -> list[Difference]:
    """Every difference between two answers to one request that ``rules`` do not ignore (empty: equal)."""
    rules = rules or _DEFAULT_RULES
    out: list[Difference] = []
    if expected.status != got.status:
        out.append(Difference("status", expected.status, got.status, "status"))
    wanted = rules._headers
    if wanted:
        mine, theirs = _headers(expected.headers, wanted), _headers(got.headers, wanted)
        if mine != theirs:
            for name in sorted(set(mine) | set(theirs)):
                a, b = mine.get(name), theirs.get(name)
                if a != b:
                    out.append(Difference(f"header:{name}", a, b, "header"))
    if expected.body != got.body:
        content_type = _content_type(expected.headers) or _content_type(got.headers)
        out.extend(compare_bodies(expected.body, got.body, rules, content_type=content_type))
    return out


def compare_bodies(expected: bytes, got: bytes, rules: Rules | None = None, *,
                   content_type: str | None = None) -> list[Difference]:
    rules = rules or _DEFAULT_RULES
    if expected == got:
        return []
    if _jsonish(content_type, expected) or _jsonish(content_type, got):
        a, a_ok = _loads(expected)
        b, b_ok = _loads(got)
        if a_ok and b_ok:
            return compare_json(a, b, rules)
    if rules._ignore and rules.ignores(()):
        return []
    return [_bytes_difference(expected, got)]


def compare_json(expected: Any, got: Any, rules: Rules | None = None) -> list[Difference]:
    """Differences between two parsed JSON documents (paths from ``$``)."""
    collector = _Collector(rules or _DEFAULT_RULES)
    try:
        _walk(expected, got, collector)
    except _Full:
        pass
    return collector.out


def _walk(expected: Any, got: Any, collector: _Collector, base: tuple[Segment, ...] = ()) -> None:
    rules = collector.rules
    add = collector.add
    stack: list[tuple[Any, Any, tuple[Segment, ...]]] = [(expected, got, base)]
    pop, push = stack.pop, stack.append
    while stack:
        a, b, path = pop()
        ta, tb = type(a), type(b)
        if ta is dict and tb is dict:
            if a == b and _strictly_same(a, b):
                continue
            matched = 0
            for key, va in a.items():
                vb = b.get(key, _ABSENT)
                if vb is _ABSENT:
                    add((*path, key), va, None, "missing")
                    continue
                matched += 1
                tva = type(va)
                if va == vb:
                    if tva is type(vb) and (tva is not dict and tva is not list or _strictly_same(va, vb)):
                        continue
                elif tva is type(vb) and tva is not dict and tva is not list:
                    add((*path, key), va, vb, "value")
                    continue
                push((va, vb, (*path, key)))
            if matched != len(b):
                for key in b:
                    if key not in a:
                        add((*path, key), None, b[key], "extra")
        elif ta is list and tb is list:
            if a == b and _strictly_same(a, b):
                continue
            if rules._unordered and rules.unordered(path):
                _unordered(a, b, path, collector)
            else:
                _ordered(a, b, path, collector)
        elif ta is tb:
            if a != b:
                add(path, a, b, "value")
        elif (ta is int or ta is float) and (tb is int or tb is float):
            if a != b:
                add(path, a, b, "value")
        else:
            add(path, a, b, "type")


def _ordered(a: list[Any], b: list[Any], path: tuple[Segment, ...], collector: _Collector) -> None:
    trial = _Collector(collector.rules)
    trial.limit = collector.limit
    try:
        for index in range(min(len(a), len(b))):
            _walk(a[index], b[index], trial, (*path, index))
    except _Full:
        pass
    if trial.out and len(a) == len(b) and _might_be_reordered(a, b):
        positions = _permutation(a, b)
        if positions is not None:
            collector.add(path, list(range(len(a))), positions, "order")
            return
    for difference in trial.out:
        if len(collector.out) >= collector.limit:
            collector.out.append(Difference(difference.path, None, None, "truncated"))
            raise _Full
        collector.out.append(difference)
    for index in range(len(b), len(a)):
        collector.add((*path, index), a[index], None, "missing")
    for index in range(len(a), len(b)):
        collector.add((*path, index), None, b[index], "extra")


def _canonical(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, sort_keys=True).encode()


def _might_be_reordered(a: list[Any], b: list[Any]) -> bool:
    """Cheap test before the canonical one: the first item that moved must be somewhere in ``a``."""
    for x, y in zip(a, b, strict=True):
        if x != y:
            return y in a
    return True


def _permutation(a: list[Any], b: list[Any]) -> list[int] | None:
    """For each item of ``b``, its position in ``a``, if ``b`` is ``a`` reordered; else None."""
    where: dict[bytes, list[int]] = defaultdict(list)
    for index, item in enumerate(a):
        where[_canonical(item)].append(index)
    positions = []
    for item in b:
        slots = where.get(_canonical(item))
        if not slots:
            return None
        positions.append(slots.pop(0))
    return positions


def _unordered(a: list[Any], b: list[Any], path: tuple[Segment, ...], collector: _Collector) -> None:
    """Multiset comparison: identical items pair off; the rest pair with the closest item, if any."""
    waiting: dict[bytes, list[int]] = defaultdict(list)
    for index, item in enumerate(b):
        waiting[_canonical(item)].append(index)
    left: list[int] = []
    for index, item in enumerate(a):
        slots = waiting.get(_canonical(item))
        if slots:
            slots.pop()
        else:
            left.append(index)
    right = sorted(i for slots in waiting.values() for i in slots)
    for index in left:
        best: tuple[int, int, list[Difference]] | None = None
        for position, other in enumerate(right):
            trial = _Collector(collector.rules)
            trial.limit = 10_000
            try:
                _walk(a[index], b[other], trial, (*path, index))
            except _Full:
                pass
            if best is None or len(trial.out) < len(best[2]):
                best = (position, other, trial.out)
            if not trial.out:
                break
        if best is None:
            collector.add((*path, index), a[index], None, "missing")
            continue
        right.pop(best[0])
        for difference in best[2]:
            if len(collector.out) >= collector.limit:
                collector.out.append(Difference(difference.path, None, None, "truncated"))
                raise _Full
            collector.out.append(difference)
    for other in right:
        collector.add((*path, other), None, b[other], "extra")


def _strictly_same(a: Any, b: Any) -> bool:
    """``a == b`` already holds; Python also says True == 1, which JSON does not. Same canonical form
    settles it; else the caller walks the values (1 and 1.0 then compare equal by value)."""
    try:
        return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(b, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return False


_DIGITS = bytes(49 if 48 <= i <= 57 else 48 for i in range(256))  # digits -> "1", anything else -> "0"
_LONG_RUN = b"1" * 19  # 19 digits in a row: maybe an integer beyond 64 bits (a regex is 15x slower)


def _loads(body: bytes) -> tuple[Any, bool]:
    if _LONG_RUN not in body.translate(_DIGITS):
        try:
            return orjson.loads(body), True
        except orjson.JSONDecodeError:
            pass
    try:  # orjson reads integers beyond 64 bits as floats (losing digits): the standard library does not
        return json.loads(body), True
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, False


def _jsonish(content_type: str | None, body: bytes) -> bool:
    if content_type and "json" in content_type:
        return True
    stripped = body.lstrip()[:1]
    return stripped in (b"{", b"[")


def _bytes_difference(expected: bytes, got: bytes) -> Difference:
    offset = next((i for i, (x, y) in enumerate(zip(expected, got, strict=False)) if x != y),
                  min(len(expected), len(got)))
    start = max(0, offset - EXCERPT // 4)

    def excerpt(body: bytes) -> str:
        text = body[start:start + EXCERPT].decode("utf-8", "replace")
        return ("..." if start else "") + text + ("..." if start + EXCERPT < len(body) else "")

    return Difference(f"body@{offset}", excerpt(expected), excerpt(got), "body")


def _pairs(headers: HeaderPairs) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in headers:
        out.append((_text(name), _text(value)))
    return out


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _headers(pairs: HeaderPairs, wanted: frozenset[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = _text(raw_name).lower()
        if name in wanted:
            value = _text(raw_value).strip()
            if name == "content-type":
                value = value.replace(" ", "").lower()
            found[name] = f"{found[name]}, {value}" if name in found else value
    return found


def _content_type(pairs: HeaderPairs) -> str | None:
    for name, value in pairs:
        if _text(name).lower() == "content-type":
            return _text(value).lower()
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- calibration -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Suggestion:
    """A suggested ignore rule: ``path`` is a JSON path for ``ignore`` or ``header:<name>`` for
    ``ignore_headers``; ``count`` how many observed pairs differed there; ``example`` one such difference.
    Unpacks as ``path, count, example``."""

    path: str
    count: int
    example: Difference

    def __iter__(self) -> Iterator[Any]:
        return iter((self.path, self.count, self.example))

    @property
    def rule(self) -> tuple[str, str]:
        """("ignore", "$.x") or ("ignore_headers", "etag"): where the suggestion would go in the rules."""
        if self.path.startswith("header:"):
            return "ignore_headers", self.path.removeprefix("header:")
        return "ignore", self.path


NOISY_HEADERS_NEVER_COMPARED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


class Calibrator:
    """Learns noise: feed it pairs of answers to the SAME request from the SAME implementation (the monolith
    twice, or two of its instances); whatever differs there differs on its own. Paths are generalised over
    list indices (``$.results[*].updated_at``); a key that is noisy under several parents is also suggested
    as ``$..key``. Suggestions are only suggestions: nothing is applied unless a person puts it in the rules.

    By default every header is observed (except framing ones), so ``date``, ``etag`` or ``x-request-id``
    show up; ``rules`` (e.g. what is already ignored) apply first."""

    def __init__(self, rules: Rules | None = None, *, all_headers: bool = True) -> None:
        self.rules = rules or Rules()
        self.all_headers = all_headers
        self.observations = 0
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, Difference] = {}

    def observe(self, a: ResponseLike, b: ResponseLike) -> list[Difference]:
        rules = self.rules
        if self.all_headers:
            names = {_text(n).lower() for n, _ in [*a.headers, *b.headers]} - NOISY_HEADERS_NEVER_COMPARED
            rules = Rules(ignore_paths=rules.ignore_paths, ignore_headers=rules.ignore_headers,
                          compared_headers=tuple(sorted(names)), unordered_lists=rules.unordered_lists,
                          max_differences=10_000)
        differences = compare(a, b, rules)
        self.observations += 1
        seen: set[str] = set()
        for difference in differences:
            if difference.kind == "truncated":
                continue
            general = generalise_path(difference.path)
            if general not in seen:
                seen.add(general)
                self.counts[general] += 1
                self.examples.setdefault(general, difference)
        return differences

    def suggestions(self, min_count: int = 1) -> list[Suggestion]:
        out = [Suggestion(path, count, self.examples[path]) for path, count in self.counts.items()
               if count >= min_count]
        by_key: dict[str, list[Suggestion]] = defaultdict(list)
        for suggestion in out:
            if suggestion.path.startswith("$"):
                last = _last_key(suggestion.path)
                if last is not None:
                    by_key[last].append(suggestion)
        for key, group in by_key.items():
            parents = {s.path for s in group}
            if len(parents) > 1:
                out.append(Suggestion(_descend_path(key), max(s.count for s in group), group[0].example))
        return sorted(out, key=lambda s: (-s.count, s.path))

    def suggested_rules(self, min_count: int = 1) -> Rules:
        """The suggestions as a Rules object, for a person to review and write down (never used silently)."""
        paths: list[str] = []
        headers: list[str] = []
        for suggestion in self.suggestions(min_count):
            kind, value = suggestion.rule
            (headers if kind == "ignore_headers" else paths).append(value)
        return Rules(ignore_paths=tuple(paths), ignore_headers=tuple(headers))


def generalise_path(path: str) -> str:
    """A difference path with list indices generalised: ``$.results[3].price`` -> ``$.results[*].price``."""
    if not path.startswith("$"):
        return re.sub(r"@\d+$", "", path)  # body@123 -> body
    try:
        segments = parse_path(path).segments()
    except PathError:
        return path
    parts = ["$"]
    for segment in segments:
        parts.append("[*]" if isinstance(segment, int) else format_path([segment])[1:])
    return "".join(parts)


def _last_key(path: str) -> str | None:
    try:
        tokens = parse_path(path).tokens
    except PathError:
        return None
    last = tokens[-1] if tokens else None
    return last.name if isinstance(last, _Key) else None


def _descend_path(key: str) -> str:
    return "$.." + key if _IDENT.fullmatch(key) else "$..[" + json.dumps(key) + "]"
