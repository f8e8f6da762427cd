"""The handlers of ``/api/catalog/``: thin, as the styleguide wants them.

Each one reads through :mod:`~extracted.catalog.selectors` (on the event loop for SQLite, else in a thread)
or writes through :mod:`~extracted.catalog.services` (in a thread: a write holds a transaction), and renders
with :mod:`~extracted.catalog.rendering`. What runs before a handler (negotiation, authentication, permission,
method) is :class:`~extracted.catalog.resources.Resource`'s; which handler answers which URL is
:mod:`~extracted.catalog.urls`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from extracted.catalog import reservations, services
from extracted.catalog.errors import ProtectedObject
from extracted.catalog.exceptions import NotFound, ValidationFailed
from extracted.catalog.filters import detail_query, product_query
from extracted.catalog.identity import Caller
from extracted.catalog.pagination import page_count, page_links
from extracted.catalog.parsers import parse_query, read_body
from extracted.catalog.rendering import category_dict, internal_product_dict, json_response, product_dict
from extracted.catalog.resources import Handler, Lookup, State, is_staff
from extracted.catalog.views import query_params

PRODUCT_ORDERED: Final = "Orders reference this product; deactivate it instead of deleting it."  # the monolith's


def _update(write: Callable[..., dict[str, Any]], *, partial: bool, before: Lookup | None = None) -> Handler:
    """PUT (``partial=False``) or PATCH of the object in the URL; ``before``: what the view checks first."""

    async def handler(request: Request, caller: Caller | None, state: State) -> Response:
        if before is not None:
            await before(request, caller, state)
        load = await read_body(request)
        data = await run_in_threadpool(write, state.engine, request.path_params["id"], load, partial=partial)
        return json_response(data)

    return handler


# --- products -------------------------------------------------------------------------------------------------------


async def product_list(request: Request, caller: Caller | None, state: State) -> Response:
    query = product_query(query_params(request))
    result = await state.read(state.reader.product_page, query, include_inactive=is_staff(caller))
    if result is None:
        raise NotFound("Invalid page.")
    count, number, rows = result
    next_link, previous_link = page_links(request, number, page_count(count, query.page_size))
    return json_response({"count": count, "next": next_link, "previous": previous_link,
                          "results": [product_dict(row) for row in rows]})


async def product_create(request: Request, caller: Caller | None, state: State) -> Response:
    load = await read_body(request)
    return json_response(await run_in_threadpool(services.product_create, state.engine, load), 201)


async def product_object(request: Request, caller: Caller | None, state: State) -> Any:
    """DRF's ``get_object()``: the list's filters (and ordering) are checked and applied to the look-up, so
    ``/products/1/?search=zz`` is a 404 and ``?min_price=abc`` a 400, as in the monolith."""
    query = detail_query(query_params(request))
    row = await state.read(state.reader.product, request.path_params["id"], include_inactive=is_staff(caller),
                           query=query)
    if row is None:
        raise NotFound(services.PRODUCT_404)
    return row


async def _filtered_write(request: Request, caller: Caller | None, state: State) -> None:
    """Before a write to one product: the filters of its URL, like ``get_object()`` (only when there are any;
    the write itself finds the row again in its transaction)."""
    if request.scope.get("query_string"):
        await product_object(request, caller, state)


async def product_detail(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(product_dict(await product_object(request, caller, state)))


product_put = _update(services.product_update, partial=False, before=_filtered_write)
product_patch = _update(services.product_update, partial=True, before=_filtered_write)


async def product_delete(request: Request, caller: Caller | None, state: State) -> Response:
    """The monolith's order lines hold products with a PROTECT foreign key: an ordered product is a 409. The
    orders are not this service's; their owner is asked (:mod:`orders`) once the product is known to exist."""
    product_id = request.path_params["id"]
    if request.scope.get("query_string"):
        await product_object(request, caller, state)
    elif await state.read(state.reader.product, product_id, include_inactive=True) is None:
        raise NotFound(services.PRODUCT_404)
    if await state.orders.count(product_id, request.headers):
        raise ProtectedObject(PRODUCT_ORDERED)
    await run_in_threadpool(services.product_delete, state.engine, product_id)
    return Response(status_code=204)


async def product_stock(request: Request, caller: Caller | None, state: State) -> Response:
    await _filtered_write(request, caller, state)
    load = await read_body(request)
    return json_response(await run_in_threadpool(services.stock_adjust, state.engine, request.path_params["id"],
                                                 load))


# --- the internal stock endpoints (the monolith's checkout and cancel, once the catalog is cut over) ----------------


async def stock_reserve(request: Request, caller: Caller | None, state: State) -> Response:
    load = await read_body(request)
    return json_response(await run_in_threadpool(services.stock_reserve, state.engine, load))


async def stock_release(request: Request, caller: Caller | None, state: State) -> Response:
    load = await read_body(request)
    return json_response(await run_in_threadpool(services.stock_release, state.engine, load))


# --- the internal batch read of products (other services: the cart's lines), X-Service-Token ----------------------

MAX_INTERNAL_IDS: Final = 1000
_ID: Final = re.compile(r"[0-9]{1,18}")


def parse_ids(raw: str | None) -> list[int]:
    """``?ids=1,2,3``: distinct product ids in order, with the monolith's messages (its ``catalog.apis.parse_ids``)."""
    if raw is None:
        raise ValidationFailed({"ids": ["This field is required."]})
    if raw == "":
        return []
    parts = raw.split(",")
    if len(parts) > MAX_INTERNAL_IDS:
        raise ValidationFailed({"ids": [f"At most {MAX_INTERNAL_IDS} ids at a time."]})
    for part in parts:
        if not _ID.fullmatch(part):
            message = f"Expected product ids separated by commas (ids=1,2,3), got {part[:40]!r}."
            raise ValidationFailed({"ids": [message]})
    return sorted({int(part) for part in parts})


async def internal_products(request: Request, caller: Caller | None, state: State) -> Response:
    """``GET /api/catalog/internal/products/?ids=1,2,3`` → ``{"items": [{id, sku, name, price, stock, is_active}]}``
    for the ids that exist, as the monolith answers the same URL."""
    params = dict(parse_query(request.scope.get("query_string", b"")))
    ids = parse_ids(params.get("ids"))
    rows = await state.read(state.reader.products_by_ids, ids)
    return json_response({"items": [internal_product_dict(row) for row in rows]})


# --- stock reservations (internal: the orders service's checkout saga, X-Service-Token) ----------------------------


async def reservation_create(request: Request, caller: Caller | None, state: State) -> Response:
    load = await read_body(request)
    view, made = await run_in_threadpool(reservations.reserve, state.engine, load,
                                         request.headers.get("idempotency-key"))
    return json_response(view, 201 if made else 200)


async def stock_return(request: Request, caller: Caller | None, state: State) -> Response:
    load = await read_body(request)
    view, made = await run_in_threadpool(reservations.give_back, state.engine, load,
                                         request.headers.get("idempotency-key"))
    return json_response(view, 201 if made else 200)


async def reservation_release_key(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(await run_in_threadpool(reservations.release_key, state.engine,
                                                 request.headers.get("idempotency-key")))


async def reservation_detail(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(await run_in_threadpool(reservations.read, state.engine, request.path_params["id"]))


async def reservation_commit(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(await run_in_threadpool(reservations.commit, state.engine, request.path_params["id"]))


async def reservation_release(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(await run_in_threadpool(reservations.release, state.engine, request.path_params["id"]))


# --- categories -----------------------------------------------------------------------------------------------------


async def category_list(request: Request, caller: Caller | None, state: State) -> Response:
    rows = await state.read(state.reader.categories)
    return json_response([category_dict(row) for row in rows])


async def category_create(request: Request, caller: Caller | None, state: State) -> Response:
    load = await read_body(request)
    return json_response(await run_in_threadpool(services.category_create, state.engine, load), 201)


async def category_object(request: Request, caller: Caller | None, state: State) -> Any:
    row = await state.read(state.reader.category, request.path_params["id"])
    if row is None:
        raise NotFound(services.CATEGORY_404)
    return row


async def category_detail(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(category_dict(await category_object(request, caller, state)))


category_put = _update(services.category_update, partial=False)
category_patch = _update(services.category_update, partial=True)


async def category_delete(request: Request, caller: Caller | None, state: State) -> Response:
    await run_in_threadpool(services.category_delete, state.engine, request.path_params["id"])
    return Response(status_code=204)
