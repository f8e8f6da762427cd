"""The handlers of ``/api/cart/``: thin, as the styleguide wants them (the monolith's ``cart/apis.py``).

Each one finds the caller's cart (:func:`find_cart`: the user's, or the one the anonymous visitor's session
names), reads through :mod:`~extracted.cart.selectors`, asks the catalog's owner for the products
(:mod:`~extracted.cart.catalog`), writes through :mod:`~extracted.cart.services` and renders with
:mod:`~extracted.cart.rendering`. What runs before a handler (negotiation, authentication, the session, the
method) is :class:`~extracted.cart.resources.Resource`'s; which handler answers which URL is
:mod:`~extracted.cart.urls`.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from extracted.cart import selectors, services
from extracted.cart.catalog import Product
from extracted.cart.exceptions import NotFound
from extracted.cart.parsers import read_body
from extracted.cart.rendering import cart_dict, json_response
from extracted.cart.resources import State, Visitor
from extracted.cart.validation import product_id, validate_add_item, validate_merge, validate_quantity

MERGE_ATTEMPTS: Final = 3


async def find_cart(visitor: Visitor, state: State, *, create: bool = False) -> int | None:
    """The monolith's ``cart_for_request``: the user's cart, or the anonymous visitor's (the session's
    ``cart_id``, when that is an anonymous cart); ``create``: made when there is none (a new anonymous cart's id
    goes into the visitor's session, which the monolith then answers a cookie for)."""
    if visitor.session is None:
        assert visitor.user_id is not None
        cart = await state.read(selectors.user_cart, state.engine, visitor.user_id)
        if cart is None and create:
            cart = await state.write(services.user_cart_get_or_create, state.engine, visitor.user_id)
        return cart  # type: ignore[no-any-return]
    session_cart = await visitor.session.cart_id()
    cart = await state.read(selectors.anonymous_cart, state.engine, session_cart) if session_cart else None
    if cart is None and create:
        cart = await state.write(services.cart_create, state.engine)
        await visitor.session.set_cart_id(cart)
    return cart  # type: ignore[no-any-return]


async def _cart_response(visitor: Visitor, state: State, status: int = 200) -> Response:
    """The CartSerializer's answer for the caller's cart, at the products' current prices."""
    cart = await find_cart(visitor, state)
    lines = await state.read(selectors.cart_lines, state.engine, cart)
    products = await state.catalog.products((product for _line, product, _q in lines),
                                            request_id=visitor.request_id)
    return json_response(cart_dict(cart, lines, products), status)


async def _product(state: State, visitor: Visitor, pk: int) -> Product | None:
    return (await state.catalog.products([pk], request_id=visitor.request_id))[pk]


# --- /api/cart/ -----------------------------------------------------------------------------------------------------


async def cart_detail(request: Request, visitor: Visitor, state: State) -> Response:
    return await _cart_response(visitor, state)


async def cart_clear(request: Request, visitor: Visitor, state: State) -> Response:
    cart = await find_cart(visitor, state)
    if cart is not None:
        await state.write(services.cart_clear, state.engine, cart)
    return Response(status_code=204)


# --- /api/cart/items/ -----------------------------------------------------------------------------------------------


async def item_add(request: Request, visitor: Visitor, state: State) -> Response:
    """The AddItemSerializer (the product must exist and be on sale: the catalog says), then the caller's cart,
    made if needed, then the line (409 beyond stock, 400 beyond 1000 a line)."""
    body = (await read_body(request))()
    pk = product_id(body)
    product = await _product(state, visitor, pk) if pk is not None else None
    chosen, quantity = validate_add_item(body, lambda key: product is not None and product.id == key
                                         and product.is_active)
    assert product is not None and product.id == chosen
    cart = await find_cart(visitor, state, create=True)
    assert cart is not None
    await state.write(services.cart_add, state.engine, cart, product, quantity)
    return await _cart_response(visitor, state, 201)


# --- /api/cart/items/{id}/ ------------------------------------------------------------------------------------------


async def item_set_quantity(request: Request, visitor: Visitor, state: State) -> Response:
    """PATCH and PUT alike: the quantity is validated first (400), then the line looked up in the caller's cart
    (404), then checked against the product's current stock (409)."""
    quantity = validate_quantity((await read_body(request))())
    item_id = request.path_params["id"]
    cart = await find_cart(visitor, state)
    line_product = await state.read(selectors.line_product, state.engine, cart, item_id)
    product = await _product(state, visitor, line_product) if line_product is not None else None
    if cart is None or product is None:  # a line whose product is gone is gone too (the monolith cascades)
        raise NotFound(services.NO_SUCH_ITEM)
    await state.write(services.cart_set_quantity, state.engine, cart, item_id, product, quantity)
    return await _cart_response(visitor, state)


async def item_remove(request: Request, visitor: Visitor, state: State) -> Response:
    cart = await find_cart(visitor, state)
    await state.write(services.cart_remove, state.engine, cart, request.path_params["id"])
    return Response(status_code=204)


# --- internal: the login merge (X-Service-Token) --------------------------------------------------------------------


async def merge(request: Request, visitor: Visitor, state: State) -> Response:
    """``POST /api/cart/internal/merge/`` ``{"cart": anonymous cart id, "user": user id}`` → ``{"cart", "merged",
    "lines"}``: the monolith's merge on login (see :func:`services.cart_merge`), idempotent."""
    source, user = validate_merge((await read_body(request))())
    wanted: set[int] = set()
    for _attempt in range(MERGE_ATTEMPTS):
        cart = await state.read(selectors.anonymous_cart, state.engine, source)
        lines = await state.read(selectors.cart_lines, state.engine, cart) if cart is not None else []
        wanted |= {product for _line, product, _q in lines}
        products = await state.catalog.products(wanted, request_id=visitor.request_id)
        try:
            done = await state.write(services.cart_merge, state.engine, source, user, products)
        except services.StaleProducts as exc:  # the anonymous cart changed meanwhile: read its products again
            wanted |= exc.missing
            continue
        return json_response({"cart": done.cart, "merged": done.merged, "lines": done.lines})
    raise RuntimeError(f"the anonymous cart {source} kept changing while it was merged")
