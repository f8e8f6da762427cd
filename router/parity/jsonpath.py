"""JSON paths: where a difference is (concrete: ``$.results[3].price``) and what a rule names (``$..request_id``).

``$`` the root, ``.name`` or ``['any name']`` a key, ``[3]`` an index, ``[*]`` or ``.*`` any key or index,
``..name`` the key at any depth. A difference path is concrete; an ignore rule matches a difference at its
path or below it (``$.results[*].updated_at``, ``$..request_id``); an unordered rule names list paths exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from router.parity.exceptions import PathError

Segment = str | int


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


def last_key(path: str) -> str | None:
    try:
        tokens = parse_path(path).tokens
    except PathError:
        return None
    last = tokens[-1] if tokens else None
    return last.name if isinstance(last, _Key) else None


def descend_path(key: str) -> str:
    return "$.." + key if _IDENT.fullmatch(key) else "$..[" + json.dumps(key) + "]"
