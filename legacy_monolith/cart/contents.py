"""What the cart gateway's callers get and give (``gateway.py``): whose cart (:class:`Owner`), a cart with its
lines (:class:`CartContents`), the lines a clear took (:class:`ClearedLine`), and the interface both sides
implement (:class:`CartGateway`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, TypedDict

from legacy_monolith.catalog.models import Product


@dataclass(frozen=True)
class Owner:
    """Whose cart: a user (``user_id``), or an anonymous visitor, whose session holds ``session_cart`` (None: no
    cart yet)."""

    user_id: int | None
    session_cart: int | None = None

    def body(self) -> dict[str, int | None]:
        """The internal API's owner fields."""
        return {"user": self.user_id} if self.user_id is not None else {"session": self.session_cart}


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
