"""The cart gateway: how the monolith's remaining code reaches the cart (branch by abstraction).

The cart pages (``cart/views.py``), the item count in every page's header (``context_processors.py``), the merge
of an anonymous cart at login (``receivers.py``) and checkout (``orders/services.py``) no longer touch the cart's
models or services directly; they ask :func:`cart_gateway` for the implementation in force and call one small
interface, about an :class:`Owner` (the user, or the anonymous cart the session names):

- ``read(owner)``: the cart with its lines (:class:`CartContents`, or None when the owner has none); each line
  has ``pk``, ``product`` (the monolith's own ``Product`` row: names and prices are read locally, as the
  monolith reads its catalog tables whoever owns them), ``quantity`` and ``line_total()``;
- ``add(owner, product, quantity)`` (the cart is made if needed; its id is answered for the session),
  ``set_quantity(owner, item_id, quantity)``, ``remove(owner, item_id)``: the pages' writes, with the
  monolith's errors (409 :class:`~legacy_monolith.exceptions.OutOfStock`, DRF's ``ValidationError`` past 1000 a
  line, ``NotFound`` for a line that is not the owner's);
- ``merge(anonymous_cart_id, user)``: the login merge;
- ``quantities(owner, lock=...)``, ``clear(owner, idempotency_key=...)`` (answers the lines it cleared) and
  ``restore(owner, lines, idempotency_key=...)``: what checkout needs.

Two implementations:

- :class:`LocalCart`: the shop as it always was (``cart.selectors`` and ``cart.services`` on the monolith's own
  ``cart_cart`` and ``cart_cartitem``); checkout's reads and clear run inside checkout's transaction.
- :class:`RemoteCart`: once the cart is cut over, the cart service owns the carts; the gateway calls its internal
  API (``POST /api/cart/internal/{read,add,set-quantity,remove,merge,clear,restore}/``, see
  ``extracted/cart/internal.py``) with ``httpx``, authorised by ``X-Service-Token`` = ``CART_SERVICE_TOKEN``.
  Anything but an answer it understands is :class:`~legacy_monolith.exceptions.CartUnavailable` (503): never a
  500, never a local fallback, so a cart has one owner.

Which one is used is the ``cart_gateway.remote`` switch in the database (:mod:`legacy_monolith.switches`), read
per call and cached for at most a second; ``python manage.py cart_gateway local|remote|status`` flips and shows
it (the cart plan's hook runs it at the cutover, and its undo at a rollback).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Protocol, TypedDict

import httpx
from django.conf import settings
from django.db import transaction
from rest_framework.exceptions import NotFound, ValidationError

from legacy_monolith import switches
from legacy_monolith.cart import selectors, services
from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.catalog.models import Product
from legacy_monolith.exceptions import CartUnavailable, OutOfStock

SWITCH: Final = "cart_gateway.remote"
TOKEN_HEADER: Final = "X-Service-Token"  # noqa: S105 - a header name
INTERNAL: Final = "/api/cart/internal/"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Owner:
    """Whose cart: a user (``user_id``), or an anonymous visitor, whose session holds ``session_cart`` (None: no
    cart yet)."""

    user_id: int | None
    session_cart: int | None = None

    def body(self) -> dict[str, int | None]:
        """The internal API's owner fields."""
        return {"user": self.user_id} if self.user_id is not None else {"session": self.session_cart}


PENDING_MERGE: Final = "cart_merge_pending"  # session key: an anonymous cart the login could not merge


def owner_of(request: Any) -> Owner:
    """The caller's cart owner, as ``cart_for_request`` finds it: the logged-in user, else the session's cart.

    A login whose merge the cart service could not do then (``receivers.py``) left the anonymous cart's id in the
    session under :data:`PENDING_MERGE`: it is merged here, on the next request that needs the cart, and forgotten
    once merged."""
    user = request.user
    if user.is_authenticated:
        # Only a request that brings a session can have a merge pending: a token's request (the API's, the orders
        # service's callers') leaves the session untouched, or Django would answer it with ``Vary: Cookie``, which
        # the services, which have no sessions, never send (the orders plan's contract check found it).
        session = getattr(request, "session", None) if request.COOKIES.get(settings.SESSION_COOKIE_NAME) else None
        pending = session.get(PENDING_MERGE) if session is not None else None
        if pending:
            try:
                cart_gateway().merge(pending, user)
            except CartUnavailable:
                pass  # still pending; the caller's own call to the service says what is wrong
            else:
                session.pop(PENDING_MERGE, None)
        return Owner(user_id=user.pk)
    cart_id = request.session.get(selectors.SESSION_KEY)
    return Owner(user_id=None, session_cart=cart_id if isinstance(cart_id, int) and cart_id > 0 else None)


def owner_of_cart(cart: Cart | None) -> Owner:
    """The owner of a cart the caller already holds (checkout's callers that pass the cart itself)."""
    if cart is None:
        return Owner(user_id=None)
    return Owner(user_id=cart.user_id) if cart.user_id is not None else Owner(user_id=None, session_cart=cart.pk)


class CartLine(Protocol):
    pk: Any
    product: Product
    quantity: int

    def line_total(self) -> Decimal: ...


@dataclass
class RemoteLine:
    pk: int
    product: Product
    quantity: int

    def line_total(self) -> Decimal:
        return self.product.price * self.quantity  # type: ignore[no-any-return]


@dataclass
class CartContents:
    pk: int | None
    items: Sequence[CartLine] = field(default_factory=list)

    @property
    def item_count(self) -> int:
        return sum(item.quantity for item in self.items)


class ClearedLine(TypedDict):
    id: int
    product: int
    quantity: int


class CartGateway(Protocol):
    name: str
    remote: bool

    def read(self, owner: Owner) -> CartContents | None: ...

    def add(self, owner: Owner, product: Product, quantity: int,
            remember: Callable[[int], None] | None = None) -> int: ...

    def set_quantity(self, owner: Owner, item_id: int, quantity: int) -> None: ...

    def remove(self, owner: Owner, item_id: int) -> None: ...

    def merge(self, anonymous_cart: int, user: Any) -> None: ...

    def quantities(self, owner: Owner, *, lock: bool = False) -> dict[int, int]: ...

    def clear(self, owner: Owner, *, idempotency_key: str) -> list[ClearedLine]: ...

    def restore(self, owner: Owner, lines: Iterable[ClearedLine], *, idempotency_key: str) -> None: ...


# --- today's shop -------------------------------------------------------------------------------------------------


class LocalCart:
    """The monolith's own cart tables, through its selectors and services as they always were."""

    name = "local"
    remote = False

    @staticmethod
    def _cart(owner: Owner) -> Cart | None:
        if owner.user_id is not None:
            return selectors._with_items(Cart.objects.filter(user_id=owner.user_id)).first()  # noqa: SLF001
        if not owner.session_cart:
            return None
        return selectors._with_items(  # noqa: SLF001
            Cart.objects.filter(pk=owner.session_cart, user__isnull=True)).first()

    def read(self, owner: Owner) -> CartContents | None:
        cart = self._cart(owner)
        return CartContents(pk=cart.pk, items=list(cart.items.all())) if cart is not None else None

    def add(self, owner: Owner, product: Product, quantity: int,
            remember: Callable[[int], None] | None = None) -> int:
        cart = self._cart(owner)
        if cart is None:
            if owner.user_id is not None:
                cart = Cart.objects.get_or_create(user_id=owner.user_id)[0]
            else:
                cart = Cart.objects.create()
                if remember is not None:  # into the session at once, as cart_for_request(create=True) does
                    remember(cart.pk)
        services.cart_add(cart, product, quantity)
        return int(cart.pk)

    def set_quantity(self, owner: Owner, item_id: int, quantity: int) -> None:
        services.cart_set_quantity(self._cart(owner), item_id, quantity)

    def remove(self, owner: Owner, item_id: int) -> None:
        services.cart_remove(self._cart(owner), item_id)

    def merge(self, anonymous_cart: int, user: Any) -> None:
        anonymous = Cart.objects.filter(pk=anonymous_cart, user__isnull=True).first()
        if anonymous is None:
            return
        target, _ = Cart.objects.get_or_create(user=user)
        services.cart_merge(anonymous, target)

    def _items(self, owner: Owner) -> Any:
        if owner.user_id is not None:
            return CartItem.objects.filter(cart__user_id=owner.user_id)
        if owner.session_cart:
            return CartItem.objects.filter(cart_id=owner.session_cart, cart__user__isnull=True)
        return CartItem.objects.none()

    def quantities(self, owner: Owner, *, lock: bool = False) -> dict[int, int]:
        items = self._items(owner).order_by("product_id")
        if lock:
            # Locking the lines makes a second checkout of the same cart (a double-clicked "Place order") wait
            # for this one, then find them gone, instead of ordering them again from a stale read.
            items = items.select_for_update()
        return {item.product_id: item.quantity for item in items}

    def clear(self, owner: Owner, *, idempotency_key: str) -> list[ClearedLine]:
        """Inside checkout's transaction: its rollback is the undo (the key is not needed locally)."""
        items = self._items(owner)
        cleared: list[ClearedLine] = [{"id": i.pk, "product": i.product_id, "quantity": i.quantity}
                                      for i in items.order_by("id")]
        items.delete()
        return cleared

    def restore(self, owner: Owner, lines: Iterable[ClearedLine], *, idempotency_key: str) -> None:
        with transaction.atomic():
            cart = self._cart(owner)
            if cart is None:
                cart = Cart.objects.get_or_create(user_id=owner.user_id)[0] if owner.user_id is not None \
                    else Cart.objects.create()
            for line in lines:
                item, created = CartItem.objects.select_for_update().get_or_create(
                    cart=cart, product_id=line["product"], defaults={"quantity": line["quantity"]})
                if not created:
                    item.quantity = min(item.quantity + line["quantity"], services.MAX_LINE_QUANTITY)
                    item.save(update_fields=["quantity"])


# --- after cutover: the cart service owns the carts --------------------------------------------------------------


_clients: dict[tuple[str, float], httpx.Client] = {}
_clients_lock = threading.Lock()


def _client(base_url: str, timeout: float) -> httpx.Client:
    """One pooled client per process and target (created on first use, so after gunicorn's fork)."""
    key = (base_url, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
                                  headers={"Accept": "application/json"}, follow_redirects=False)
            _clients[key] = client
        return client


UNAVAILABLE: Final = "The cart service is unavailable; please try again in a moment."


class RemoteCart:
    """The cart service's internal API, over HTTP."""

    name = "remote"
    remote = True

    def __init__(self, base_url: str | None = None, token: str | None = None, timeout: float | None = None) -> None:
        self.base_url = (base_url if base_url is not None else settings.CART_SERVICE_URL).rstrip("/")
        self.token = token if token is not None else settings.CART_SERVICE_TOKEN
        self.timeout = timeout if timeout is not None else settings.CART_SERVICE_TIMEOUT

    # --- the interface ---

    def read(self, owner: Owner) -> CartContents | None:
        cart, lines = self._cart(self._call("read", owner.body()))
        if cart is None:
            return None
        products = Product.objects.in_bulk([line["product"] for line in lines])
        # A line whose product the shop no longer has is not shown (the monolith deletes such lines with it).
        return CartContents(pk=cart, items=[RemoteLine(pk=line["id"], product=products[line["product"]],
                                                       quantity=line["quantity"])
                                            for line in lines if line["product"] in products])

    def add(self, owner: Owner, product: Product, quantity: int,
            remember: Callable[[int], None] | None = None) -> int:
        cart, _lines = self._cart(self._call("add", {**owner.body(), "product": product.pk, "quantity": quantity}))
        if cart is None:
            raise self._unusable("add", "no cart")
        if remember is not None and owner.user_id is None and cart != owner.session_cart:
            remember(cart)
        return cart

    def set_quantity(self, owner: Owner, item_id: int, quantity: int) -> None:
        self._cart(self._call("set-quantity", {**owner.body(), "item": item_id, "quantity": quantity}))

    def remove(self, owner: Owner, item_id: int) -> None:
        self._cart(self._call("remove", {**owner.body(), "item": item_id}))

    def merge(self, anonymous_cart: int, user: Any) -> None:
        body = self._call("merge", {"cart": anonymous_cart, "user": user.pk})
        if not isinstance(body, dict) or not isinstance(body.get("merged"), bool):
            raise self._unusable("merge", body)

    def quantities(self, owner: Owner, *, lock: bool = False) -> dict[int, int]:
        """The cart's quantities as the service has them now (``lock`` has no meaning across the wire: checkout
        compares them with what ``clear`` answers instead)."""
        _cart, lines = self._cart(self._call("read", owner.body()))
        # In product order, as LocalCart answers them: the order's lines are written in this order.
        return {line["product"]: line["quantity"] for line in sorted(lines, key=lambda line: line["product"])}

    def clear(self, owner: Owner, *, idempotency_key: str) -> list[ClearedLine]:
        _cart, lines = self._cart(self._call("clear", {**owner.body(), "idempotency_key": idempotency_key}))
        return lines

    def restore(self, owner: Owner, lines: Iterable[ClearedLine], *, idempotency_key: str) -> None:
        body = {**owner.body(), "lines": [dict(line) for line in lines], "idempotency_key": idempotency_key}
        self._cart(self._call("restore", body))

    # --- plumbing ---

    def _call(self, name: str, body: dict[str, Any]) -> Any:
        """POSTs to the internal route ``name``; the JSON answer of a 200, or the monolith's error for the
        service's own refusals (404, 409 out_of_stock, 400), or CartUnavailable for anything else."""
        if not self.token:
            raise CartUnavailable("The cart service cannot be used: CART_SERVICE_TOKEN is not configured.")
        path = f"{INTERNAL}{name}/"
        try:
            response = _client(self.base_url, self.timeout).post(path, json=body, headers={TOKEN_HEADER: self.token})
        except httpx.HTTPError as exc:
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
            log.error("cart service %s failed: %s: %s", name, type(exc).__name__, exc,
                      extra={"body": body, "maybe_applied": sent, "url": f"{self.base_url}{path}"})
            raise CartUnavailable(UNAVAILABLE) from exc
        answer = _json(response)
        status = response.status_code
        if status == 200 and answer is not None:
            return answer
        if status == 409 and isinstance(answer, dict) and answer.get("code") == "out_of_stock" \
                and isinstance(answer.get("items"), list) and isinstance(answer.get("detail"), str):
            raise OutOfStock(answer["detail"], items=answer["items"])
        if status == 404 and name in ("set-quantity", "remove") and isinstance(answer, dict) \
                and isinstance(answer.get("detail"), str) and "code" not in answer:
            raise NotFound(answer["detail"])
        if status == 400 and isinstance(answer, dict) and answer and "code" not in answer \
                and all(isinstance(v, list) for v in answer.values()):
            raise ValidationError(answer)
        log.error("cart service refused %s: HTTP %s %s", name, status, response.text[:500], extra={"body": body})
        if status in (401, 403):
            raise CartUnavailable("The cart service refused the shop's service token.")
        raise CartUnavailable(UNAVAILABLE)

    def _cart(self, answer: Any) -> tuple[int | None, list[ClearedLine]]:
        """``{"cart", "lines"}`` checked, or CartUnavailable."""
        try:
            cart = answer["cart"]
            lines: list[ClearedLine] = [
                {"id": line["id"], "product": line["product"], "quantity": line["quantity"]}
                for line in answer["lines"]]
            ok = (cart is None or _an_int(cart)) and all(_an_int(v) for line in lines for v in line.values())
        except (KeyError, TypeError):
            ok = False
        if not ok:
            raise self._unusable("answer", answer)
        return cart, lines

    @staticmethod
    def _unusable(what: str, answer: Any) -> CartUnavailable:
        log.error("the cart service's %s cannot be used: %s", what, str(answer)[:500])
        return CartUnavailable("The cart service answered in a form the shop cannot use.")

    def probe(self) -> str | None:
        """None when the service answers and accepts the token; else what is wrong (for ``cart_gateway``).
        Reads the cart of an anonymous visitor without one: nothing is written."""
        if not self.token:
            return "CART_SERVICE_TOKEN is not set"
        try:
            response = _client(self.base_url, self.timeout).post(f"{INTERNAL}read/", json={"session": None},
                                                                  headers={TOKEN_HEADER: self.token})
        except httpx.HTTPError as exc:
            return f"the cart service at {self.base_url} does not answer ({type(exc).__name__}: {exc})"
        if response.status_code == 200 and _json(response) == {"cart": None, "lines": []}:
            return None
        return f"the cart service at {self.base_url} answered HTTP {response.status_code} to an authorised probe: " \
               f"{response.text[:200]}"


def _an_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# --- the switch ---------------------------------------------------------------------------------------------------


def remote_enabled() -> bool:
    return switches.is_enabled(SWITCH)


def cart_gateway() -> CartGateway:
    """The implementation in force now (read per call, cached for at most a second)."""
    return RemoteCart() if remote_enabled() else LocalCart()


def remote_configuration_problems() -> list[str]:
    """What stops RemoteCart from working with the current settings (empty when it can be switched on)."""
    problems = []
    if not (settings.CART_SERVICE_URL or "").strip():
        problems.append("CART_SERVICE_URL is not set")
    elif not settings.CART_SERVICE_URL.startswith(("http://", "https://")):
        problems.append(f"CART_SERVICE_URL {settings.CART_SERVICE_URL!r} is not an http(s) URL")
    if not settings.CART_SERVICE_TOKEN:
        problems.append("CART_SERVICE_TOKEN is not set")
    return problems


# --- what the callers do with a request ------------------------------------------------------------------------


def cart_of(request: Any) -> CartContents | None:
    """The caller's cart and its lines (the cart page)."""
    return cart_gateway().read(owner_of(request))


def item_count(request: Any) -> int | str:
    """The header's count. Local: ``cart_item_count(cart_for_request(request))`` as always. Remote: the
    service's; ``?`` when it does not answer, so that one failing capability does not take every page down."""
    gateway = cart_gateway()
    if not gateway.remote:
        return selectors.cart_item_count(selectors.cart_for_request(request))
    try:
        cart = gateway.read(owner_of(request))
    except CartUnavailable:
        return "?"
    return cart.item_count if cart is not None else 0


def add_for(request: Any, product: Product, quantity: int) -> None:
    """The caller's cart gets ``quantity`` more of ``product`` (made if needed; an anonymous visitor's new cart
    goes into the session, as ``cart_for_request(create=True)`` puts it)."""
    def remember(cart: int) -> None:
        request.session[selectors.SESSION_KEY] = cart

    cart_gateway().add(owner_of(request), product, quantity, remember)


def set_quantity_for(request: Any, item_id: int, quantity: int) -> None:
    cart_gateway().set_quantity(owner_of(request), item_id, quantity)


def remove_for(request: Any, item_id: int) -> None:
    cart_gateway().remove(owner_of(request), item_id)
