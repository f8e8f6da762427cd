"""Named points where a test makes the sagas fail on purpose:

- ``ORDERS_CRASH_AT=checkout.after_reserve``: SIGKILL the process there (inside a step, after its effect and
  before DBOS records it: the worst moment to die). The mechanism is the events package's; the variable is ours.
- ``ORDERS_FAIL_AT=checkout.request_shipment``: the step's call fails as if its owner did not answer (every try),
  so the saga compensates; the owners themselves stay up. ``checkout.reserve.answer_lost`` and
  ``checkout.clear_cart.answer_lost`` fail *after* the call has had its effect: the answer lost on every try.

Unset, a point costs one lookup.
"""

from __future__ import annotations

import os

from extracted.orders.checkout.calls import Unreachable
from extracted.orders.events import crashpoints

ENV_VAR = "ORDERS_CRASH_AT"
FAIL_VAR = "ORDERS_FAIL_AT"


def reached(name: str) -> None:
    crashpoints.reached(name, ENV_VAR)


def failing(name: str) -> None:
    wanted = os.environ.get(FAIL_VAR)
    if wanted and name in wanted.split(","):
        raise Unreachable(f"{name}: failed on purpose ({FAIL_VAR})")
