"""The cart service's internal API: what the monolith's cart gateway (``legacy_monolith/cart/gateway.py``,
``RemoteCart``) and the orders' checkout saga call once the cart is cut over to this service.

Every route is ``POST`` with a JSON body, under ``/api/cart/internal/``, authorised by ``X-Service-Token`` =
``CART_SERVICE_TOKEN`` alone (no identity token, no session, no CSRF: :class:`~.resources.ServiceResource`).
Whose cart a call is about is in the body, as the caller (the monolith, another service) found it, never from a
client's header: the router sends shoppers' requests only to the public routes, and anyone reaching these
without the token gets 401 (503 ``not_configured`` while the service has no token).

The owner, in every body, exactly one of:

- ``"user": N``: the user's cart (one per user), N the monolith's user id;
- ``"session": N | null``: an anonymous visitor's cart, N the cart id the visitor's session holds (the monolith's
  ``session["cart_id"]``; null: the session holds none). Only an anonymous cart is found this way (a cart that
  became a user's at login is not).

Routes (a cart in an answer is ``{"cart": id | null, "lines": [{"id", "product", "quantity"}, ...]}``, lines in
id order; products are ids: names and prices are the catalog's):

- ``read/`` ``{owner}`` → 200 the cart (``cart`` null and no lines when the owner has none).
- ``add/`` ``{owner, "product": id, "quantity": n}`` → 200 the cart; the cart is made if the owner has none (for
  ``session``, a new anonymous cart whose id the caller keeps in the visitor's session). The product is checked at
  the catalog's owner like the public ``POST /api/cart/items/``: 400 ``{"product": [...]}`` when it is missing or
  not on sale, 400 ``{"quantity": [...]}`` past 1000 a line, 409 ``out_of_stock`` past the stock.
- ``set-quantity/`` ``{owner, "item": line id, "quantity": n}`` → 200 the cart; 404 ``{"detail": "No such item
  in your cart."}`` when the owner's cart has no such line, 409 past the stock.
- ``remove/`` ``{owner, "item": line id}`` → 200 the cart; 404 as above.
- ``merge/`` ``{"cart": anonymous cart id, "user": user id}`` → ``{"cart", "merged", "lines"}`` (:mod:`.apis`).
- ``clear/`` ``{owner, "idempotency_key": str}`` → 200 ``{"cart", "lines": the lines it cleared}``: the cart is
  emptied (kept, like the monolith's checkout keeps it).
- ``restore/`` ``{owner, "lines": [{"product", "quantity", "id"?}, ...], "idempotency_key": str}`` → 200
  ``{"cart", "lines": the cart's lines after}``: each line is put back; a product the cart holds again meanwhile
  adds up (at most 1000 a line); a line comes back under its old ``id`` when that id is free. The cart is made if
  the owner has none (for ``session``, a new one: the answer's ``cart`` is the id to keep). Stock is not checked:
  these units were the owner's already.

``clear/`` and ``restore/`` are idempotent by key (1 to 200 characters; one key space for both): the first call
does the work and stores its answer in the same transaction (table ``cart_requests``); a repeat with the same key
and the same body answers the stored answer and changes nothing more (whatever the cart holds now); the same key
with another body (or the other operation) is refused, 422 ``idempotency_key_reused``, naming the key. Each other
route is repeatable as it stands except ``add/``, which adds again (the gateway does not retry it).

Errors are the service's JSON errors (``{"detail", "code"}``, or DRF's ``{field: [messages]}`` for a 400); 503
``catalog_unavailable`` when ``add/`` or ``set-quantity/`` cannot read the product, 503 ``read_only`` while the
cart's tables are the monolith's (before the cutover, after a rollback).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from extracted.cart import selectors, services
from extracted.cart.exceptions import CodedError, NotFound, ValidationFailed
from extracted.cart.fields import MAX_ID
from extracted.cart.models import cart_items, cart_requests, carts
from extracted.cart.parsers import read_body
from extracted.cart.rendering import json_response
from extracted.cart.resources import State, Visitor
from extracted.cart.validation import MAX_LINE_QUANTITY

MAX_KEY: Final = 200
MAX_LINES: Final = 1000


class KeyReused(CodedError):
    status = 422
    code = "idempotency_key_reused"


@dataclass(frozen=True)
class Owner:
    """Whose cart: ``user`` (a user id), or else an anonymous cart's id (``session``, None: none yet)."""

    user: int | None
    session: int | None

    def as_body(self) -> dict[str, int | None]:
        return {"user": self.user} if self.user is not None else {"session": self.session}


# --- bodies -----------------------------------------------------------------------------------------------------------


def _int(data: Mapping[str, Any], name: str, errors: dict[str, list[str]], *, low: int = 1, high: int = MAX_ID,
         null: bool = False) -> int | None:
    value = data.get(name)
    if value is None and null and name in data:
        return None
    if name not in data:
        errors[name] = ["This field is required."]
    elif not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors[name] = [f"An integer from {low} to {high} is required."]
    else:
        return value
    return None


def _mapping(raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValidationFailed({"non_field_errors": ["A JSON object is required."]})
    return raw


def _owner(data: Mapping[str, Any], errors: dict[str, list[str]]) -> Owner:
    if ("user" in data) == ("session" in data):
        errors["non_field_errors"] = ['Exactly one of "user" (a user id) and "session" (the anonymous cart id the '
                                      'session holds, or null) is required.']
        return Owner(None, None)
    if "user" in data:
        return Owner(_int(data, "user", errors), None)
    return Owner(None, _int(data, "session", errors, null=True))


def _key(data: Mapping[str, Any], errors: dict[str, list[str]]) -> str:
    key = data.get("idempotency_key")
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY:
        errors["idempotency_key"] = [f"A string of 1 to {MAX_KEY} characters is required."]
        return ""
    return key


def _lines(data: Mapping[str, Any], errors: dict[str, list[str]]) -> list[tuple[int | None, int, int]]:
    raw = data.get("lines")
    if not isinstance(raw, list) or len(raw) > MAX_LINES:
        errors["lines"] = [f"A list of at most {MAX_LINES} lines is required."]
        return []
    lines: list[tuple[int | None, int, int]] = []
    seen: set[int] = set()
    for index, item in enumerate(raw):
        mine: dict[str, list[str]] = {}
        if not isinstance(item, Mapping):
            errors[f"lines[{index}]"] = ['An object {"product", "quantity", "id"?} is required.']
            continue
        product = _int(item, "product", mine)
        quantity = _int(item, "quantity", mine, high=MAX_LINE_QUANTITY)
        line_id = _int(item, "id", mine, null=True) if "id" in item else None
        if product is not None and product in seen:
            mine["product"] = ["One line a product."]
        if mine or product is None or quantity is None:
            errors.update({f"lines[{index}].{name}": messages for name, messages in mine.items()})
            continue
        seen.add(product)
        lines.append((line_id, product, quantity))
    return lines


def _done(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationFailed(errors)


def digest(operation: str, body: Mapping[str, Any]) -> str:
    """What a keyed call asked, the key itself left out: equal bodies (whatever their key order) digest equal."""
    asked = {k: v for k, v in body.items() if k != "idempotency_key"}
    text = json.dumps([operation, asked], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# --- the database's side ----------------------------------------------------------------------------------------------


def _find(conn: Connection, owner: Owner) -> int | None:
    if owner.user is not None:
        found = conn.execute(select(carts.c.id).where(carts.c.user_id == owner.user)).scalar()
    elif owner.session is not None:
        found = conn.execute(select(carts.c.id).where(carts.c.id == owner.session, carts.c.user_id.is_(None))).scalar()
    else:
        found = None
    return None if found is None else int(found)


def owner_cart(engine: Engine, owner: Owner) -> int | None:
    with engine.connect() as conn:
        return _find(conn, owner)


def _lines_of(conn: Connection, cart: int | None) -> list[dict[str, int]]:
    if cart is None:
        return []
    rows = conn.execute(select(cart_items.c.id, cart_items.c.product_id, cart_items.c.quantity)
                        .where(cart_items.c.cart_id == cart).order_by(cart_items.c.id))
    return [{"id": int(a), "product": int(b), "quantity": int(c)} for a, b, c in rows]


def cart_answer(engine: Engine, cart: int | None) -> dict[str, Any]:
    with engine.connect() as conn:
        return {"cart": cart, "lines": _lines_of(conn, cart)}


def _claim(conn: Connection, key: str, operation: str, asked: str) -> dict[str, Any] | None:
    """Takes ``key`` for this call (its row, written in the caller's transaction), or answers what the call that
    took it answered. :class:`KeyReused` when that call asked something else.

    The first statement writes (an UPDATE of the key's row, if any): SQLite's write lock, or the row's lock, is
    held before anything is read, so a concurrent repeat waits for this one and then finds its answer. No
    savepoint: pysqlite would commit one on its own. Two first calls racing on PostgreSQL or MariaDB: the second's
    INSERT fails once the first commits, and :func:`_keyed` runs it again, which then finds the answer."""
    conn.execute(update(cart_requests).where(cart_requests.c.key == key).values(operation=cart_requests.c.operation))
    row = conn.execute(select(cart_requests.c.operation, cart_requests.c.digest, cart_requests.c.answer)
                       .where(cart_requests.c.key == key)).one_or_none()
    if row is None:
        conn.execute(insert(cart_requests).values(key=key, operation=operation, digest=asked, answer="",
                                                  created_at=services.now_in(conn)))
        return None
    if row.operation != operation or row.digest != asked:
        raise KeyReused(f"The idempotency key {key!r} was used for another {row.operation} request; a repeat must "
                        f"send the same body, a new request a new key.")
    stored: dict[str, Any] = json.loads(row.answer)
    return stored


def _keyed(engine: Engine, key: str, operation: str, asked: str,
           work: Callable[[Connection], dict[str, Any]]) -> dict[str, Any]:
    """``work`` done once for ``key``, in one transaction with the stored answer; a repeat answers that."""
    for attempt in range(2):
        try:
            with engine.begin() as conn:
                stored = _claim(conn, key, operation, asked)
                if stored is not None:
                    return stored
                answer = work(conn)
                conn.execute(update(cart_requests).where(cart_requests.c.key == key)
                             .values(answer=json.dumps(answer)))
                return answer
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _cart_for(conn: Connection, owner: Owner) -> int:
    found = _find(conn, owner)
    if found is not None:
        return found
    if owner.user is not None:
        return services._user_cart(conn, owner.user)  # noqa: SLF001 - the services' own get_or_create
    return services._new_cart(conn, None, services.now_in(conn))  # noqa: SLF001


def cart_clear_keyed(engine: Engine, owner: Owner, key: str, asked: str) -> dict[str, Any]:
    def work(conn: Connection) -> dict[str, Any]:
        cart = _find(conn, owner)
        lines = _lines_of(conn, cart)
        if cart is not None:
            conn.execute(delete(cart_items).where(cart_items.c.cart_id == cart))
            conn.execute(update(carts).where(carts.c.id == cart).values(updated_at=services.now_in(conn)))
        return {"cart": cart, "lines": lines}

    return _keyed(engine, key, "clear", asked, work)


def cart_restore_keyed(engine: Engine, owner: Owner, lines: list[tuple[int | None, int, int]], key: str,
                       asked: str) -> dict[str, Any]:
    def work(conn: Connection) -> dict[str, Any]:
        cart = _cart_for(conn, owner) if lines else _find(conn, owner)
        now = services.now_in(conn)
        for line_id, product, quantity in lines:
            assert cart is not None
            where = (cart_items.c.cart_id == cart, cart_items.c.product_id == product)
            had = conn.execute(select(cart_items.c.quantity).where(*where)).scalar()
            if had is not None:
                conn.execute(update(cart_items).where(*where)
                             .values(quantity=min(int(had) + quantity, MAX_LINE_QUANTITY)))
                continue
            values: dict[str, Any] = {"cart_id": cart, "product_id": product, "quantity": quantity, "added_at": now}
            free = line_id is not None and conn.execute(
                select(cart_items.c.id).where(cart_items.c.id == line_id)).scalar() is None
            conn.execute(insert(cart_items).values(**({"id": line_id} if free else {}), **values))
        if cart is not None and lines:
            conn.execute(update(carts).where(carts.c.id == cart).values(updated_at=now))
        return {"cart": cart, "lines": _lines_of(conn, cart)}

    return _keyed(engine, key, "restore", asked, work)


# --- handlers ---------------------------------------------------------------------------------------------------------


async def _body(request: Request) -> Mapping[str, Any]:
    return _mapping((await read_body(request))())


async def read(request: Request, visitor: Visitor, state: State) -> Response:
    errors: dict[str, list[str]] = {}
    owner = _owner(await _body(request), errors)
    _done(errors)
    cart = await state.read(owner_cart, state.engine, owner)
    return json_response(await state.read(cart_answer, state.engine, cart))


async def _line_request(request: Request, name: str) -> tuple[Owner, int, int]:
    """The owner, the id ``name`` names (a product, a line) and a quantity: every field's errors at once."""
    data = await _body(request)
    errors: dict[str, list[str]] = {}
    owner = _owner(data, errors)
    which = _int(data, name, errors)
    quantity = _int(data, "quantity", errors, high=MAX_LINE_QUANTITY)
    _done(errors)
    assert which is not None and quantity is not None
    return owner, which, quantity


async def add(request: Request, visitor: Visitor, state: State) -> Response:
    owner, product_id, quantity = await _line_request(request, "product")
    product = (await state.catalog.products([product_id], request_id=visitor.request_id))[product_id]
    if product is None or not product.is_active:
        raise ValidationFailed({"product": [f'Invalid pk "{product_id}" - object does not exist.']})
    cart = await state.read(owner_cart, state.engine, owner)
    if cart is None:
        cart = await state.write(services.user_cart_get_or_create, state.engine, owner.user) \
            if owner.user is not None else await state.write(services.cart_create, state.engine)
    await state.write(services.cart_add, state.engine, cart, product, quantity)
    return json_response(await state.read(cart_answer, state.engine, cart))


async def set_quantity(request: Request, visitor: Visitor, state: State) -> Response:
    owner, item, quantity = await _line_request(request, "item")
    cart = await state.read(owner_cart, state.engine, owner)
    line_product = await state.read(selectors.line_product, state.engine, cart, item)
    product = (await state.catalog.products([line_product], request_id=visitor.request_id))[line_product] \
        if line_product is not None else None
    if cart is None or product is None:
        raise NotFound(services.NO_SUCH_ITEM)
    await state.write(services.cart_set_quantity, state.engine, cart, item, product, quantity)
    return json_response(await state.read(cart_answer, state.engine, cart))


async def remove(request: Request, visitor: Visitor, state: State) -> Response:
    data = await _body(request)
    errors: dict[str, list[str]] = {}
    owner = _owner(data, errors)
    item = _int(data, "item", errors)
    _done(errors)
    assert item is not None
    cart = await state.read(owner_cart, state.engine, owner)
    await state.write(services.cart_remove, state.engine, cart, item)
    return json_response(await state.read(cart_answer, state.engine, cart))


async def clear(request: Request, visitor: Visitor, state: State) -> Response:
    data = await _body(request)
    errors: dict[str, list[str]] = {}
    owner = _owner(data, errors)
    key = _key(data, errors)
    _done(errors)
    return json_response(await state.write(cart_clear_keyed, state.engine, owner, key, digest("clear", data)))


async def restore(request: Request, visitor: Visitor, state: State) -> Response:
    data = await _body(request)
    errors: dict[str, list[str]] = {}
    owner = _owner(data, errors)
    lines = _lines(data, errors)
    key = _key(data, errors)
    _done(errors)
    return json_response(await state.write(cart_restore_keyed, state.engine, owner, lines, key,
                                           digest("restore", data)))
