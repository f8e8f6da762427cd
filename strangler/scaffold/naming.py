"""Names the scaffold gives: a model's table in the service (``Product`` -> ``products``, ``CartItem`` ->
``cart_items``), and names that must be Python identifiers."""

from __future__ import annotations

import keyword
import re

_WORDS = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name: str) -> str:
    return _WORDS.sub("_", name).lower()


def plural(word: str) -> str:
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def service_table(model_name: str) -> str:
    """The service's table for a model: its name in snake case, plural (the app prefix goes: the service
    holds one app)."""
    return plural(snake(model_name))


def is_identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and name == name.lower()
