"""The handlers of ``/api/shipping/``: thin, as the styleguide wants them. Reads go through
:mod:`.selectors` (the caller's scope and the list's filters), writes through :mod:`.services`; what runs before
a handler (negotiation, authentication, permission, method) is :class:`~.resources.Resource`'s.

The monolith's ``ShipmentViewSet`` (read-only, plus staff's ``status`` action) and its internal API for the orders
service's checkout saga (:mod:`legacy_monolith.shipping.internal`): a shipment per order, asked for and cancelled by
the order's id, the same answer however often a saga step runs again.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from . import services, validation
from .exceptions import NotAuthenticated, NotFound
from .filters import ShipmentFilter, shipment_filter
from .identity import Caller
from .pagination import page_count, page_links, page_size
from .parsers import read_body
from .rendering import internal_dict, json_response, shipment_dict
from .resources import State
from .selectors import Scope, ShipmentView
from .views import query_params

SHIPMENT_404: Final = services.SHIPMENT_404


def _scope(caller: Caller | None) -> Scope:
    """The monolith's ``selectors.shipment_list``: staff see every shipment, a customer their own."""
    if caller is None:  # the views' permission (IsAuthenticated, IsAdminUser) has refused anonymous callers
        raise NotAuthenticated()
    return Scope(user_id=caller.user_id, staff=caller.is_staff)


def _render(view: ShipmentView) -> dict[str, object]:
    return shipment_dict(view.row, view.events)


async def shipment_list(request: Request, caller: Caller | None, state: State) -> Response:
    params = query_params(request)
    found = shipment_filter(params)  # DRF filters the queryset before it paginates it
    size = page_size(params.get("page_size", ""))
    result = await state.read(state.reader.shipment_page, _scope(caller), found, params.get("page") or "1", size)
    if result is None:
        raise NotFound("Invalid page.")
    count, number, views = result
    next_link, previous_link = page_links(request, number, page_count(count, size))
    return json_response({"count": count, "next": next_link, "previous": previous_link,
                       "results": [_render(view) for view in views]})


async def shipment_object(request: Request, caller: Caller | None, state: State) -> ShipmentView:
    """DRF's ``get_object()``: the caller's shipments, filtered by the query; anything else a 404."""
    found = shipment_filter(query_params(request))
    view: ShipmentView | None = await state.read(state.reader.shipment, _scope(caller), found,
                                                 request.path_params["id"])
    if view is None:
        raise NotFound(SHIPMENT_404)
    return view


async def shipment_detail(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(_render(await shipment_object(request, caller, state)))


async def shipment_set_status(request: Request, caller: Caller | None, state: State) -> Response:
    """``POST /api/shipping/shipments/{id}/status/`` (staff): the shipment looked up first (404), then the body
    (400), then the move (409, or 400 without a tracking number to ship); the shipment as it is now."""
    load = await read_body(request)
    shipment = await shipment_object(request, caller, state)
    change = validation.status_change(load())
    await state.write(services.set_status, state.engine, shipment.row[0], change)
    # Read again as the monolith does (its selector, without the query's filters: the new status may not pass them).
    moved: ShipmentView | None = await state.read(state.reader.shipment, _scope(caller), ShipmentFilter(),
                                                  shipment.row[0])
    if moved is None:  # deleted in between (nothing deletes shipments; the monolith's .get() would fail too)
        raise NotFound(SHIPMENT_404)
    return json_response(_render(moved))


async def internal_request(request: Request, caller: Caller | None, state: State) -> Response:
    """``POST /api/shipping/internal/shipments/`` ``{"order", "user", "carrier"}``: 201 and the new shipment, or
    200 and the one the order has."""
    order_id, user_id, carrier = validation.shipment_request((await read_body(request))())
    row, created = await state.write(services.request_shipment, state.engine, order_id, user_id, carrier)
    return json_response(internal_dict(row), status=201 if created else 200)


async def internal_cancel(request: Request, caller: Caller | None, state: State) -> Response:
    """``POST /api/shipping/internal/shipments/cancel/`` ``{"order"}``: the cancelled shipment, or
    ``{"shipment": null}`` when the order has none."""
    order_id = validation.shipment_cancel((await read_body(request))())
    row = await state.write(services.cancel_shipment, state.engine, order_id)
    return json_response({"shipment": None} if row is None else internal_dict(row))
