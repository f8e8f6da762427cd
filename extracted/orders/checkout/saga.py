"""Checkout as a durable saga (DBOS Transact: each step's result is recorded in the system database; a process
killed mid-way runs the workflow again on restart, skipping the recorded steps; docs/saga_decision.md).

The steps, each with the compensation that undoes it when a later step fails:

=============================  ==========================================  ====================================
step                           what it does                                compensation
=============================  ==========================================  ====================================
``read_cart``                  the user's cart lines (the cart service)    (none: a read)
``reserve``                    takes the stock, for a while (the catalog)  ``release`` (by the checkout's key)
``create_order_and_clear_cart`` the order, ``pending`` (this database);    ``drop_order``; ``restore_cart``
                               then the cart emptied (the cart, keyed)
``request_shipment``           the order's shipment (shipping's owner)     ``cancel_shipment``
``commit_and_place``           the stock kept for good (the catalog), then (the point of no return: retried
                               the order ``placed`` with its event         until it happens)
=============================  ==========================================  ====================================

Each boundary between steps is a synced record in DBOS's system database, so steps that are each safe to run
again are taken together where nothing is gained by recording between them.

A step that gets no usable answer (:class:`~.calls.Unreachable`) is retried with backoff; once its tries run
out (before the commit), or at once when an owner refuses (:class:`~.calls.Refused`: out of stock, an expired
reservation, a cart that changed under the checkout), the saga runs the compensations of the steps begun, newest
first, and ends with the refusal the client is told. Compensations are retried far longer: they must happen. Every call
carries the checkout's key, so a step run twice (a crash after its effect, before its record) does its
effect once. A checkout that dies for good leaves its reservation to expire by itself (the catalog's sweeper).

The workflow's result is plain data: ``{"placed": order id, "shipment": {...}}`` or ``{"refused": status,
"body": {...}}`` (with ``"retry_after"`` when an owner's write freeze outlasted a step's tries).
Crash points (``ORDERS_CRASH_AT=checkout.after_reserve``, see :mod:`.crashpoints`) sit inside each step after
its effect, before DBOS records it: the worst moment to die.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from dbos import DBOS
from dbos._error import DBOSMaxStepRetriesExceeded

from extracted.orders.checkout import records
from extracted.orders.checkout.calls import Refused, Unreachable, frozen_refusal
from extracted.orders.checkout.crashpoints import failing, reached
from extracted.orders.checkout.runtime import runtime

RESERVATION_TTL: Final = 900.0   # far longer than a checkout; the safety net when a saga dies for good
EMPTY_CART: Final = {"cart": ["Your cart is empty."]}
CART_CHANGED: Final = "Your cart changed while the order was being placed; please try again."


def _not_refused(exc: BaseException) -> bool:
    return not isinstance(exc, Refused)


FORWARD: Final[dict[str, Any]] = {"retries_allowed": True, "max_attempts": 4, "interval_seconds": 0.2,
                                  "backoff_rate": 2.0, "should_retry": _not_refused}
# A compensation (and the commit, and placing the order, past the point of no return) that cannot reach its owner
# keeps trying every second for ten minutes (DBOS grows a retry's interval by the backoff rate, capped only at an
# hour: constant is what keeps the tries frequent); the workflow stays pending meanwhile and resumes after a restart.
BACKWARD: Final[dict[str, Any]] = {"retries_allowed": True, "max_attempts": 600, "interval_seconds": 1.0,
                                   "backoff_rate": 1.0, "should_retry": _not_refused}


@DBOS.step(name="orders.checkout.read_cart", **FORWARD)
def read_cart(user_id: int) -> dict[int, int]:
    return runtime().calls.cart_lines(user_id)


@DBOS.step(name="orders.checkout.reserve", **FORWARD)
def reserve(workflow_id: str, quantities: dict[int, int]) -> dict[str, Any]:
    reservation = runtime().calls.reserve(quantities, workflow_id, RESERVATION_TTL)
    failing("checkout.reserve.answer_lost")
    reached("checkout.after_reserve")
    return reservation


@DBOS.step(name="orders.checkout.release", **BACKWARD)
def release(workflow_id: str) -> None:
    """The reservation made with this checkout's key, if any (the reserve's answer may have been lost)."""
    runtime().calls.release_key(workflow_id)
    reached("checkout.after_release")


@DBOS.step(name="orders.checkout.create_order_and_clear_cart", **FORWARD)
def create_order_and_clear_cart(workflow_id: str, user_id: int, shipping: dict[str, str],
                                quantities: dict[int, int], products: dict[int, dict[str, Any]]
                                ) -> tuple[int, list[dict[str, Any]]]:
    """The pending order (this database), then the cart emptied (keyed): one step, one record less, both safe to
    run again (the order is found, the clear answers what it took)."""
    order_id = records.create_order(runtime().engine, workflow_id, user_id, shipping, quantities, products)
    reached("checkout.after_create_order")
    lines = runtime().calls.clear_cart(user_id, f"{workflow_id}:clear")
    failing("checkout.clear_cart.answer_lost")
    reached("checkout.after_clear_cart")
    return order_id, lines


@DBOS.step(name="orders.checkout.drop_order", **BACKWARD)
def drop_order(workflow_id: str) -> None:
    records.drop_order(runtime().engine, workflow_id)


@DBOS.step(name="orders.checkout.restore_cart", **BACKWARD)
def restore_cart(workflow_id: str, user_id: int) -> None:
    """Puts back what the keyed clear took: asked again with its key, the clear answers the lines it took (and
    takes them now if it never ran, so that they go back just the same)."""
    calls = runtime().calls
    lines = calls.clear_cart(user_id, f"{workflow_id}:clear")
    calls.restore_cart(user_id, lines, f"{workflow_id}:restore")
    reached("checkout.after_restore_cart")


@DBOS.step(name="orders.checkout.request_shipment", **FORWARD)
def request_shipment(order_id: int, user_id: int, carrier: str) -> dict[str, Any]:
    failing("checkout.request_shipment")
    shipment = runtime().calls.request_shipment(order_id, user_id, carrier)
    reached("checkout.after_request_shipment")
    return shipment


@DBOS.step(name="orders.checkout.cancel_shipment", **BACKWARD)
def cancel_shipment(order_id: int) -> None:
    runtime().calls.cancel_shipment(order_id)


COMMIT_STEP: Final = "orders.checkout.commit_and_place"


@DBOS.step(name=COMMIT_STEP, **BACKWARD)
def commit_and_place(reservation_id: str, order_id: int, shipment: dict[str, Any]) -> None:
    """Past the point of no return, in one step (each part safe to run again): the reservation committed at the
    catalog, then the order placed with its event. An expired reservation is refused (the saga compensates) only
    before anything here was done."""
    runtime().calls.commit(reservation_id)
    reached("checkout.after_commit")
    records.place_order(runtime().engine, order_id, shipment)
    reached("checkout.after_place_order")


def _lines(lines: list[dict[str, Any]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for line in lines:
        out[line["product"]] = out.get(line["product"], 0) + line["quantity"]
    return out


@DBOS.workflow(name="orders.checkout", max_recovery_attempts=50)
def checkout(workflow_id: str, user_id: int, shipping: dict[str, str], carrier: str) -> dict[str, Any]:
    """The saga; deterministic between its steps (DBOS replays it from the top after a crash).

    A step's compensation is registered *before* the step runs: a step whose tries ran out may still have had
    its effect (its last answer lost), and each compensation is safe when its step did nothing (release by key,
    restore what the keyed clear took, cancel a shipment that may not exist, drop an order that may not exist).
    ``commit`` is the point of no return: it and ``place_order`` are retried until they happen, never undone
    (a commit whose answer was lost may have kept the stock; undoing then would lose it)."""
    undo: list[tuple[str, tuple[Any, ...]]] = []
    try:
        quantities = read_cart(user_id)
        if not quantities:
            return {"refused": 400, "body": EMPTY_CART}
        undo.append(("release", (workflow_id,)))
        reservation = reserve(workflow_id, quantities)
        products = {p["product"]: p for p in reservation["products"]}
        undo.append(("drop_order", (workflow_id,)))
        undo.append(("restore_cart", (workflow_id, user_id)))
        order_id, cleared = create_order_and_clear_cart(workflow_id, user_id, shipping, quantities, products)
        if _lines(cleared) != quantities:   # the cart changed between the read and the clear (another tab)
            raise Refused(409, {"detail": CART_CHANGED, "code": "conflict"}, "cart")
        undo.append(("cancel_shipment", (order_id,)))
        shipment = request_shipment(order_id, user_id, carrier)
        commit_and_place(reservation["id"], order_id, shipment)
    except (Refused, DBOSMaxStepRetriesExceeded) as why:
        if isinstance(why, DBOSMaxStepRetriesExceeded) and why.step_name == COMMIT_STEP:
            raise   # no answer for ten minutes past the point of no return: the workflow fails (visible,
            #         resumable), never undoes a commit that may have happened
        for name, args in reversed(undo):
            COMPENSATIONS[name](*args)
        if isinstance(why, Refused):
            return {"refused": why.status, "body": why.body}
        frozen = frozen_refusal(why.errors, "The order could not be placed")
        if frozen is not None:
            return frozen
        return {"refused": 503, "body": {"detail": _unavailable(why), "code": "checkout_unavailable"}}
    return {"placed": order_id, "shipment": shipment}


COMPENSATIONS: Final[dict[str, Callable[..., None]]] = {
    "release": release, "drop_order": drop_order, "restore_cart": restore_cart, "cancel_shipment": cancel_shipment}


def _unavailable(why: DBOSMaxStepRetriesExceeded) -> str:
    last = why.errors[-1] if why.errors else None
    owner = str(last).split(":", 1)[0] if isinstance(last, Unreachable) else "a service"
    return (f"The order could not be placed: {owner} did not answer. Nothing was ordered and your cart is as it "
            "was; try again shortly.")
