"""Named points where a test kills the process on purpose (``ORDERS_CRASH_AT=checkout.after_reserve``): the sagas
are proved by SIGKILLing the service inside a step, after its effect and before DBOS records it. The mechanism
is the events package's; the variable is the sagas' own."""

from __future__ import annotations

from extracted.orders.events import crashpoints

ENV_VAR = "ORDERS_CRASH_AT"


def reached(name: str) -> None:
    crashpoints.reached(name, ENV_VAR)
