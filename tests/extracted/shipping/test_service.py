"""The shipping service in process (its own SQLite file, rows loaded as the data split leaves them): the status
machine and its history and events, the internal shipment API the checkout saga calls (the same answer however
often a step runs again), the filters, and who sees what: a customer never reaches another's shipment through
any endpoint (the contract test holds the rest against the monolith)."""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy import Engine, func, insert, select

from extracted.shipping.app import create_app
from extracted.shipping.db import make_engine
from extracted.shipping.migrate import upgrade_head
from extracted.shipping.models import Shipment, ShipmentEvent, outbox

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
    from starlette.testclient import TestClient

SECRET = "shipping-unit-tests-identity-secret-0123456789"
ORDERS_TOKEN = "orders-service-token-for-shipping-tests"  # noqa: S105 - a test's own
MADE = datetime(2026, 12, 4, 10, 30, 0, 123456, tzinfo=UTC)
S = "/api/shipping/shipments/"
REQUEST = "/api/shipping/internal/shipments/"
CANCEL = "/api/shipping/internal/shipments/cancel/"
CUSTOMER, OTHER, STAFF = 2, 3, 1
shipments, shipment_events = Shipment.__table__, ShipmentEvent.__table__


def mint(user_id: int, *, staff: bool = False) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "staff": staff, "iat": now, "exp": now + 60, "iss": "strangler-router",
                       "aud": "strangler-services"}, SECRET, algorithm="HS256")


# A browser's CSRF cookie and header (a secret of 32 letters and digits, as Django makes them).
CSRF_SECRET = "ShippingTestsBrowserCsrfSecret01"
CSRF = {"cookie": f"csrftoken={CSRF_SECRET}", "x-csrftoken": CSRF_SECRET}


def who(user_id: int, *, staff: bool = False) -> dict[str, str]:
    """A browser behind the router: its session resolved to an identity token, its CSRF cookie and header passed
    on (a write by session is held to Django's CSRF check: test_csrf.py)."""
    return {"x-identity-token": mint(user_id, staff=staff), **CSRF}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'shipping.sqlite3'}")
    upgrade_head(engine)
    with engine.begin() as conn:
        conn.execute(insert(shipments), [  # type: ignore[arg-type]
            {"id": 1, "order_id": 11, "user_id": CUSTOMER, "carrier": "dhl", "tracking_number": "", "status": "pending",
             "created_at": MADE, "updated_at": MADE},
            {"id": 2, "order_id": 12, "user_id": OTHER, "carrier": "ups", "tracking_number": "TRK-2",
             "status": "shipped", "created_at": MADE, "updated_at": MADE},
            {"id": 3, "order_id": 13, "user_id": CUSTOMER, "carrier": "postal", "tracking_number": "",
             "status": "packed", "created_at": MADE, "updated_at": MADE}])
        conn.execute(insert(shipment_events), [  # type: ignore[arg-type]
            {"id": 1, "shipment_id": 1, "status": "pending", "note": "", "created_at": MADE},
            {"id": 2, "shipment_id": 2, "status": "pending", "note": "", "created_at": MADE},
            {"id": 3, "shipment_id": 2, "status": "packed", "note": "", "created_at": MADE},
            {"id": 4, "shipment_id": 2, "status": "shipped", "note": "off", "created_at": MADE},
            {"id": 5, "shipment_id": 3, "status": "pending", "note": "", "created_at": MADE},
            {"id": 6, "shipment_id": 3, "status": "packed", "note": "", "created_at": MADE}])
    yield engine
    engine.dispose()


@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    monkeypatch.setenv("ORDERS_SERVICE_TOKEN", ORDERS_TOKEN)
    with TestClient(create_app(engine), base_url="http://127.0.0.1") as test_client:
        yield test_client


def events_of(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [json.loads(row[0]) for row in conn.execute(select(outbox.c.payload).order_by(outbox.c.id))]


def test_a_customer_sees_only_their_shipments_on_every_endpoint(client: TestClient) -> None:
    mine = client.get(S, headers=who(CUSTOMER))
    assert mine.status_code == 200
    assert [s["id"] for s in mine.json()["results"]] == [3, 1]
    assert client.get(S + "2/", headers=who(CUSTOMER)).status_code == 404  # another's: not found, never 403
    assert client.get(S + "?order=12", headers=who(CUSTOMER)).json()["count"] == 0
    assert client.post(S + "2/status/", json={"status": "delivered"}, headers=who(CUSTOMER)).status_code == 403
    assert client.post(S + "1/status/", json={"status": "packed"}, headers=who(CUSTOMER)).status_code == 403
    assert [s["id"] for s in client.get(S, headers=who(STAFF, staff=True)).json()["results"]] == [3, 2, 1]
    anonymous = client.get(S + "1/")
    assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, "Token")
    # The internal API is the saga's: a shopper's credential opens nothing there.
    assert client.post(REQUEST, json={"order": 99, "user": CUSTOMER}, headers=who(STAFF, staff=True)).status_code \
        == 401


def test_a_shipment_renders_as_the_monolith_renders_it(client: TestClient) -> None:
    body = client.get(S + "2/", headers=who(OTHER)).json()
    assert body == {"id": 2, "order": 12, "carrier": "ups", "tracking_number": "TRK-2", "status": "shipped",
                    "created_at": "2026-12-04T10:30:00.123456Z", "updated_at": "2026-12-04T10:30:00.123456Z",
                    "events": [{"status": s, "note": n, "created_at": "2026-12-04T10:30:00.123456Z"}
                               for s, n in (("pending", ""), ("packed", ""), ("shipped", "off"))]}


@pytest.mark.parametrize(("query", "status", "body"), [
    ("?status=packed", 200, [3]),
    ("?order=11", 200, [1]),
    ("?order=11.0", 200, [1]),
    ("?status=&order=", 200, [3, 2, 1]),
    ("?status=PACKED", 400, {"status": ["Select a valid choice. PACKED is not one of the available choices."]}),
    ("?order=x&status=null", 400, {"order": ["Enter a whole number."],
                                   "status": ["Select a valid choice. null is not one of the available choices."]}),
    ("?order=0", 400, {"order": ["Ensure this value is greater than or equal to 1."]}),
    ("?order=%20", 400, {"order": ["Enter a whole number."]}),
])
def test_the_list_filters(client: TestClient, query: str, status: int, body: Any) -> None:
    response = client.get(S + query, headers=who(STAFF, staff=True))
    assert response.status_code == status
    assert ([s["id"] for s in response.json()["results"]] if status == 200 else response.json()) == body


def test_the_filters_apply_to_one_shipment_too(client: TestClient) -> None:
    staff = who(STAFF, staff=True)
    assert client.get(S + "1/?status=packed", headers=staff).status_code == 404
    assert client.get(S + "1/?order=x", headers=staff).status_code == 400
    assert client.post(S + "1/status/?status=packed", json={"status": "packed"}, headers=staff).status_code == 404
    moved = client.post(S + "1/status/?status=pending", json={"status": "packed"}, headers=staff)
    assert (moved.status_code, moved.json()["status"]) == (200, "packed")  # answered unfiltered, as the monolith


def test_the_status_machine_with_its_history_and_events(client: TestClient, engine: Engine) -> None:
    staff = who(STAFF, staff=True)
    packed = client.post(S + "1/status/", json={"status": "packed", "note": "boxed"}, headers=staff)
    assert packed.status_code == 200
    assert [(e["status"], e["note"]) for e in packed.json()["events"]] == [("pending", ""), ("packed", "boxed")]
    no_tracking = client.post(S + "1/status/", json={"status": "shipped"}, headers=staff)
    assert (no_tracking.status_code, no_tracking.json()) == (
        400, {"tracking_number": ["A tracking number is required to ship."]})
    shipped = client.post(S + "1/status/", data={"status": "shipped", "tracking_number": "TRK-77", "carrier": "ups"},
                          headers=staff)  # a form, as the monolith's parsers take it
    assert shipped.json()["tracking_number"] == "TRK-77" and shipped.json()["carrier"] == "ups"
    backwards = client.post(S + "1/status/", json={"status": "packed"}, headers=staff)
    assert (backwards.status_code, backwards.json()) == (409, {
        "detail": "Cannot move shipment 1 from shipped to packed (allowed: delivered, in_transit).",
        "code": "invalid_transition", "current": "shipped"})
    with engine.connect() as conn:
        versions = [row[0] for row in conn.execute(select(shipment_events.c.id).where(
            shipment_events.c.shipment_id == 1).order_by(shipment_events.c.id))]
    changes = [e["data"] for e in events_of(engine)]
    assert changes == [
        {"shipment": 1, "order": 11, "status": "packed", "carrier": "dhl", "tracking_number": "",
         "version": versions[1]},
        {"shipment": 1, "order": 11, "status": "shipped", "carrier": "ups", "tracking_number": "TRK-77",
         "version": versions[2]}]
    assert all(e["subject"] == "shipping.shipment.changed" and e["source"] == "shipping" for e in events_of(engine))
    assert versions[1] > 6  # past the copied history: a consumer keeps the newest version


@pytest.mark.parametrize(("body", "errors"), [
    ({}, {"status": ["This field is required."]}),
    ({"status": "cancelled"}, {"status": ['"cancelled" is not a valid choice.']}),
    ({"status": None, "note": None, "tracking_number": None, "carrier": None},
     {"status": ["This field may not be null."], "note": ["This field may not be null."],
      "tracking_number": ["This field may not be null."], "carrier": ["This field may not be null."]}),
    ({"status": [1], "note": "x" * 501, "tracking_number": "", "carrier": ""},
     {"status": ['"[1]" is not a valid choice.'], "note": ["Ensure this field has no more than 500 characters."],
      "tracking_number": ["This field may not be blank."], "carrier": ['"" is not a valid choice.']}),
    ({"status": "packed", "tracking_number": "a\x00b"},
     {"tracking_number": ["Null characters are not allowed.", "4-64 letters, digits or dashes."]}),
    ([], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
])
def test_bad_status_changes_name_each_field_and_change_nothing(client: TestClient, engine: Engine, body: Any,
                                                                errors: Any) -> None:
    response = client.post(S + "1/status/", json=body, headers=who(STAFF, staff=True))
    assert (response.status_code, response.json()) == (400, errors)
    assert client.get(S + "1/", headers=who(STAFF, staff=True)).json()["status"] == "pending"
    assert events_of(engine) == []


def test_two_staff_moving_one_shipment_at_once_cannot_both_win(engine: Engine, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    """One conditional UPDATE: of racing changes from the same status, one moves it, the others get 409."""
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    answers: list[int] = []
    with TestClient(create_app(engine), base_url="http://127.0.0.1") as test_client:
        start = threading.Barrier(4)

        def move() -> None:
            start.wait()
            answers.append(test_client.post(S + "1/status/", json={"status": "packed"},
                                            headers=who(STAFF, staff=True)).status_code)

        threads = [threading.Thread(target=move) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(answers) == [200, 409, 409, 409]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(shipment_events).where(
            shipment_events.c.shipment_id == 1)).scalar() == 2
    assert len(events_of(engine)) == 1


def test_the_sagas_shipment_request_is_the_same_answer_every_time(client: TestClient, engine: Engine) -> None:
    token = {"x-service-token": ORDERS_TOKEN}
    first = client.post(REQUEST, json={"order": 4242, "user": CUSTOMER, "carrier": "dhl"}, headers=token)
    assert first.status_code == 201
    body = first.json()
    assert body == {"id": body["id"], "order": 4242, "carrier": "dhl", "tracking_number": "", "status": "pending"}
    again = client.post(REQUEST, json={"order": 4242, "user": CUSTOMER, "carrier": "dhl"}, headers=token)
    assert (again.status_code, again.json()) == (200, body)
    other = client.post(REQUEST, json={"order": 4242, "user": OTHER, "carrier": "dhl"}, headers=token)
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_conflict")
    assert [s["id"] for s in client.get(S, headers=who(CUSTOMER)).json()["results"]][0] == body["id"]
    assert [e["data"]["status"] for e in events_of(engine)] == ["pending"]
    bad = client.post(REQUEST, json={"order": 0}, headers=token)
    assert (bad.status_code, bad.json()) == (400, {"order": ["Ensure this value is greater than or equal to 1."],
                                                   "user": ["This field is required."]})


def test_the_sagas_cancel_is_the_same_answer_every_time(client: TestClient, engine: Engine) -> None:
    token = {"x-service-token": ORDERS_TOKEN}
    assert client.post(CANCEL, json={"order": 999}, headers=token).json() == {"shipment": None}
    first = client.post(CANCEL, json={"order": 11}, headers=token)
    assert (first.status_code, first.json()["status"]) == (200, "cancelled")
    assert client.post(CANCEL, json={"order": 11}, headers=token).json() == first.json()
    on_its_way = client.post(CANCEL, json={"order": 12}, headers=token)
    assert (on_its_way.status_code, on_its_way.json()) == (409, {
        "detail": "Shipment 2 is already shipped.", "code": "invalid_transition", "current": "shipped"})
    assert [(e["data"]["shipment"], e["data"]["status"]) for e in events_of(engine)] == [(1, "cancelled")]


@pytest.mark.parametrize("url", [REQUEST, CANCEL])
def test_only_the_orders_service_token_opens_the_internal_api(client: TestClient, url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.post(url, json={"order": 1, "user": 1}).status_code == 401
    wrong = client.post(url, json={"order": 1, "user": 1}, headers={"x-service-token": "nope"})
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "Invalid service token.")
    monkeypatch.setenv("ORDERS_SERVICE_TOKEN", "")
    assert client.post(url, json={"order": 1, "user": 1}, headers={"x-service-token": ""}).status_code == 503


# --- CSRF: a write by a caller the router resolved from a session cookie --------------------------------------------
# DRF's SessionAuthentication holds it to Django's CSRF check: 403 ``CSRF Failed: <reason>`` right after
# authentication (before the permission's 403 and the method's 405), nothing moved. Reads, token callers, anonymous
# callers and the saga's internal URLs are not checked. The check is the template's (its reasons are held to Django's
# own middleware by tests/strangler/scaffold/test_template_csrf.py); test_contract.py compares with the monolith.

CSRF_REFUSALS = [
    ({}, "CSRF cookie not set."),
    ({"cookie": f"csrftoken={CSRF_SECRET}"}, "CSRF token missing."),
    ({"cookie": f"csrftoken={CSRF_SECRET}", "x-csrftoken": "x" * 64},
     "CSRF token from the 'X-Csrftoken' HTTP header incorrect."),
    ({"cookie": "csrftoken=" + "x" * 33, "x-csrftoken": CSRF_SECRET}, "CSRF cookie has incorrect length."),
    ({**CSRF, "origin": "http://evil.example"},
     "Origin checking failed - http://evil.example does not match any trusted origins."),
]


def session(user_id: int = STAFF, *, staff: bool = True) -> dict[str, str]:
    """A browser logged in by session, as the router passes it on: the identity token alone says who it is."""
    return {"x-identity-token": mint(user_id, staff=staff)}


def status_of(engine: Engine, shipment: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(shipments.c.status).where(shipments.c.id == shipment)).scalar_one())


@pytest.mark.parametrize(("method", "path"), [("POST", S + "1/status/"), ("PUT", S + "1/status/"),
                                              ("POST", S), ("DELETE", S + "1/")])
@pytest.mark.parametrize("staff", [True, False])
def test_a_session_write_without_a_valid_csrf_token_is_403_before_permission_and_method(
        client: TestClient, engine: Engine, method: str, path: str, staff: bool) -> None:
    caller = session() if staff else session(CUSTOMER, staff=False)
    for extra, reason in CSRF_REFUSALS:
        response = client.request(method, path, json={"status": "packed"}, headers={**caller, **extra})
        assert (response.status_code, response.json()) == (403, {"detail": f"CSRF Failed: {reason}"}), extra
        assert response.headers["vary"] == "Cookie"
    assert status_of(engine, 1) == "pending" and events_of(engine) == []


def test_a_session_write_with_its_csrf_token_goes_on(client: TestClient, engine: Engine) -> None:
    moved = client.post(S + "1/status/", json={"status": "packed"},
                        headers={**session(), **CSRF, "origin": "http://127.0.0.1"})  # this host's Origin, over HTTP
    assert (moved.status_code, moved.json()["status"]) == (200, "packed")
    # A form's csrfmiddlewaretoken field stands for the header.
    form = client.post(S + "1/status/",
                       content=f"status=shipped&tracking_number=TRK-9&csrfmiddlewaretoken={CSRF_SECRET}",
                       headers={**session(), "cookie": f"csrftoken={CSRF_SECRET}",
                                "content-type": "application/x-www-form-urlencoded"})
    assert (form.status_code, form.json()["status"]) == (200, "shipped"), form.text
    assert status_of(engine, 1) == "shipped"
    # After the check, the permission and the method answer as before.
    refused = client.post(S + "1/status/", json={"status": "in_transit"},
                          headers={**session(CUSTOMER, staff=False), **CSRF})
    assert (refused.status_code, refused.json()) == (403, {
        "detail": "You do not have permission to perform this action."})
    assert client.put(S + "1/status/", json={}, headers={**session(), **CSRF}).status_code == 405


def test_reads_token_callers_anonymous_callers_and_the_internal_api_are_not_checked(client: TestClient,
                                                                                    engine: Engine) -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        assert client.request(method, S + "1/", headers=session()).status_code == 200
    token = {**session(), "authorization": "Token 0123456789abcdef0123456789abcdef01234567"}
    moved = client.post(S + "1/status/", json={"status": "packed"}, headers=token)
    assert (moved.status_code, moved.json()["status"]) == (200, "packed")
    anonymous = client.post(S + "1/status/", json={"status": "delivered"}, headers={"cookie": "sessionid=abc123"})
    assert (anonymous.status_code, anonymous.json()) == (401, {
        "detail": "Authentication credentials were not provided."})
    assert status_of(engine, 1) == "packed"
    made = client.post(REQUEST, json={"order": 99, "user": CUSTOMER},
                       headers={"x-service-token": ORDERS_TOKEN, **session(), "cookie": "sessionid=abc123"})
    assert made.status_code == 201, made.text
