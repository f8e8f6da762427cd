"""Route changes made at runtime: the admin API's ``PATCH /routes/{name}`` and a lease's ``on_expiry``.

Both go through here, so a change that expiry applies is exactly one that a PATCH would accept: the keys are
checked first (``check``), then the whole table with the changes is validated like the file (``edited``),
and only a valid table is swapped in, as one new version (``apply``): several routes change at once or not
at all.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from router.config import RouterConfig, parse_data
from router.control.state import TableHolder, Version
from router.exceptions import AdminError, ConfigError

EDITABLE = ("backend", "canary", "fallback", "shadow")

Changes = Mapping[str, Mapping[str, Any]]  # route name -> {key: new value, or None to remove the key}


def check(where: str, changes: Any) -> dict[str, Any]:
    """One route's changes as given (``where`` names them in errors: ``body``, ``on_expiry.catalog-writes``):
    an object with some of the editable keys. Values are checked with the whole table by ``edited``."""
    if not isinstance(changes, dict) or not changes:
        raise AdminError(400, f"{where}: must be a JSON object with some of: {', '.join(EDITABLE)}")
    if "freeze" in changes:
        # The old timer freeze: it lifted itself at a guessed deadline, even when the cutover was slower.
        raise AdminError(400, f"{where}.freeze: a route's writes are no longer frozen by a PATCH; take a lease "
                              "(POST /leases {\"freeze\": [routes], \"seconds\": TTL, \"holder\": ...}) and "
                              "renew it while the work lasts")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise AdminError(400, f"{where}: cannot change {', '.join(unknown)} here; editable: {', '.join(EDITABLE)}")
    return dict(changes)


def edited(config: RouterConfig, changes: Changes, *, source: str = "admin") -> RouterConfig:
    """``config`` with ``changes`` made, validated like the file; refused (400, with the problems) otherwise."""
    raw = copy.deepcopy(config.raw)
    routes = raw.get("routes") or {}
    missing = sorted(name for name in changes if name not in routes)
    if missing:
        raise AdminError(400, f"no route {', '.join(repr(n) for n in missing)} in the table in use "
                              f"(known: {', '.join(sorted(routes))})")
    for name, change in changes.items():
        for key, value in change.items():
            if value is None:
                routes[name].pop(key, None)
            else:
                routes[name][key] = value
    try:
        return parse_data(raw, source=source)
    except ConfigError as exc:
        raise AdminError(400, "change refused; the current table keeps serving", problems=exc.problems) from None


def apply(tables: TableHolder, changes: Changes, *, origin: str) -> Version:
    """Validates and swaps in one step (no await in between: no request sees half of it)."""
    return tables.swap(edited(tables.current, changes), origin=origin)
