"""Reads of the orders (the styleguide's selectors): hand-written SQL on the engine's pooled DBAPI connections
(no ORM objects).

What the monolith's ``selectors.order_list`` scopes is scoped here the same way: staff see every order, a
customer only their own (another's order is simply not found: a 404, never a 403). A page of orders is one
count, one page query in the monolith's order (``-id``), then the pages' lines (in id order: the monolith's
prefetch) and their shipments' snapshots, one query each, never one per order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from sqlalchemy import Engine

from extracted.orders.pagination import page_number, page_number_hint

ORDER_COLUMNS: Final = ("id, user_id, status, total, ship_full_name, ship_line1, ship_line2, ship_city, "
                        "ship_postal_code, ship_country, created_at, updated_at")
LINE_COLUMNS: Final = "id, order_id, product_id, sku, name, unit_price, quantity"
SHIPMENT_COLUMNS: Final = "id, order_id, carrier, tracking_number, status"

T = TypeVar("T")


@dataclass(frozen=True)
class Scope:
    """Whose orders a caller sees: every order (staff), or the orders of one user."""

    user_id: int
    staff: bool


@dataclass(frozen=True)
class OrderView:
    """An order's row with its lines (id order) and its shipment's snapshot (None: the order has none)."""

    row: Any
    lines: list[Any]
    shipment: Any | None


class Reader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.p = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    def _run(self, cursor: Any, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        cursor.execute(sql, params)
        return list(cursor.fetchall())

    def _read(self, work: Callable[[Any], T]) -> T:
        """``work(cursor)`` on one pooled connection, its read transaction ended afterwards."""
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                result = work(cursor)
            finally:
                cursor.close()
            if self.dialect != "sqlite":
                connection.commit()  # end the read transaction (psycopg/PyMySQL are not in autocommit)
            return result
        finally:
            connection.close()

    def _where(self, scope: Scope) -> tuple[str, list[Any]]:
        # A checkout still running has made its order ``pending``: nobody sees it until it is placed (and a
        # checkout that fails deletes it).
        where = " WHERE status <> 'pending'"
        return (where, []) if scope.staff else (f"{where} AND user_id = {self.p}", [scope.user_id])

    def _details(self, cursor: Any, rows: list[Any]) -> list[OrderView]:
        if not rows:
            return []
        ids = [row[0] for row in rows]
        marks = ", ".join([self.p] * len(ids))
        lines: dict[int, list[Any]] = defaultdict(list)
        for line in self._run(cursor, f"SELECT {LINE_COLUMNS} FROM order_lines WHERE order_id IN ({marks}) "  # noqa: S608
                                      "ORDER BY id", ids):
            lines[line[1]].append(line)
        shipments: dict[int, Any] = {}
        for shipment in self._run(cursor, f"SELECT {SHIPMENT_COLUMNS} FROM order_shipments "  # noqa: S608
                                          f"WHERE order_id IN ({marks}) ORDER BY id", ids):
            shipments.setdefault(shipment[1], shipment)  # one a order (the monolith's one-to-one)
        return [OrderView(row, lines.get(row[0], []), shipments.get(row[0])) for row in rows]

    def order_page(self, scope: Scope, page: str, size: int) -> tuple[int, int, list[OrderView]] | None:
        """``(count, page number, orders)`` of the page ``page`` (the raw ``?page=``) asks for; None when that
        page does not exist (Django's Paginator: not a whole number, below 1, or past the last page)."""
        if page_number_hint(page) is None:
            return None
        where, params = self._where(scope)

        def work(cursor: Any) -> tuple[int, int | None, list[OrderView]]:
            count = int(self._run(cursor, f"SELECT COUNT(*) FROM orders{where}", params)[0][0])  # noqa: S608
            number = page_number(page, count, size)
            if number is None or not count:
                return count, number, []
            offset = (number - 1) * size
            rows = self._run(cursor, f"SELECT {ORDER_COLUMNS} FROM orders{where} "  # noqa: S608
                                     f"ORDER BY id DESC LIMIT {int(size)} OFFSET {int(offset)}", params)
            return count, number, self._details(cursor, rows)

        count, number, views = self._read(work)
        return None if number is None else (count, number, views)

    def order(self, scope: Scope, order_id: int) -> OrderView | None:
        """One order the caller may see, or None (missing, or another customer's)."""
        where, params = self._where(scope)
        where += (" AND " if where else " WHERE ") + f"id = {self.p}"

        def work(cursor: Any) -> OrderView | None:
            rows = self._run(cursor, f"SELECT {ORDER_COLUMNS} FROM orders{where}", [*params, order_id])  # noqa: S608
            views = self._details(cursor, rows)
            return views[0] if views else None

        return self._read(work)

    def product_references(self, product_id: int) -> int:
        """How many order lines reference ``product_id`` (the catalog asks before it deletes a product)."""
        sql = f"SELECT COUNT(*) FROM order_lines WHERE product_id = {self.p}"  # noqa: S608
        return self._read(lambda cursor: int(self._run(cursor, sql, (product_id,))[0][0]))
