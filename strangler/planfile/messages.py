"""Plan-file problems in words: pydantic's errors turned into ``key path: what was expected, got what``.

A user reads these, not a developer: ``steps[6].canary.percent: expected a number, got True`` rather than
``Input should be a valid number``, and an unknown key says which known key was probably meant
(``steps[6].canary.percnt: unknown key (did you mean 'percent'?)``), since most unknown keys are typos.
The key path is built by walking the validated type along pydantic's error location, so list items read
``[i]``, mapping entries and fields ``.name``, whatever the nesting.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

Problem = tuple[str, str]  # (key path, message); the file is named by whoever reports them

_EXPECTED = {
    "float_type": "a number", "int_type": "an integer", "int_from_float": "an integer", "string_type": "a string",
    "bool_type": "true or false", "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "finite_number": "a finite number",
}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="), "less_than": ("lt", "<"),
           "less_than_equal": ("le", "<=")}


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def unknown_key(key: Any, known: Iterable[str]) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6) if isinstance(key, str) else []
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return f"unknown key (known: {', '.join(names)})" if names else "unknown key"


def unknown_name(what: str, value: Any, known: Iterable[str]) -> str:
    """``unknown step 'verfy' (did you mean 'verify'?)`` / ``(known: ...)``."""
    names = sorted(known)
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6) if isinstance(value, str) else []
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(names)}"
    return f"unknown {what} {show(value)} ({hint})"


def join(prefix: str, path: str) -> str:
    return (prefix + path).lstrip(".")


def _unwrap(tp: Any) -> Any:
    """The type under ``Annotated[...]`` and ``X | None``."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


def _walk(root: Any, loc: tuple[int | str, ...]) -> tuple[str, Any]:
    """The key path of ``loc`` under ``root`` (``.name``, ``[i]``) and the type found there (None: unknown)."""
    tp: Any = root
    text = ""
    for part in loc:
        tp = _unwrap(tp)
        origin = get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            text += f".{part}"
            tp = field.annotation if field is not None else None
        elif origin is list:
            text += f"[{part}]"
            tp = get_args(tp)[0]
        elif origin is dict:
            if part == "[key]":  # the key itself failed, not its value
                tp = get_args(tp)[0]
                continue
            text += f".{part}"
            tp = get_args(tp)[1]
        else:
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
            tp = None
    return text, tp


def describe(error: ErrorDetails, root: Any, prefix: str) -> Problem:
    """One pydantic error of validating ``root`` (a model or type) at key path ``prefix``, in words."""
    loc = tuple(error["loc"])
    kind, ctx, got = error["type"], error.get("ctx") or {}, show(error.get("input"))
    if kind == "extra_forbidden":
        path, _ = _walk(root, loc)
        _, parent = _walk(root, loc[:-1])
        parent = _unwrap(parent)
        known = list(parent.model_fields) if isinstance(parent, type) and issubclass(parent, BaseModel) else []
        return join(prefix, path), unknown_key(loc[-1], known)
    path, leaf = _walk(root, loc)
    field = join(prefix, path)
    if kind == "missing":
        return field, "required"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return field, str(ctx["error"])
    if kind in _EXPECTED:
        return field, f"expected {_EXPECTED[kind]}, got {got}"
    if kind in _BOUNDS:
        key, op = _BOUNDS[kind]
        what = "an integer" if _unwrap(leaf) is int else "a number"
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # "> 0", not "> 0.0": the file said 0
        return field, f"expected {what} {op} {bound}, got {got}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return field, f"expected at least {n} item{'s' if n != 1 else ''}, got {got}"
    if kind == "literal_error":
        return field, f"expected {ctx.get('expected')}, got {got}"
    return field, f"{error['msg']} (got {got})"


def describe_all(errors: Iterable[ErrorDetails], root: Any, prefix: str) -> list[Problem]:
    return [describe(e, root, prefix) for e in errors]
