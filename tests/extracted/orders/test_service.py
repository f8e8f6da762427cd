"""The orders service in process (its own SQLite file, rows loaded as the data split leaves them): what the
contract test cannot reach cheaply. Rendering of the values each engine hands back, an order without a shipment,
ids past eight digits, identity tokens that are forged, expired or unverifiable, the writes refused with 503
``not_yet``, the models in step with the Alembic history, and the process refusing a database off head."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jwt
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert

from extracted.orders.app import create_app
from extracted.orders.db import make_engine
from extracted.orders.migrate import head_revision, upgrade_head
from extracted.orders.models import Base, order_lines, order_shipments, orders
from extracted.orders.rendering import line_dict, order_number, render_datetime, render_decimal
from strangler.processes import free_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
    from starlette.testclient import TestClient

SECRET = "orders-unit-tests-identity-secret-0123456789"
REPO = Path(__file__).resolve().parents[3]
PLACED = datetime(2026, 12, 4, 10, 30, 0, 123456, tzinfo=UTC)


def mint(user_id: int, *, staff: bool = False, secret: str = SECRET, ttl: int = 60, **overrides: object) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "staff": staff, "iat": now, "exp": now + ttl, "iss": "strangler-router",
              "aud": "strangler-services", **overrides}
    return jwt.encode(claims, secret, algorithm="HS256")


def _order(order_id: int, user_id: int, **extra: Any) -> dict[str, Any]:
    return {"id": order_id, "user_id": user_id, "status": "placed", "total": Decimal("30.00"),
            "ship_full_name": "Åsa Öberg", "ship_line1": "Storgatan 1", "ship_line2": "", "ship_city": "Malmö",
            "ship_postal_code": "211 22", "ship_country": "SE", "created_at": PLACED, "updated_at": PLACED, **extra}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'orders.sqlite3'}")
    upgrade_head(engine)
    with engine.begin() as conn:
        conn.execute(insert(orders), [_order(1, 2), _order(2, 3, status="shipped"),
                                      _order(123456789, 2, total=Decimal("0.10"))])
        conn.execute(insert(order_lines), [
            {"id": 1, "order_id": 1, "product_id": 7, "sku": "SKU-7", "name": "Knife", "unit_price": Decimal("10.00"),
             "quantity": 3},
            {"id": 2, "order_id": 2, "product_id": 7, "sku": "SKU-7", "name": "Knife", "unit_price": Decimal("9.99"),
             "quantity": 1},
            {"id": 3, "order_id": 123456789, "product_id": 8, "sku": "SKU-8", "name": "Cork",
             "unit_price": Decimal("0.05"), "quantity": 2}])
        conn.execute(insert(order_shipments), [{"id": 5, "order_id": 1, "carrier": "dhl", "tracking_number": "",
                                                "status": "pending"}])
    yield engine
    engine.dispose()


@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    monkeypatch.setenv("CATALOG_SERVICE_TOKEN", "catalog-token")
    with TestClient(create_app(engine), base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


# A browser's CSRF cookie and header (a secret of 32 letters and digits, as Django makes them).
CSRF_SECRET = "OrdersTestsBrowserCsrfSecret0123"
CSRF = {"Cookie": f"csrftoken={CSRF_SECRET}", "X-CSRFToken": CSRF_SECRET}


def me(user_id: int = 2, staff: bool = False) -> dict[str, str]:
    """A browser behind the router: its session resolved to an identity token, its CSRF cookie and header passed
    on (a write by session is held to Django's CSRF check: the CSRF tests below)."""
    return {"X-Identity-Token": mint(user_id, staff=staff), **CSRF}


def test_an_order_as_the_monolith_renders_it(client: TestClient) -> None:
    body = client.get("/api/orders/1/", headers=me()).json()
    assert body == {
        "id": 1, "number": "ORD-00000001", "status": "placed", "total": "30.00",
        "lines": [{"id": 1, "product": 7, "sku": "SKU-7", "name": "Knife", "unit_price": "10.00", "quantity": 3,
                   "line_total": "30.00"}],
        "shipping_address": {"full_name": "Åsa Öberg", "line1": "Storgatan 1", "line2": "", "city": "Malmö",
                             "postal_code": "211 22", "country": "SE"},
        "shipment": {"id": 5, "carrier": "dhl", "tracking_number": "", "status": "pending"},
        "created_at": "2026-12-04T10:30:00.123456Z", "updated_at": "2026-12-04T10:30:00.123456Z"}


def test_an_order_without_a_shipment_shows_null_and_long_ids_keep_their_digits(client: TestClient) -> None:
    body = client.get("/api/orders/123456789/", headers=me()).json()
    assert (body["number"], body["shipment"], body["total"]) == ("ORD-123456789", None, "0.10")
    assert body["lines"][0]["line_total"] == "0.10"


def test_customers_see_their_own_staff_see_all(client: TestClient) -> None:
    assert [o["id"] for o in client.get("/api/orders/", headers=me(2)).json()["results"]] == [123456789, 1]
    assert [o["id"] for o in client.get("/api/orders/", headers=me(3)).json()["results"]] == [2]
    assert client.get("/api/orders/", headers=me(4)).json() == {"count": 0, "next": None, "previous": None,
                                                                 "results": []}
    assert client.get("/api/orders/2/", headers=me(2)).status_code == 404
    everything = client.get("/api/orders/?page_size=2", headers=me(1, staff=True)).json()
    assert (everything["count"], [o["id"] for o in everything["results"]]) == (3, [123456789, 2])
    assert everything["next"] == "http://testserver/api/orders/?page=2&page_size=2"


@pytest.mark.parametrize("token", [
    mint(2, secret="another-secret-another-secret-0000"), mint(2, ttl=-60), mint(2, iss="someone"),
    mint(2, aud="elsewhere"), "not-a-jwt", mint(2, sub="abc"),
])
def test_forged_expired_or_malformed_identity_tokens_are_401_never_anonymous(client: TestClient, token: str) -> None:
    for path in ("/api/orders/", "/api/orders/product-references/7/"):
        answer = client.get(path, headers={"X-Identity-Token": token, "X-Service-Token": "catalog-token"})
        assert (answer.status_code, answer.json()) == (401, {"detail": "Invalid token."})
        assert answer.headers["www-authenticate"] == "Token"


def test_a_token_without_a_configured_secret_is_refused(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUTER_IDENTITY_SECRET")
    assert client.get("/api/orders/", headers=me()).status_code == 401


def test_product_references_count_every_line_and_need_staff_or_the_catalog_token(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/api/orders/product-references/7/", headers=me(1, staff=True)).json() == {
        "product": 7, "order_lines": 2}
    assert client.get("/api/orders/product-references/8/", headers={"X-Service-Token": "catalog-token"}).json() == {
        "product": 8, "order_lines": 1}
    assert client.get("/api/orders/product-references/8/", headers=me()).status_code == 403
    monkeypatch.setenv("CATALOG_SERVICE_TOKEN", "")  # unset: nobody holds it, even sending nothing
    assert client.get("/api/orders/product-references/8/", headers={"X-Service-Token": ""}).status_code == 401


def test_the_writes_answer_503_not_yet_after_authentication_and_the_look_up(client: TestClient) -> None:
    answer = client.post("/api/orders/checkout/", headers=me(), json={"address": 1})
    assert answer.status_code == 503
    assert answer.json() == {"detail": "This orders service runs without its checkout saga: checkout is the "
                                       "monolith's here.", "code": "not_yet"}   # an app built without the saga
    assert client.post("/api/orders/1/cancel/", headers=me()).json()["code"] == "not_yet"
    assert client.post("/api/orders/2/cancel/", headers=me()).status_code == 404  # another's: not found first
    assert client.post("/api/orders/checkout/").status_code == 401
    with client.app.state.orders.engine.connect() as conn:  # nothing was written
        assert [r.status for r in conn.execute(orders.select().order_by(orders.c.id))] == ["placed", "shipped",
                                                                                          "placed"]


# --- CSRF: a write by a caller the router resolved from a session cookie --------------------------------------------
# DRF's SessionAuthentication holds it to Django's CSRF check: 403 ``CSRF Failed: <reason>`` right after
# authentication (before the permission, the method's 405 and the order's look-up), nothing written. Reads, token
# callers, anonymous callers and the internal URLs are not checked. The check is the template's (its reasons are held
# to Django's own middleware by tests/strangler/scaffold/test_template_csrf.py); test_contract.py compares with the
# monolith, and the checkout tests (checkout/) write through it with their CSRF token.

CSRF_REFUSALS = [
    ({}, "CSRF cookie not set."),
    ({"Cookie": f"csrftoken={CSRF_SECRET}"}, "CSRF token missing."),
    ({"Cookie": f"csrftoken={CSRF_SECRET}", "X-CSRFToken": "x" * 32},
     "CSRF token from the 'X-Csrftoken' HTTP header incorrect."),
    ({"Cookie": f"csrftoken={CSRF_SECRET}", "X-CSRFToken": "!" * 32},
     "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters."),
    ({"Cookie": "csrftoken=", "X-CSRFToken": CSRF_SECRET}, "CSRF cookie has incorrect length."),
    ({**CSRF, "Origin": "null"}, "Origin checking failed - null does not match any trusted origins."),
]


def _orders_now(client: TestClient) -> list[str]:
    with client.app.state.orders.engine.connect() as conn:
        return [r.status for r in conn.execute(orders.select().order_by(orders.c.id))]


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/orders/checkout/"), ("POST", "/api/orders/1/cancel/"),
                                              ("POST", "/api/orders/2/cancel/"), ("POST", "/api/orders/999/cancel/"),
                                              ("POST", "/api/orders/"), ("DELETE", "/api/orders/1/"),
                                              ("PUT", "/api/orders/product-references/7/")])
def test_a_session_write_without_a_valid_csrf_token_is_403_before_anything_else(
        client: TestClient, method: str, path: str) -> None:
    for staff in (False, True):
        for extra, reason in CSRF_REFUSALS:
            sent = {"X-Identity-Token": mint(1 if staff else 2, staff=staff), **extra}
            response = client.request(method, path, json={"address": 1}, headers=sent)
            assert (response.status_code, response.json()) == (403, {"detail": f"CSRF Failed: {reason}"}), extra
            assert response.headers["vary"] == "Cookie"
    assert _orders_now(client) == ["placed", "shipped", "placed"]


def test_a_session_write_with_its_csrf_token_and_other_callers_go_on(client: TestClient) -> None:
    """Past the check, the handler answers (here: 503 not_yet, the app has no saga; another's order 404; 405)."""
    assert client.post("/api/orders/1/cancel/", headers={**me(), "Origin": "http://testserver"}).status_code == 503
    assert client.post("/api/orders/2/cancel/", headers=me()).status_code == 404
    assert client.delete("/api/orders/1/", headers=me()).status_code == 405
    form = client.post("/api/orders/checkout/", content=f"address=1&csrfmiddlewaretoken={CSRF_SECRET}",
                       headers={"X-Identity-Token": mint(2), "Cookie": f"csrftoken={CSRF_SECRET}",
                                "Content-Type": "application/x-www-form-urlencoded"})
    assert (form.status_code, form.json()["code"]) == (503, "not_yet")
    # Authorization: Token: DRF's token authentication answered, which enforces no CSRF.
    token = {"X-Identity-Token": mint(2), "Authorization": "Token 0123456789abcdef0123456789abcdef01234567"}
    assert client.post("/api/orders/1/cancel/", headers=token).json()["code"] == "not_yet"
    # Reads are never checked; nor is an anonymous caller (the permission's 401), nor an internal URL.
    assert client.get("/api/orders/1/", headers={"X-Identity-Token": mint(2)}).status_code == 200
    assert client.options("/api/orders/", headers={"X-Identity-Token": mint(2)}).status_code == 200
    assert client.post("/api/orders/1/cancel/", headers={"Cookie": "sessionid=abc123"}).status_code == 401
    internal = client.post("/api/orders/internal/checkout/", json={}, headers={"X-Identity-Token": mint(2)})
    assert internal.status_code != 403 and "CSRF" not in internal.text
    assert _orders_now(client) == ["placed", "shipped", "placed"]


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("12.5"), "12.50"), (10, "10.00"), (913.88, "913.88"), (9999999999.99, "9999999999.99"), ("0.1", "0.10"),
])
def test_decimals_from_every_engine(value: Any, text: str) -> None:
    assert render_decimal(value) == text


def test_line_totals_are_exact_on_sqlite_floats() -> None:
    # SQLite hands NUMERIC back as a float; 0.1 * 3 must still be 0.30, as Decimal arithmetic gives it.
    assert line_dict((1, 1, 7, "S", "N", 0.1, 3, None))["line_total"] == "0.30"
    assert line_dict((1, 1, 7, "S", "N", 994.89, 3, None))["line_total"] == "2984.67"


def test_numbers_and_times() -> None:
    assert (order_number(7), order_number(123456789)) == ("ORD-00000007", "ORD-123456789")
    assert render_datetime("2024-01-02 03:04:05") == "2024-01-02T03:04:05Z"
    assert render_datetime(datetime(2024, 1, 2, 3, 4, 5, 120, tzinfo=UTC)) == "2024-01-02T03:04:05.000120Z"


def test_the_models_agree_with_the_alembic_history(engine: Engine) -> None:
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in differences if "alembic_version" not in str(d)] == []


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "extracted.orders", *args], cwd=REPO,  # noqa: S603
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def test_the_process_refuses_a_database_off_head_and_migrate_fixes_it(tmp_path: Path) -> None:
    env = {"ORDERS_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    refused = _run("--port", str(free_port()), env=env)
    assert refused.returncode == 1
    assert f"is at revision <none: empty database>, not at the migrations' head {head_revision()}" in refused.stderr
    assert "python -m extracted.orders migrate" in refused.stderr
    migrated = _run("migrate", env=env)
    assert migrated.returncode == 0 and f"-> {head_revision()}" in migrated.stdout, migrated.stderr
    assert _run("check", env=env).returncode == 0
    bad = _run("check", env={"ORDERS_DATABASE_URL": "oracle://nowhere/x"})
    assert bad.returncode == 1 and "ORDERS_DATABASE_URL: 'oracle://nowhere/x' is not a database URL" in bad.stderr
