"""Stock reservations (extracted/catalog/reservations.py): stock taken for a checkout that comes back by itself if
the checkout never finishes. Idempotent by the caller's key, committed or released once whatever races, expired
by the sweeper; the models agree with the Alembic history. In the PostgreSQL pass the service's database is on
PostgreSQL (scratch_database follows MONOLITH_DATABASE_URL's kind)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select, update

from extracted.catalog import reservations
from extracted.catalog.db import make_engine
from extracted.catalog.models import Base, products
from extracted.catalog.models import reservations as reservation_table
from tests.extracted.catalog.conftest import SERVICE_TOKEN, items
from tests.support.servers import scratch_database

RESERVATIONS = "/api/catalog/reservations/"
AUTH = {"X-Service-Token": SERVICE_TOKEN}


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """The service's database of the suite's kind (PostgreSQL in the PostgreSQL pass: the races run there)."""
    with scratch_database(tmp_path / "db") as url:
        yield url


@pytest.fixture
def client(client, monkeypatch):  # the shared client, with the service token configured
    monkeypatch.setenv("CATALOG_SERVICE_TOKEN", SERVICE_TOKEN)
    return client


def _reserve(client: Any, key: str, *pairs: tuple[int, int], ttl: float | None = None) -> Any:
    body = {**items(*pairs), **({"ttl_seconds": ttl} if ttl is not None else {})}
    return client.post(RESERVATIONS, json=body, headers={**AUTH, "Idempotency-Key": key})


def _age(engine: Engine, reservation_id: str, seconds: float = 3600) -> None:
    """Moves a reservation's expiry into the past (instead of waiting for it)."""
    with engine.begin() as conn:
        row = conn.execute(select(reservation_table.c.expires_at).where(reservation_table.c.id == reservation_id)).one()
        conn.execute(update(reservation_table).where(reservation_table.c.id == reservation_id)
                     .values(expires_at=row.expires_at.replace(year=row.expires_at.year - 1)))


def test_a_reservation_takes_stock_and_a_retry_with_its_key_takes_nothing_more(client, shop, stock) -> None:
    made = _reserve(client, "checkout-1", (1, 2), (2, 1))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["state"] == "held" and body["items"] == [{"product": 1, "quantity": 2}, {"product": 2, "quantity": 1}]
    assert body["expires_at"].endswith("Z")
    assert stock(1, 2) == {1: 3, 2: 2}
    again = _reserve(client, "checkout-1", (2, 1), (1, 2))   # a retry: same items in another order
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    # The retry (a saga's step run again after a crash) needs the products the order lines keep as well.
    assert [(p["product"], p["sku"], p["name"], p["price"]) for p in again.json()["products"]] == [
        (p["product"], p["sku"], p["name"], p["price"]) for p in body["products"]]
    assert stock(1, 2) == {1: 3, 2: 2}
    other = _reserve(client, "checkout-1", (1, 3))
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    assert client.get(f"{RESERVATIONS}{body['id']}/", headers=AUTH).json()["state"] == "held"


def test_commit_keeps_the_stock_and_release_gives_it_back_each_once(client, shop, stock) -> None:
    kept = _reserve(client, "k", (1, 2)).json()["id"]
    given = _reserve(client, "g", (2, 2)).json()["id"]
    for _ in range(2):   # both calls are idempotent
        assert client.post(f"{RESERVATIONS}{kept}/commit/", headers=AUTH).json()["state"] == "committed"
        assert client.post(f"{RESERVATIONS}{given}/release/", headers=AUTH).json()["state"] == "released"
    assert stock(1, 2) == {1: 3, 2: 3}
    refused = client.post(f"{RESERVATIONS}{kept}/release/", headers=AUTH)
    assert refused.status_code == 409 and refused.json()["code"] == "reservation_conflict"
    late = client.post(f"{RESERVATIONS}{given}/commit/", headers=AUTH)
    assert late.status_code == 409 and late.json()["state"] == "released"


def test_a_reservation_nobody_finishes_returns_its_stock_by_itself(client, engine, shop, stock) -> None:
    forgotten = _reserve(client, "forgotten", (1, 4)).json()["id"]
    kept = _reserve(client, "kept", (5, 1)).json()["id"]
    assert stock(1, 5) == {1: 1, 5: 3}
    _age(engine, forgotten)
    assert reservations.expire_due(engine) == 1
    assert reservations.expire_due(engine) == 0        # once
    assert stock(1, 5) == {1: 5, 5: 3}
    assert client.get(f"{RESERVATIONS}{forgotten}/", headers=AUTH).json()["state"] == "expired"
    late = client.post(f"{RESERVATIONS}{forgotten}/commit/", headers=AUTH)
    assert late.status_code == 409 and late.json()["state"] == "expired"
    _age(engine, kept)   # past its time but not swept yet: a commit finds it late, expires it, refuses
    assert client.post(f"{RESERVATIONS}{kept}/commit/", headers=AUTH).status_code == 409
    assert stock(5) == {5: 4}


def test_the_service_sweeps_expired_reservations_itself(client, engine, shop, stock, monkeypatch) -> None:
    held = _reserve(client, "swept", (2, 3), ttl=1).json()["id"]
    assert stock(2) == {2: 0}
    deadline = time.monotonic() + 10
    while stock(2) != {2: 3} and time.monotonic() < deadline:   # the lifespan's sweeper, every 2 s
        time.sleep(0.2)
    assert stock(2) == {2: 3}
    assert client.get(f"{RESERVATIONS}{held}/", headers=AUTH).json()["state"] == "expired"


def test_a_commit_racing_the_expiry_moves_the_stock_once(db_url, engine, shop, stock) -> None:
    engines = [make_engine(db_url) for _ in range(6)]
    try:
        for round_ in range(5):
            view, _ = reservations.reserve(engine, lambda: items((1, 1)), f"race-{round_}")
            _age(engine, view["id"])
            held: str = view["id"]
            calls: list[Callable[[], Any]] = [
                *(lambda e=e: reservations.expire_due(e) for e in engines[:3]),
                *(lambda e=e, held=held: reservations.commit(e, held) for e in engines[3:]),
            ]
            outcomes = _race(calls)
            state = reservations.read(engine, view["id"])["state"]
            assert state in ("expired", "committed"), outcomes
            assert stock(1) == {1: 5 if state == "expired" else 5 - 1 - round_ + _committed(engine)}, outcomes
    finally:
        for e in engines:
            e.dispose()


def _committed(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(reservation_table.c.id).where(reservation_table.c.state == "committed")).all())


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - the outcome is what is checked
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.parametrize(("headers", "body", "field"), [
    ({}, items((1, 1)), "idempotency_key"),
    ({"Idempotency-Key": "x" * 201}, items((1, 1)), "idempotency_key"),
    ({"Idempotency-Key": "k"}, {**items((1, 1)), "ttl_seconds": 0}, "ttl_seconds"),
    ({"Idempotency-Key": "k"}, {**items((1, 1)), "ttl_seconds": "soon"}, "ttl_seconds"),
    ({"Idempotency-Key": "k"}, {"items": []}, "items"),
])
def test_a_bad_reserve_is_a_400_naming_the_field(client, shop, stock, headers, body, field) -> None:
    answer = client.post(RESERVATIONS, json=body, headers={**AUTH, **headers})
    assert answer.status_code == 400 and field in answer.json(), answer.text
    assert stock(1) == {1: 5}


def test_reservations_answer_only_other_services_and_unknown_ids_are_404(client, shop) -> None:
    assert client.post(RESERVATIONS, json=items((1, 1)), headers={"Idempotency-Key": "k"}).status_code == 401
    assert client.get(f"{RESERVATIONS}00000000-0000-0000-0000-000000000000/", headers=AUTH).status_code == 404
    assert client.get(f"{RESERVATIONS}not-an-id/", headers=AUTH).status_code == 404


def test_out_of_stock_is_the_monoliths_409_and_takes_nothing(client, shop, stock) -> None:
    short = _reserve(client, "short", (1, 2), (3, 2))
    assert short.status_code == 409 and short.json()["code"] == "out_of_stock"
    assert stock(1, 3) == {1: 5, 3: 1}
    assert _reserve(client, "short", (1, 2), (3, 1)).status_code == 201   # the key was not used up


def test_the_models_agree_with_the_alembic_history(engine: Engine) -> None:
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in differences if "products_search" not in str(d) and "alembic_version" not in str(d)] == []
    assert products.name in Base.metadata.tables


RETURNS = "/api/catalog/stock/returns/"


def test_a_return_gives_stock_back_once_per_key(client, shop, stock) -> None:
    """A cancelled order's stock (taken long ago: no reservation holds it) comes back once, however often the
    cancel's step asks."""
    first = client.post(RETURNS, json=items((1, 2), (2, 1)), headers={**AUTH, "Idempotency-Key": "cancel-7"})
    assert first.status_code == 201, first.text
    assert first.json()["state"] == "returned" and stock(1, 2) == {1: 7, 2: 4}
    again = client.post(RETURNS, json=items((2, 1), (1, 2)), headers={**AUTH, "Idempotency-Key": "cancel-7"})
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert stock(1, 2) == {1: 7, 2: 4}
    other = client.post(RETURNS, json=items((1, 1)), headers={**AUTH, "Idempotency-Key": "cancel-7"})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    # a reserve's key is not a return's: the same key with the same items is another request
    assert _reserve(client, "cancel-7", (1, 2), (2, 1)).status_code == 409
    assert client.post(RETURNS, json=items((1, 1)), headers={"Idempotency-Key": "k"}).status_code == 401
    assert client.post(RETURNS, json=items((1, 1)), headers=AUTH).json().keys() == {"idempotency_key"}
    assert stock(1, 2) == {1: 7, 2: 4}


def test_a_reservation_is_released_by_its_key_by_a_caller_that_never_learnt_its_id(client, shop, stock) -> None:
    """A saga whose reserve got no answer (made or not?) gives the stock back by the key it sent."""
    release = "/api/catalog/reservations/release/"
    nothing = client.post(release, headers={**AUTH, "Idempotency-Key": "never-made"})
    assert (nothing.status_code, nothing.json()["id"]) == (200, None)
    made = _reserve(client, "lost-answer", (1, 2)).json()
    assert stock(1) == {1: 3}
    released = client.post(release, headers={**AUTH, "Idempotency-Key": "lost-answer"})
    assert (released.status_code, released.json()["id"], released.json()["state"]) == (200, made["id"], "released")
    assert client.post(release, headers={**AUTH, "Idempotency-Key": "lost-answer"}).json()["state"] == "released"
    assert stock(1) == {1: 5}
    assert client.post(release, headers=AUTH).status_code == 400
    assert client.post(release, headers={"Idempotency-Key": "lost-answer"}).status_code == 401
