"""Comparing: every difference between two answers to one request that the rules do not ignore.

- status: equal integers (a difference has path ``status``, kind ``status``);
- headers: only ``compared_headers`` (default: content-type, location), minus ``ignore_headers``; values
  compared after trimming; ``content-type`` also case- and whitespace-insensitively. Path ``header:<name>``,
  kind ``header``.
- body: equal bytes are equal (fast path). Otherwise, when either side says or looks like JSON and both
  parse, structurally: object key order does not count, numbers compare by value (``1 == 1.0``; a
  ``true`` is never ``1``), strings are strings (``"12.50" != "12.5"``: a decimal in a string stays text),
  lists are ordered unless their path is in ``unordered_lists`` (then compared as multisets). Other bodies
  compare as bytes (path ``body``, kind ``body``, excerpts around the first differing byte), after what the
  ``ignore_text`` regular expressions match is blanked out on both sides (a CSRF token, a rendered time).

Kinds of differences: ``status``, ``header``, ``value`` (same type, other value), ``type`` (other JSON
type), ``missing`` (a key or list item of ``expected`` absent from ``got``), ``extra`` (the reverse),
``order`` (the same items in another order where order counts; ``expected``/``got`` then hold, for
``got``'s items in order, their positions in ``expected``), ``body`` (non-JSON bodies differ),
``truncated`` (more than ``max_differences``; the rest were not listed).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson

from router.parity.answers import Difference, ResponseLike, compared_headers, content_type
from router.parity.jsonpath import Segment, format_path
from router.parity.rules import DEFAULT_RULES, Rules

EXCERPT = 120

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
    rules = rules or DEFAULT_RULES
    out: list[Difference] = []
    if expected.status != got.status:
        out.append(Difference("status", expected.status, got.status, "status"))
    wanted = rules._headers
    if wanted:
        mine, theirs = compared_headers(expected.headers, wanted), compared_headers(got.headers, wanted)
        if mine != theirs:
            for name in sorted(set(mine) | set(theirs)):
                a, b = mine.get(name), theirs.get(name)
                if a != b:
                    out.append(Difference(f"header:{name}", a, b, "header"))
    if expected.body != got.body:
        found_type = content_type(expected.headers) or content_type(got.headers)
        out.extend(compare_bodies(expected.body, got.body, rules, content_type=found_type))
    return out


def compare_bodies(expected: bytes, got: bytes, rules: Rules | None = None, *,
                   content_type: str | None = None) -> list[Difference]:
    rules = rules or DEFAULT_RULES
    if expected == got:
        return []
    if _jsonish(content_type, expected) or _jsonish(content_type, got):
        a, a_ok = _loads(expected)
        b, b_ok = _loads(got)
        if a_ok and b_ok:
            return compare_json(a, b, rules)
    if rules._ignore and rules.ignores(()):
        return []
    if rules._text:
        expected, got = rules.without_noise(expected), rules.without_noise(got)
        if expected == got:
            return []
    return [_bytes_difference(expected, got)]


def compare_json(expected: Any, got: Any, rules: Rules | None = None) -> list[Difference]:
    """Differences between two parsed JSON documents (paths from ``$``)."""
    collector = _Collector(rules or DEFAULT_RULES)
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
