"""Loading a routes file (YAML) into a ``RouteTable``, refusing bad files with the file, field and value.

The YAML is read by ``router.safeyaml``: duplicate keys (a second route of the same name would silently
replace the first), aliases (an "alias bomb" expands a few lines into billions of values), nesting deeper
than 64 levels, files over 1 MB and bytes that are not UTF-8 are refused, naming the line.

The schema is pydantic models: unknown keys are errors (a typo never silently does nothing) and types are
strict (no ``true`` where seconds are meant, no number where a string is, URLs are http(s) with a host).
Cross-references (backend names, the default) and ambiguities (two routes equally specific for one request)
are checked after the schema, and every problem is reported at once, e.g.::

    routes.yaml: routes.catalog.canary: 140 is not a percentage (0-100)
    routes.yaml: routes.catalog.fallback: 'monolth' is not a backend (known: catalog, monolith)
    routes.yaml: backends.catalog.timeouts.connect: expected a number, got True
    routes.yaml: routes.catalog.shadow.ignore[0]: 'results.price' is not a JSON path: it must start with '$' ...
    routes.yaml: line 14, column 3: routes.catalog: route 'catalog' is defined twice (first at line 9)

Values are shown truncated (``show``), and so is every problem (``MAX_PROBLEM``), so a refusal never
prints a whole file back.

Modules (import from here; this package's names are its public API):

    values.py     the values checked (names, tokens, sizes, URLs, methods), the limits, ``refused``
    backends.py   the schema of ``backends:``
    routes.py     the schema of ``routes:`` (with ``shadow:``) and ``parity:``; comparison rules are the one
                  rule model, ``router.parity.rules.RulesSpec``
    settings.py   the schema of the file's top level, ``admin:`` and ``identity:``
    tables.py     the checked file into a ``RouteTable``; ambiguities and unreachable routes
    loading.py    bytes -> YAML -> schema -> checks -> ``RouterConfig`` (``load``, ``parse``, ...)

Errors are ``router.exceptions.ConfigError``; the wording of a problem is ``router.validation``'s.
"""

from __future__ import annotations

from router.config.backends import BackendSpec, CircuitSpec, HealthSpec, TimeoutSpec
from router.config.loading import RouterConfig, load, parse, parse_bytes, parse_data, read
from router.config.routes import HeaderSpec, ParitySpec, RouteSpec, ShadowSpec
from router.config.settings import AdminSpec, CanarySpec, FileSpec, IdentitySpec
from router.config.tables import unreachable_routes
from router.config.values import (
    MAX_BACKENDS,
    MAX_BYTES,
    MAX_PATH,
    MAX_PROBLEM,
    MAX_PROBLEMS,
    MAX_ROUTES,
    MAX_TARGETS,
    NAME,
    refused,
)
from router.parity.rules import RulesSpec
from router.validation import MAX_SHOWN, TOKEN, Spec, show

__all__ = [
    "MAX_BACKENDS", "MAX_BYTES", "MAX_PATH", "MAX_PROBLEM", "MAX_PROBLEMS", "MAX_ROUTES", "MAX_SHOWN",
    "MAX_TARGETS", "NAME", "TOKEN", "AdminSpec", "BackendSpec", "CircuitSpec", "FileSpec", "HeaderSpec",
    "CanarySpec", "HealthSpec", "IdentitySpec", "ParitySpec", "RouteSpec", "RouterConfig", "RulesSpec",
    "ShadowSpec", "Spec",
    "TimeoutSpec", "load", "parse", "parse_bytes", "parse_data", "read", "refused", "show", "unreachable_routes",
]
