"""The handlers of ``/api/orders/``: thin, as the styleguide wants them.

Each one reads through :mod:`~extracted.orders.selectors` (on the event loop for SQLite, else in a thread) and
renders with :mod:`~extracted.orders.rendering`. What runs before a handler (negotiation, authentication,
permission, method) is :class:`~extracted.orders.resources.Resource`'s; which handler answers which URL is
:mod:`~extracted.orders.urls`.

The writes (checkout, cancel) span owners: they are :mod:`.checkout`'s durable workflows.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from extracted.orders.exceptions import NotAuthenticated, NotFound
from extracted.orders.identity import Caller
from extracted.orders.pagination import page_count, page_links, page_size
from extracted.orders.rendering import json_response, order_dict
from extracted.orders.resources import State
from extracted.orders.selectors import OrderView, Scope
from extracted.orders.views import query_params

ORDER_404: Final = "No Order matches the given query."  # DRF's get_object_or_404 over the Order model


def _scope(caller: Caller | None) -> Scope:
    """The monolith's ``selectors.order_list``: staff see every order, a customer their own."""
    if caller is None:  # the views' permission (IsAuthenticated) has refused anonymous callers already
        raise NotAuthenticated()
    return Scope(user_id=caller.user_id, staff=caller.is_staff)


def _render(view: OrderView) -> dict[str, object]:
    return order_dict(view.row, view.lines, view.shipment)


async def order_list(request: Request, caller: Caller | None, state: State) -> Response:
    params = query_params(request)
    size = page_size(params.get("page_size", ""))
    result = await state.read(state.reader.order_page, _scope(caller), params.get("page") or "1", size)
    if result is None:
        raise NotFound("Invalid page.")
    count, number, views = result
    next_link, previous_link = page_links(request, number, page_count(count, size))
    return json_response({"count": count, "next": next_link, "previous": previous_link,
                          "results": [_render(view) for view in views]})


async def order_object(request: Request, caller: Caller | None, state: State) -> OrderView:
    """DRF's ``get_object()`` over the caller's orders: another customer's order is a 404, as a missing one."""
    view: OrderView | None = await state.read(state.reader.order, _scope(caller), request.path_params["id"])
    if view is None:
        raise NotFound(ORDER_404)
    return view


async def order_detail(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(_render(await order_object(request, caller, state)))


async def product_references(request: Request, caller: Caller | None, state: State) -> Response:
    """``GET /api/orders/product-references/{id}/`` → ``{"product": id, "order_lines": n}`` (staff, or the catalog
    service with its token, before it deletes a product)."""
    product_id: int = request.path_params["id"]
    lines = await state.read(state.reader.product_references, product_id)
    return json_response({"product": product_id, "order_lines": lines})
