"""Writes of accounts (the styleguide's services): registration, API tokens, the password, the caller's names, and
the address book; each one transaction (SQLAlchemy Core).

**Registration** creates the user as the monolith's ``user_register`` does (username and email the normalised
email; the password hashed with the preferred hasher); the email already taken, or taken by an identical
registration racing this one (the unique username), is DRF's 400 on ``email``. **API tokens** are DRF's: one a
user, got or created at login (a 40-hex key from ``os.urandom(20)``, ``Token.generate_key``), all of the user's
deleted at logout.

**One default address per user**, as the monolith's ``services.address_save`` keeps it: making an address the
default clears the others; a user's only address is the default (created as their first, or edited while it is
their only one, whatever the request says); an edit that does not send ``is_default`` keeps the stored flag;
deleting an address changes no other. The rule spans rows, so the writes of one user's address book take turns:
the transaction first locks the user's row (``SELECT ... FOR UPDATE`` on PostgreSQL and MariaDB) or, on SQLite,
takes the database's write lock (``BEGIN IMMEDIATE``) before it reads anything; only then are the book's flags
read. A flag read before the lock (say, by an edit of the city while another address became the default) would
otherwise leave two defaults, or none. An address deleted meanwhile is a 404, never written again.

A write the database refuses because this copy of the data is read-only (the data is still the monolith's,
before the cutover) is raised as it is: :class:`~.views.View` answers it 503 ``read_only``.
"""

from __future__ import annotations

import binascii
import os
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import Connection, Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .exceptions import NotFound, ValidationFailed
from .models import Address, Token, User

users = cast(Table, User.__table__)
addresses = cast(Table, Address.__table__)
tokens = cast(Table, Token.__table__)

ADDRESS_404: Final = "No Address matches the given query."
EMAIL_TAKEN: Final = "A user with this email already exists."
COLUMNS: Final = (addresses.c.id, addresses.c.user_id, addresses.c.full_name, addresses.c.line1, addresses.c.line2,
                  addresses.c.city, addresses.c.postal_code, addresses.c.country, addresses.c.phone,
                  addresses.c.is_default, addresses.c.created_at)


def now_in(conn: Connection) -> datetime:
    now = datetime.now(UTC)
    # MariaDB's DATETIME has no zone: UTC wall time, like Django writes it.
    return now.replace(tzinfo=None) if conn.dialect.name in ("mysql", "mariadb") else now


def email_taken(engine: Engine, email: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(users.c.id).where(users.c.username == email)).first() is not None


def user_register(engine: Engine, *, email: str, encoded_password: str, first_name: str, last_name: str) -> int:
    """A new active user (not staff), ``email`` normalised already, the password hashed already (slow: outside the
    transaction); their id. The email taken meanwhile (an identical registration raced this one): DRF's 400."""
    try:
        with engine.begin() as conn:
            key = conn.execute(insert(users).values(
                password=encoded_password, last_login=None, is_superuser=False, username=email,
                first_name=first_name, last_name=last_name, email=email, is_staff=False, is_active=True,
                date_joined=now_in(conn))).inserted_primary_key
    except IntegrityError:
        raise ValidationFailed({"email": [EMAIL_TAKEN]}) from None
    assert key is not None
    return int(key[0])


def user_delete(engine: Engine, user_id: int) -> None:
    """A registration undone (its session could not be opened): the user, and what hangs on them (cascade)."""
    with engine.begin() as conn:
        conn.execute(delete(tokens).where(tokens.c.user_id == user_id))
        conn.execute(delete(addresses).where(addresses.c.user_id == user_id))
        conn.execute(delete(users).where(users.c.id == user_id))


def generate_key() -> str:
    """DRF's ``Token.generate_key``."""
    return binascii.hexlify(os.urandom(20)).decode()


def token_for(engine: Engine, user_id: int) -> str:
    """The user's API token, created when they have none (DRF's ``Token.objects.get_or_create(user=user)``; a
    login racing this one may create it first: then that one's)."""
    with engine.connect() as conn:
        key = conn.execute(select(tokens.c.key).where(tokens.c.user_id == user_id)).scalar()
    if key is not None:
        return str(key)
    try:
        with engine.begin() as conn:
            new = generate_key()
            conn.execute(insert(tokens).values(key=new, user_id=user_id, created=now_in(conn)))
            return new
    except IntegrityError:
        with engine.connect() as conn:
            key = conn.execute(select(tokens.c.key).where(tokens.c.user_id == user_id)).scalar_one()
        return str(key)


def tokens_delete(engine: Engine, user_id: int) -> None:
    """Every API token of the user (DRF's logout: ``Token.objects.filter(user=user).delete()``)."""
    with engine.begin() as conn:
        conn.execute(delete(tokens).where(tokens.c.user_id == user_id))


def password_replace(engine: Engine, user_id: int, replaced: str, encoded: str) -> bool:
    """The user's password hash set to ``encoded``, only over ``replaced`` (the hash the caller verified a password
    against: a change made meanwhile by someone else is not overwritten); whether it was."""
    with engine.begin() as conn:
        done = conn.execute(update(users).where(users.c.id == user_id, users.c.password == replaced)
                            .values(password=encoded))
        return done.rowcount == 1


def user_update(engine: Engine, user_id: int, fields: dict[str, str]) -> None:
    """The names the caller sent (``first_name``, ``last_name``); nothing at all when none was sent (Django's
    ``save(update_fields=[])``)."""
    if not fields:
        return
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(**fields))


def _lock_address_book(conn: Connection, user_id: int) -> None:
    """The first statement of the transaction: the writes of one user's address book take turns from here on."""
    if conn.dialect.name == "sqlite":
        # pysqlite begins a transaction only before a write, and lazily (DEFERRED): a read first could see a book
        # another writer is changing, and could not then write. IMMEDIATE takes the write lock now.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(select(users.c.id).where(users.c.id == user_id).with_for_update())


def _address(conn: Connection, address_id: int) -> Any:
    return conn.execute(select(*COLUMNS).where(addresses.c.id == address_id)).one()


def address_save(engine: Engine, user_id: int, address_id: int | None, fields: dict[str, Any]) -> Any:
    """Creates (``address_id`` None) or changes one of the user's addresses with ``fields`` (what the request
    sent, validated); the addresses row as it is now."""
    with engine.begin() as conn:
        _lock_address_book(conn, user_id)
        flags = {row[0]: bool(row[1]) for row in conn.execute(
            select(addresses.c.id, addresses.c.is_default).where(addresses.c.user_id == user_id))}
        creating = address_id is None
        if not creating and address_id not in flags:
            raise NotFound(ADDRESS_404)  # deleted meanwhile: written again, it would come back
        values = dict(fields)
        if "is_default" in fields:
            default = bool(fields["is_default"])
        else:
            default = False if address_id is None else flags[address_id]
        others_default = [pk for pk, flag in flags.items() if flag and pk != address_id]
        if default:
            if others_default:
                conn.execute(update(addresses).where(addresses.c.id.in_(others_default)).values(is_default=False))
        elif len(flags) == (0 if creating else 1):
            default = True  # the only address is the default one
            values["is_default"] = True
        if address_id is None:
            key = conn.execute(insert(addresses).values(
                **{"line2": "", "phone": "", **values, "is_default": default, "user_id": user_id,
                   "created_at": now_in(conn)})).inserted_primary_key
            assert key is not None
            address_id = int(key[0])
        elif values:
            # Only what the request changed: the row as read before the lock may be stale.
            conn.execute(update(addresses).where(addresses.c.id == address_id).values(**values))
        return _address(conn, address_id)


def address_delete(engine: Engine, user_id: int, address_id: int) -> None:
    """Deletes one of the user's addresses (gone already: nothing to do, as Django's ``delete()``)."""
    with engine.begin() as conn:
        _lock_address_book(conn, user_id)
        conn.execute(delete(addresses).where(addresses.c.id == address_id, addresses.c.user_id == user_id))
