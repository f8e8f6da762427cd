"""The order's writes that span owners, as durable workflows: ``POST /api/orders/{id}/cancel/`` (:mod:`.cancel`)
and ``POST /api/orders/checkout/``: the monolith's contract (the body its CheckoutSerializer takes, 201 and the
order as its OrderSerializer renders it, 400/409 as it refuses), run as the durable saga of :mod:`.saga`.

``Idempotency-Key`` (optional, 1 to 200 printable characters): a request sent again with the key of an earlier
one, by the same user, gets that checkout's answer (the same order, or the same refusal), and nothing is done
twice, even when the first is still running or the service died under it; the same key with another body is a
422 ``idempotency_key_reused``. Without a key every request is a checkout of its own, as in the monolith.

The handler waits for the saga at most :data:`WAIT_SECONDS`; a saga still running then is a 503
``checkout_pending`` (the client asks again with its key and gets the outcome).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

from dbos import DBOS, SetWorkflowID, WorkflowHandle
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from extracted.orders.apis import order_object
from extracted.orders.checkout import cancel, records, saga, validation
from extracted.orders.checkout.calls import Unreachable
from extracted.orders.checkout.runtime import running, runtime
from extracted.orders.errors import (
    CheckoutPending,
    CheckoutUnavailable,
    Declined,
    IdempotencyKeyReused,
    InvalidTransition,
    NotYet,
    OwnerFrozen,
)
from extracted.orders.exceptions import NotAuthenticated, ValidationFailed
from extracted.orders.identity import Caller
from extracted.orders.parsers import read_body
from extracted.orders.rendering import json_response, order_dict, order_number
from extracted.orders.resources import State
from extracted.orders.selectors import Scope

WAIT_SECONDS: Final = 20.0
POLL_SECONDS: Final = 0.1
MAX_KEY: Final = 200
KEY_HEADER: Final = "idempotency-key"
CANCEL_PENDING: Final = ("Your order is still being cancelled. Send the same request again to learn how it ended; "
                         "it will not be done twice.")


def _key(request: Request) -> str:
    key = request.headers.get(KEY_HEADER)
    if key is None:
        return f"auto-{uuid.uuid4().hex}"   # no key: a checkout of its own, never matched by another request
    if not 1 <= len(key) <= MAX_KEY or not key.isprintable():
        raise ValidationFailed({"idempotency_key": [f"Send an Idempotency-Key header of 1 to {MAX_KEY} printable "
                                                    "characters, the same for every retry of one checkout."]})
    return key


def workflow_id(user_id: int, key: str) -> str:
    return f"checkout-{user_id}-{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def _start(wid: str, user_id: int, shipping: dict[str, str], carrier: str) -> WorkflowHandle[dict[str, Any]]:
    with SetWorkflowID(wid):   # a workflow with this id already: DBOS attaches to it (and to its result)
        return DBOS.start_workflow(saga.checkout, wid, user_id, shipping, carrier)


async def _finished(handle: WorkflowHandle[dict[str, Any]]) -> bool:
    """Waits up to :data:`WAIT_SECONDS` for the workflow to end, holding no thread while it waits (a saga retrying
    a lost owner for minutes must not take a thread per client asking): on the future of a workflow this process
    runs, else by polling its status (a workflow another executor runs)."""
    future = getattr(handle, "future", None)
    if isinstance(future, concurrent.futures.Future):
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), WAIT_SECONDS)
        except asyncio.TimeoutError:
            return False
        except Exception:  # noqa: BLE001, S110 - it ended, failing: get_result raises it again
            pass
        return True
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        status = await run_in_threadpool(DBOS.get_workflow_status, handle.get_workflow_id())
        if status is not None and status.status not in ("PENDING", "ENQUEUED"):
            return True
        await asyncio.sleep(POLL_SECONDS)
    return False


async def _outcome(handle: WorkflowHandle[dict[str, Any]], pending: str | None = None) -> dict[str, Any]:
    """The workflow's result, waited for at most :data:`WAIT_SECONDS` (then 503 with ``pending`` as its detail);
    a refusal raised as its answer."""
    if not await _finished(handle):
        raise CheckoutPending(pending)
    try:
        result = await run_in_threadpool(handle.get_result)
    except Exception as exc:  # noqa: BLE001 - the workflow itself failed (a compensation that ran out of tries)
        raise CheckoutUnavailable(f"The request could not finish ({type(exc).__name__}); it is being put right. "
                                  "Ask again with the same Idempotency-Key.") from None
    if "retry_after" in result:
        raise OwnerFrozen(str(result["body"]["detail"]), str(result["retry_after"]))
    if "refused" in result:
        raise Declined(int(result["refused"]), result["body"])
    return result


async def order_checkout(request: Request, caller: Caller | None, state: State) -> Response:
    if caller is None:   # the view's permission refused anonymous callers already
        raise NotAuthenticated()
    return await _checkout(request, caller.user_id, state)


async def internal_checkout(request: Request, caller: Caller | None, state: State) -> Response:
    """``POST /api/orders/internal/checkout/`` (``X-Service-Token``): the monolith's checkout page, once the
    orders are cut over; the user is the body's ``user`` (the page's signed-in user), the rest as the public one."""
    load = await read_body(request)
    user_id = validation.internal_user(load())
    return await _checkout(request, user_id, state, load)


async def _checkout(request: Request, user_id: int, state: State, load: Callable[[], Any] | None = None
                    ) -> Response:
    if not running():
        raise NotYet("This orders service runs without its checkout saga: checkout is the monolith's here.")
    load = load or await read_body(request)
    address_id, inline, carrier = validation.validate(load())
    key = _key(request)
    if address_id is not None:
        try:
            found = await run_in_threadpool(runtime().calls.saved_address, user_id, address_id)
        except Unreachable as exc:
            if exc.frozen is not None:
                raise OwnerFrozen("The order could not be placed: the address book is moving its data for a few "
                                  "seconds. Nothing was ordered; try again shortly.", exc.frozen) from None
            raise CheckoutUnavailable(f"The address book did not answer ({exc}); nothing was ordered.") from None
        shipping = validation.saved_address(found)
    else:
        assert inline is not None
        shipping = inline
    wid = workflow_id(user_id, key)
    digest = validation.request_hash(shipping, carrier, address_id)
    if await run_in_threadpool(records.take_on, state.engine, wid, user_id, key, digest) is not None:
        raise IdempotencyKeyReused(f"The Idempotency-Key {key!r} was sent before with another request; use a new "
                                   "key for a new checkout.")
    handle = await run_in_threadpool(_start, wid, user_id, shipping, carrier)
    result = await _outcome(handle)
    view = await state.read(state.reader.order, Scope(user_id=user_id, staff=True), int(result["placed"]))
    shipment = result["shipment"]
    snapshot = view.shipment or (shipment["id"], view.row[0], shipment["carrier"], shipment["tracking_number"],
                                 shipment["status"])
    return json_response(order_dict(view.row, view.lines, snapshot), 201)


def _start_cancel(order_id: int) -> WorkflowHandle[dict[str, Any]]:
    with SetWorkflowID(f"cancel-{order_id}"):
        return DBOS.start_workflow(cancel.cancel, order_id)


async def order_cancel(request: Request, caller: Caller | None, state: State) -> Response:
    """``POST /api/orders/{id}/cancel/``: the monolith's cancel (the caller's order, else 404; 409
    ``invalid_transition`` unless placed or processing), then the cancel workflow; 200 and the order."""
    view = await order_object(request, caller, state)
    if not running():
        raise NotYet("This orders service runs without its sagas: cancel is the monolith's here.")
    status = view.row[2]
    if status not in records.CANCELLABLE:
        raise InvalidTransition(f"Order {order_number(view.row[0])} is {status} and can no longer be cancelled.",
                       current=status)
    handle = await run_in_threadpool(_start_cancel, int(view.row[0]))
    result = await _outcome(handle, CANCEL_PENDING)
    scope = Scope(user_id=caller.user_id if caller else 0, staff=True)
    view = await state.read(state.reader.order, scope, int(result["cancelled"]))
    shipment = result.get("shipment")
    snapshot = (shipment["id"], view.row[0], shipment["carrier"], shipment["tracking_number"], shipment["status"]
                ) if shipment else view.shipment
    return json_response(order_dict(view.row, view.lines, snapshot))
