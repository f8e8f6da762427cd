"""Reads of the accounts (the styleguide's selectors): hand-written SQL on the engine's pooled DBAPI
connections.

A user's address book is theirs alone, as the monolith's ``selectors.address_list`` scopes it: every look-up of
an address names its user, so another user's address is simply not found (a 404, never a 403). Lists are in id
order (the model's ``Meta.ordering``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from sqlalchemy import Engine

USER_COLUMNS: Final = "id, email, first_name, last_name, is_staff, date_joined, is_active"
ADDRESS_COLUMNS: Final = ("id, user_id, full_name, line1, line2, city, postal_code, country, phone, is_default, "
                          "created_at")

T = TypeVar("T")


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

    def _first(self, sql: str, params: tuple[Any, ...]) -> Any | None:
        rows = self._read(lambda cursor: self._run(cursor, sql, params))
        return rows[0] if rows else None

    def user(self, user_id: int) -> Any | None:
        """A users row (:data:`USER_COLUMNS`), or None."""
        return self._first(f"SELECT {USER_COLUMNS} FROM users WHERE id = {self.p}", (user_id,))  # noqa: S608

    def token_user(self, key: str) -> Any | None:
        """The users row (:data:`USER_COLUMNS`) of the token ``key``, or None when no token has that key."""
        columns = ", ".join(f"u.{name.strip()}" for name in USER_COLUMNS.split(","))
        return self._first(f"SELECT {columns} FROM tokens t JOIN users u ON u.id = t.user_id "  # noqa: S608
                           f"WHERE t.{self._quoted('key')} = {self.p}", (key,))

    def address_list(self, user_id: int) -> list[Any]:
        """The user's addresses (:data:`ADDRESS_COLUMNS`), in id order."""
        return self._read(lambda cursor: self._run(
            cursor, f"SELECT {ADDRESS_COLUMNS} FROM addresses WHERE user_id = {self.p} ORDER BY id",  # noqa: S608
            (user_id,)))

    def address(self, user_id: int, address_id: int) -> Any | None:
        """One of the user's addresses, or None (another user's is not theirs: None too)."""
        return self._first(f"SELECT {ADDRESS_COLUMNS} FROM addresses "  # noqa: S608
                           f"WHERE id = {self.p} AND user_id = {self.p}", (address_id, user_id))

    def _quoted(self, name: str) -> str:
        # ``key`` is a reserved word in MariaDB.
        return f"`{name}`" if self.dialect in ("mysql", "mariadb") else f'"{name}"'
