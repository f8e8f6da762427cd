"""What is compared: one HTTP answer (``Response``), one difference (``Difference``), and headers.

Headers may be given as ``(str, str)`` or ``(bytes, bytes)`` pairs (the router's own form is bytes, as ASGI
has them); bytes are decoded as latin-1, names compared case-insensitively, repeated headers joined with
", ". Anything with ``status``, ``headers`` and ``body`` attributes can be compared (``ResponseLike``;
``router.addons.shadow.Exchange`` can, as is).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

HeaderPairs = Sequence[tuple[str, str]] | Sequence[tuple[bytes, bytes]]


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
        pairs = header_pairs(headers or ())
        if not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("content-type", "application/json"))
        return cls(status, pairs, orjson.dumps(data))


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


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def header_pairs(headers: HeaderPairs) -> list[tuple[str, str]]:
    """The pairs as text."""
    return [(header_text(name), header_text(value)) for name, value in headers]


def header_text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def compared_headers(pairs: HeaderPairs, wanted: frozenset[str]) -> dict[str, str]:
    """The ``wanted`` headers (lower-case names), values trimmed, repeats joined with ", "; ``content-type``
    also without spaces and in lower case."""
    found: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = header_text(raw_name).lower()
        if name in wanted:
            value = header_text(raw_value).strip()
            if name == "content-type":
                value = value.replace(" ", "").lower()
            found[name] = f"{found[name]}, {value}" if name in found else value
    return found


def content_type(pairs: HeaderPairs) -> str | None:
    for name, value in pairs:
        if header_text(name).lower() == "content-type":
            return header_text(value).lower()
    return None
