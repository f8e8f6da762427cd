"""What every schema of the router shares: the strict pydantic base, header names, the wording of a refusal.

The routes file (``router.config``) and the comparison rules (``router.parity.rules``) are both ``Spec``
models, and both word their problems with ``describe``: the dotted key path, then what is wrong with the
value, e.g. ``routes.catalog.canary: 140 is not a percentage (0-100)`` or ``ignore[1]: 'results.price' is not
a JSON path``. Values are shown truncated (``show``), so a refusal never prints a whole file back.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

MAX_SHOWN = 60  # characters of a value shown in a problem
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token: methods and header names


class Spec(BaseModel):
    # strict: no coercion (true is not 1 second, 5 is not "5"); ints are still numbers where floats are meant
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def show(value: Any) -> str:
    """``repr(value)``, cut to ``MAX_SHOWN`` characters: what a problem shows of a value."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def header_name(value: str) -> str:
    """A header name (an RFC 9110 token of at most 256 characters), in lower case."""
    if not TOKEN.match(value) or len(value) > 256:
        raise ValueError(f"{show(value)} is not a valid header name")
    return value.lower()


def key_text(key: str) -> str:
    """A key as a problem names it, cut to ``MAX_SHOWN`` characters."""
    return key if len(key) <= MAX_SHOWN else key[:MAX_SHOWN - 3] + "..."


def key_path(parts: list[Any] | tuple[Any, ...], where: str = "") -> str:
    """``("routes", "r", "shadow", "ignore", 0)`` as ``routes.r.shadow.ignore[0]`` (after ``where``, if any)."""
    out = where
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{key_text(str(part))}" if out else key_text(str(part)))
    return out


# pydantic's type errors, in words: "expected a number, got True" rather than "Input should be a valid number"
_EXPECTED = {
    "float_type": "a number", "int_type": "an integer", "int_from_float": "an integer",
    "string_type": "a string", "bool_type": "true or false", "list_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "finite_number": "a finite number",
}


def describe(error: Any, where: str = "") -> str:
    """One pydantic error as a problem: where it is (``where`` then the key path), and what is wrong."""
    parts = list(error["loc"])
    if parts and parts[-1] == "[key]":  # a mapping's key itself is wrong (routes: {1: ...})
        return f"{key_path(parts[:-2], where) or '(top level)'}: {show(error.get('input'))} is not a name " \
               "(expected a string)"
    loc = key_path(parts, where) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{loc}: unknown key"
    if kind == "missing":
        return f"{loc}: required"
    if kind.startswith("value_error"):
        return f"{loc}: {message}"
    if kind in _EXPECTED:
        return f"{loc}: expected {_EXPECTED[kind]}, got {show(error.get('input'))}"
    if kind == "too_long" and isinstance(error.get("input"), dict):
        ctx = error.get("ctx") or {}
        return f"{loc}: at most {ctx.get('max_length')} entries, got {len(error['input'])}"
    return f"{loc}: {message} (got {show(error.get('input'))})"
