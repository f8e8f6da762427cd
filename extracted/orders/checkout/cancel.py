"""Cancelling an order, as a durable workflow (DBOS, like the checkout): the shipment is cancelled at shipping
(the monolith's), the order is marked ``cancelled`` with its ``orders.order.cancelled`` event, and its stock
goes back to the catalog, once (a return keyed by the order).

The order of the steps is the monolith's rule: a shipment already on its way cannot be cancelled, and then
nothing is (its 409 ``invalid_transition``, answered as shipping gave it). Once the shipment is cancelled the
rest must happen: the local write and the stock return are retried until they do, across restarts.

One workflow per order (``cancel-<order id>``): a cancel asked twice, or asked again after a crash, is the same
workflow and the same answer. Whether the order may be cancelled at all (placed or processing) is checked by the
handler before the workflow starts, as the monolith checks it first.
"""

from __future__ import annotations

from typing import Any, Final

from dbos import DBOS
from dbos._error import DBOSMaxStepRetriesExceeded

from extracted.orders.checkout import records
from extracted.orders.checkout.calls import Refused, frozen_refusal
from extracted.orders.checkout.crashpoints import reached
from extracted.orders.checkout.runtime import runtime
from extracted.orders.checkout.saga import BACKWARD, FORWARD


@DBOS.step(name="orders.cancel.cancel_shipment", **FORWARD)
def cancel_shipment(order_id: int) -> dict[str, Any] | None:
    shipment = runtime().calls.cancel_shipment(order_id)
    reached("cancel.after_cancel_shipment")
    return shipment


@DBOS.step(name="orders.cancel.mark_cancelled", **BACKWARD)
def mark_cancelled(order_id: int) -> dict[int, int]:
    records.mark_cancelled(runtime().engine, order_id)
    reached("cancel.after_mark_cancelled")
    return records.order_lines_of(runtime().engine, order_id)


@DBOS.step(name="orders.cancel.return_stock", **BACKWARD)
def return_stock(order_id: int, quantities: dict[int, int]) -> None:
    if quantities:
        runtime().calls.return_stock(quantities, f"cancel-{order_id}")
    reached("cancel.after_return_stock")


@DBOS.workflow(name="orders.cancel", max_recovery_attempts=50)
def cancel(order_id: int) -> dict[str, Any]:
    try:
        shipment = cancel_shipment(order_id)
    except Refused as refused:
        return {"refused": refused.status, "body": refused.body}
    except DBOSMaxStepRetriesExceeded as why:
        frozen = frozen_refusal(why.errors, "The order could not be cancelled")
        if frozen is not None:
            return frozen
        return {"refused": 503, "body": {"detail": UNAVAILABLE, "code": "cancel_unavailable"}}
    quantities = mark_cancelled(order_id)
    return_stock(order_id, quantities)
    return {"cancelled": order_id, "shipment": shipment}


UNAVAILABLE: Final = "The order could not be cancelled now: shipping did not answer. Nothing was changed; try again."
