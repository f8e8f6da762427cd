"""Reads of the catalog (the styleguide's selectors): hand-written SQL on the engine's pooled DBAPI
connections (no ORM objects).

A product list is one count query and one page query, with the category filter (a category and all its
subcategories) as a recursive CTE. Text search follows Django's ``icontains`` on each engine (SQLite
``LIKE ... ESCAPE '\\'``, PostgreSQL ``UPPER(col::text) LIKE UPPER(%s)``, MariaDB ``LIKE`` under the column's
collation), so the same database gives the same matches as the monolith. On SQLite a search of three
characters or more first narrows the rows through the trigram index (:mod:`extracted.catalog.search`): the
count no longer reads the whole table.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Engine

from extracted.catalog import search
from extracted.catalog.filters import ProductQuery
from extracted.catalog.pagination import page_number, page_number_hint

PRODUCT_COLUMNS: Final = ("id, sku, name, description, price, stock, is_active, category_id, created_at, "
                          "updated_at")
ORDER_COLUMNS: Final = {"id": "id", "name": "name", "price": "price", "stock": "stock", "created_at": "created_at"}


def like_pattern(value: str) -> str:
    """Django's ``prep_for_like_query`` wrapped in ``%...%``."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Reader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.p = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        p = self.p
        if self.dialect == "sqlite":
            self._like = f"LIKE {p} ESCAPE '\\'"
            self._text = "{}"
        elif self.dialect == "postgresql":
            self._like = f"LIKE UPPER({p})"
            self._text = "UPPER({}::text)"
        else:
            self._like = f"LIKE {p}"
            self._text = "{}"
        # SQL text here is built from fixed identifiers only; every value is a bound parameter.
        self._product_sql = f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = {p}"  # noqa: S608
        self._active_product_sql = self._product_sql + (" AND is_active" if self.dialect == "postgresql"
                                                         else " AND is_active = 1")
        self._true = "TRUE" if self.dialect == "postgresql" else "1"
        self._indexed: bool | None = None  # whether the search index is there (looked up on first search)

    def _candidates(self, cursor: Any, query: ProductQuery) -> str | None:
        """The search index's condition for this query, or None (no index, a short term, too much to catch up)."""
        if not query.search or not search.usable_for(query.search):
            return None
        if self._indexed is None:
            self._indexed = search.available(self.engine)
        return search.candidates(cursor, self.p) if self._indexed else None

    def _fetch(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            finally:
                cursor.close()
            if self.dialect != "sqlite":
                connection.commit()  # end the read transaction (psycopg/PyMySQL are not in autocommit)
            return list(rows)
        finally:
            connection.close()

    # --- products ---

    def product(self, product_id: int, *, include_inactive: bool, query: ProductQuery | None = None) -> Any | None:
        """One product, or None; ``query``: the list's filters, which the row must pass too (or None)."""
        if query is None:
            rows = self._fetch(self._product_sql if include_inactive else self._active_product_sql, (product_id,))
        else:
            cte, where, params = self._where(query, include_inactive)
            where += (" AND " if where else " WHERE ") + f"id = {self.p}"
            rows = self._fetch(f"{cte}SELECT {PRODUCT_COLUMNS} FROM products{where}", [*params, product_id])  # noqa: S608
        return rows[0] if rows else None

    def _where(self, query: ProductQuery, include_inactive: bool, *, candidates: str | None = None
               ) -> tuple[str, str, list[Any]]:
        p = self.p
        cte = ""
        clauses: list[str] = []
        params: list[Any] = []
        if query.category is not None:
            # The anchor is cast to the id column's type: PostgreSQL types a bare parameter from its value
            # (smallint for a small id) and then refuses the bigint ids of the recursive part.
            cast = "SIGNED" if self.dialect in ("mysql", "mariadb") else "BIGINT"
            cte = (f"WITH RECURSIVE subtree(id) AS (SELECT CAST({p} AS {cast}) UNION "  # noqa: S608
                   "SELECT c.id FROM categories c JOIN subtree s ON c.parent_id = s.id) ")
            params.append(query.category)
            clauses.append("category_id IN (SELECT id FROM subtree)")
        if not include_inactive:
            clauses.append(f"is_active = {self._true}")
        if query.search:
            if candidates is not None:  # candidates from the index (and rows it has not caught up with), then
                clauses.append(candidates)  # the exact test
                params.append(search.match_expression(query.search))
            pattern = like_pattern(query.search)
            clauses.append("(" + " OR ".join(f"{self._text.format(column)} {self._like}"
                                             for column in ("name", "sku", "description")) + ")")
            params.extend([pattern, pattern, pattern])
        if query.min_price is not None:
            clauses.append(f"price >= {p}")
            params.append(self._decimal(query.min_price))
        if query.max_price is not None:
            clauses.append(f"price <= {p}")
            params.append(self._decimal(query.max_price))
        if query.in_stock is not None:
            clauses.append("stock > 0" if query.in_stock else "stock = 0")
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return cte, where, params

    def _decimal(self, value: Any) -> Any:
        # Django hands SQLite a Decimal as its str() (compared under the column's NUMERIC affinity).
        return str(value) if self.dialect == "sqlite" else value

    def product_page(self, query: ProductQuery, *, include_inactive: bool) -> tuple[int, int, list[Any]] | None:
        """``(count, page number, rows)`` of the page ``query.page`` asks for; None when that page does not
        exist (Django's Paginator: not a whole number, below 1, or past the last page).

        The page's rows are read along the ordering's index, stopping at the page's end (cheap while matches
        are dense), or, for a search whose matches are sparse, from the index's candidates, then sorted."""
        number = page_number_hint(query.page)
        if number is None:
            return None
        order = ", ".join(f"{ORDER_COLUMNS[term[1:]]} DESC" if term.startswith("-") else f"{ORDER_COLUMNS[term]} ASC"
                          for term in query.ordering)
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                candidates = self._candidates(cursor, query)
                cte, where, params = self._where(query, include_inactive, candidates=candidates)
                cursor.execute(f"{cte}SELECT COUNT(*) FROM products{where}", params)  # noqa: S608
                count = int(cursor.fetchall()[0][0])
                number = page_number(query.page, count, query.page_size)
                rows: list[Any] = []
                if number is not None and count:
                    offset = (number - 1) * query.page_size
                    if candidates is not None and not self._sparse(cursor, count, offset + query.page_size):
                        cte, where, params = self._where(query, include_inactive)
                    sql = (f"{cte}SELECT {PRODUCT_COLUMNS} FROM products{where} "  # noqa: S608
                           f"ORDER BY {order} LIMIT {int(query.page_size)} OFFSET {int(offset)}")
                    cursor.execute(sql, params)
                    rows = list(cursor.fetchall())
            finally:
                cursor.close()
            if self.dialect != "sqlite":
                connection.commit()
        finally:
            connection.close()
        return None if number is None else (count, number, rows)

    @staticmethod
    def _sparse(cursor: Any, count: int, needed: int) -> bool:
        """Whether reading the table in order would go through more rows (about ``needed`` x rows / matches)
        than sorting the ``count`` candidates costs (a few times ``count``)."""
        cursor.execute("SELECT MAX(id) FROM products")
        rows = int(cursor.fetchone()[0] or 0)
        return needed * rows > 4 * count * count

    def products_by_ids(self, ids: list[int]) -> list[Any]:
        """``id, sku, name, price, stock, is_active`` of the products among ``ids`` that exist (active or not), in
        id order: the internal batch read other services use."""
        if not ids:
            return []
        marks = ", ".join([self.p] * len(ids))
        sql = f"SELECT id, sku, name, price, stock, is_active FROM products WHERE id IN ({marks}) ORDER BY id"  # noqa: S608
        return self._fetch(sql, list(ids))

    # --- categories ---

    def categories(self) -> list[Any]:
        return self._fetch("SELECT id, name, slug, parent_id FROM categories ORDER BY id ASC")

    def category(self, category_id: int) -> Any | None:
        sql = f"SELECT id, name, slug, parent_id FROM categories WHERE id = {self.p}"  # noqa: S608
        rows = self._fetch(sql, (category_id,))
        return rows[0] if rows else None
