"""The values a plan file holds, each with its rule: identifiers (and keys: one column or a list), names (and
routes: one name or a list), URLs, commands, JSON paths, header names, and the strict base every section's model
derives from (:class:`Spec`).

The rules that the router also applies are the router's own (names, environment variables, JSON paths), so
a plan and the router's table can never disagree about what a valid one is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from router.compare import PathError, parse_path
from router.config import NAME as ROUTER_NAME
from router.config.values import check_env_name
from strangler.planfile.messages import show

IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,63}$")  # a SQL name we can quote anywhere, within PostgreSQL's 63
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
DATABASE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(f"{show(value)} is not a plain identifier (letters, digits, underscore; at most 63)")
    return value


def _name(value: str) -> str:
    if not ROUTER_NAME.match(value):  # the router's own rule for route and backend names
        raise ValueError(f"{show(value)} is not a name (letters, digits, - and _, starting with a letter or "
                         "digit; at most 63)")
    return value


def _one_or_more(value: Any, check: Callable[[str], str], what: str) -> Any:
    """One ``what`` or a non-empty list of them, as a tuple (each item is then checked by the list's item type).
    A single one is checked here with ``check``, so its problem names the key itself, not ``[0]``."""
    if isinstance(value, str):
        return (check(value),)
    if isinstance(value, (list, tuple)) and value:  # a tuple: from Python (YAML gives lists)
        return tuple(value)
    raise ValueError(f"expected a {what} or a non-empty list of {what}s, got {show(value)}")


def _routes(value: Any) -> Any:
    """One route name or a non-empty list of them, as a tuple (each item is then checked as a :data:`Name`).
    A single name is checked here, so its problem names the key itself (``endpoints.reads``, not ``[0]``)."""
    return _one_or_more(value, _name, "route name")


def _routes_or_none(value: Any) -> Any:
    return () if value is None else _routes(value)  # `writes:` left empty: no route, as before lists


def _key(value: Any) -> Any:
    """A table's key: one column or a non-empty list of them (a composite key), as a tuple (each item is then
    checked as an :data:`Identifier`). A single column is checked here, so its problem names the key itself
    (``tables[0].key``, not ``[0]``); a column named twice is the reader's to refuse (``tables[0].key[1]``)."""
    return _one_or_more(value, _identifier, "column name")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {show(value)}")
    return value


def _database_url(value: str) -> str:
    if not DATABASE_URL.match(value):
        raise ValueError(f"expected a database URL such as sqlite:///var/x.sqlite3 or postgresql://host/db, "
                         f"got {show(value)}")
    return value


def _argv(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("expected at least one argument (the program to run), got []")
    if not value[0].strip():
        raise ValueError(f"the program to run (the first argument) is empty: {show(value)}")
    return value


def _url_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"expected a path starting with '/', got {show(value)}")
    return value


def _json_path(value: str) -> str:
    try:
        parse_path(value)  # the router's own parser: the rule must mean the same thing there
    except PathError as exc:
        raise ValueError(str(exc)) from None
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError(f"expected a non-empty string, got {show(value)}")
    return value


def _header_name(value: str) -> str:
    if not HEADER_NAME.match(value):
        raise ValueError(f"{show(value)} is not an HTTP header name")
    return value.lower()


Identifier = Annotated[str, AfterValidator(_identifier)]
Name = Annotated[str, AfterValidator(_name)]
Routes = Annotated[tuple[Name, ...], BeforeValidator(_routes)]  # `name` or `[name, ...]`, held as a tuple
RoutesOrNone = Annotated[tuple[Name, ...], BeforeValidator(_routes_or_none)]  # also null: none, ()
KeyColumns = Annotated[tuple[Identifier, ...], BeforeValidator(_key)]  # `id` or `[order_id, line_no]`, a tuple
EnvName = Annotated[str, AfterValidator(check_env_name)]  # the router's rule
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Argv = Annotated[list[str], AfterValidator(_argv)]
Text = Annotated[str, AfterValidator(_non_empty)]
Positive = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0)]
Rate = Annotated[float, Field(ge=0, le=1)]
JsonPath = Annotated[str, AfterValidator(_json_path)]
UrlPath = Annotated[str, AfterValidator(_url_path)]
HeaderName = Annotated[str, AfterValidator(_header_name)]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
