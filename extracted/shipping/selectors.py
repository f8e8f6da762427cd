"""Reads of the shipments (the styleguide's selectors): hand-written SQL on the engine's pooled DBAPI
connections.

Scoped as the monolith's ``selectors.shipment_list``: staff see every shipment, a customer only their own (the
shipment's ``user_id``, its order's customer): another's shipment is simply not found, a 404, never a 403. A page
is one count, one page query in the monolith's order (``-id``), then the page's events (id order), never one
query per shipment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from sqlalchemy import Engine

from .filters import ShipmentFilter
from .pagination import page_number, page_number_hint

SHIPMENT_COLUMNS: Final = "id, order_id, user_id, carrier, tracking_number, status, created_at, updated_at"
EVENT_COLUMNS: Final = "id, shipment_id, status, note, created_at"

T = TypeVar("T")


@dataclass(frozen=True)
class Scope:
    """Whose shipments a caller sees: every one (staff), or those of one customer."""

    user_id: int
    staff: bool


@dataclass(frozen=True)
class ShipmentView:
    row: Any
    events: list[Any]


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

    def _where(self, scope: Scope, found: ShipmentFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if not scope.staff:
            clauses.append(f"user_id = {self.p}")
            params.append(scope.user_id)
        if found.order is not None:
            clauses.append(f"order_id = {self.p}")
            params.append(found.order)
        if found.status is not None:
            clauses.append(f"status = {self.p}")
            params.append(found.status)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def _with_events(self, cursor: Any, rows: list[Any]) -> list[ShipmentView]:
        if not rows:
            return []
        ids = [row[0] for row in rows]
        marks = ", ".join([self.p] * len(ids))
        events: dict[int, list[Any]] = defaultdict(list)
        for event in self._run(cursor, f"SELECT {EVENT_COLUMNS} FROM shipment_events "  # noqa: S608
                                       f"WHERE shipment_id IN ({marks}) ORDER BY id", ids):
            events[event[1]].append(event)
        return [ShipmentView(row, events.get(row[0], [])) for row in rows]

    def shipment_page(self, scope: Scope, found: ShipmentFilter, page: str, size: int
                      ) -> tuple[int, int, list[ShipmentView]] | None:
        """``(count, page number, shipments)`` of the page ``page`` (the raw ``?page=``) asks for; None when that
        page does not exist (Django's Paginator: not a whole number, below 1, or past the last page)."""
        if page_number_hint(page) is None:
            return None
        where, params = self._where(scope, found)

        def work(cursor: Any) -> tuple[int, int | None, list[ShipmentView]]:
            count = int(self._run(cursor, f"SELECT COUNT(*) FROM shipments{where}", params)[0][0])  # noqa: S608
            number = page_number(page, count, size)
            if number is None or not count:
                return count, number, []
            offset = (number - 1) * size
            rows = self._run(cursor, f"SELECT {SHIPMENT_COLUMNS} FROM shipments{where} "  # noqa: S608
                                     f"ORDER BY id DESC LIMIT {int(size)} OFFSET {int(offset)}", params)
            return count, number, self._with_events(cursor, rows)

        count, number, views = self._read(work)
        return None if number is None else (count, number, views)

    def shipment(self, scope: Scope, found: ShipmentFilter, shipment_id: int) -> ShipmentView | None:
        """One shipment the caller may see (and the filters let through), or None."""
        where, params = self._where(scope, found)
        where += (" AND " if where else " WHERE ") + f"id = {self.p}"

        def work(cursor: Any) -> ShipmentView | None:
            rows = self._run(cursor, f"SELECT {SHIPMENT_COLUMNS} FROM shipments{where}",  # noqa: S608
                             [*params, shipment_id])
            views = self._with_events(cursor, rows)
            return views[0] if views else None

        return self._read(work)
