"""An owner the checkout needs is inside a cutover's write freeze (the router answers its writes 503
``write_freeze`` with Retry-After) for longer than the saga's step tries: the client is told what the freeze tells
it (503 ``write_freeze``, the owner's Retry-After; nothing done), not that an owner is down, and every owner holds
what it held before (the compensations wait the freeze out). The router in front of the shipments' owner is a small
stand-in that freezes for a few seconds, then passes writes on (the freeze itself is tested in tests/router/)."""

from __future__ import annotations

import json
import pickle
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from extracted.orders.checkout.calls import Unreachable, frozen_refusal
from tests.extracted.orders.conftest import CSRF, Stage, mint

RETRY_AFTER = "4"


FREEZE_SECONDS = 4.0   # longer than a forward step's tries (0.2 + 0.4 + 0.8 s and the calls)


class _Router(BaseHTTPRequestHandler):
    """The router in front of the shipments' owner during its cutover: every write is answered 503
    ``write_freeze`` for :data:`FREEZE_SECONDS` from the first one it sees, then passed to the owner."""

    owner = ""
    frozen_since: float | None = None
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        sent = self.rfile.read(int(self.headers.get("content-length") or 0))
        with self.lock:
            since = type(self).frozen_since = type(self).frozen_since or time.monotonic()
        if time.monotonic() - since < FREEZE_SECONDS:
            status, body = 503, json.dumps({"detail": "This route is frozen for a cutover; retry shortly.",
                                            "code": "write_freeze", "route": "shipping-writes"}).encode()
            headers = {"content-type": "application/json", "retry-after": RETRY_AFTER}
        else:
            passed = httpx.post(self.owner + self.path, content=sent, timeout=30,
                                headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
            status, body = passed.status_code, passed.content
            headers = {"content-type": passed.headers.get("content-type", "application/json")}
        self.send_response(status)
        for name, value in {**headers, "content-length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return


@pytest.fixture
def frozen_shipping(stage: Stage) -> Iterator[str]:
    handler = type("Router", (_Router,), {"owner": stage.shop.url, "frozen_since": None})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_freeze_that_outlasts_the_tries_is_answered_as_a_freeze_and_nothing_is_ordered(
        stage: Stage, frozen_shipping: str) -> None:
    knife = stage.product(stock=5)
    user = stage.new_user()
    stage.fill_cart(user, {knife: 2})
    stage.start_orders(ORDERS_SHIPPING_URL=frozen_shipping)
    try:
        answer = stage.checkout(user, key="during-the-freeze")
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "write_freeze" and "shipping" in answer.json()["detail"], answer.text
        assert answer.headers["retry-after"] == RETRY_AFTER
        assert stage.orders_of(user) == [] and stage.stock(knife) == 5
        [workflow] = stage.workflow_of(user)
        assert stage.reservations_of(workflow) == [(workflow, "released")]
        assert stage.cart_of(user) == {knife: 2}
        again = stage.checkout(user, key="during-the-freeze")   # the same key: the same answer, nothing twice
        assert (again.status_code, again.json()["code"]) == (503, "write_freeze")
    finally:
        stage.stop_orders()
    # Once the freeze is over, a new checkout places the order.
    stage.start_orders()
    try:
        placed = stage.checkout(user, key="after-the-freeze")
        assert placed.status_code == 201, placed.text
        assert stage.stock(knife) == 3
    finally:
        stage.stop_orders()


def test_a_cancel_during_the_freeze_is_answered_as_a_freeze_and_changes_nothing(
        stage: Stage, frozen_shipping: str) -> None:
    knife = stage.product(stock=5)
    user = stage.new_user()
    stage.fill_cart(user, {knife: 1})
    stage.start_orders()
    try:
        order = stage.checkout(user).json()
    finally:
        stage.stop_orders()
    stage.start_orders(ORDERS_SHIPPING_URL=frozen_shipping)
    try:
        answer = httpx.post(f"{stage.orders_url}/api/orders/{order['id']}/cancel/", timeout=60,
                            headers={"X-Identity-Token": mint(user), "Host": "localhost", **CSRF})
        assert (answer.status_code, answer.json()["code"]) == (503, "write_freeze"), answer.text
        assert answer.headers["retry-after"] == RETRY_AFTER
        assert [o["status"] for o in stage.orders_of(user)] == ["placed"] and stage.stock(knife) == 4
    finally:
        stage.stop_orders()


def test_a_frozen_answer_survives_the_record_dbos_keeps_of_it() -> None:
    """DBOS pickles a step's exceptions with the step; the freeze's Retry-After must come back with them."""
    frozen = pickle.loads(pickle.dumps(Unreachable("shipping: http://r/ answered 503: {}", "7")))  # noqa: S301
    assert (frozen.frozen, str(frozen)) == ("7", "shipping: http://r/ answered 503: {}")
    refusal = frozen_refusal([Unreachable("shipping: down"), frozen], "The order could not be placed")
    assert refusal is not None and refusal["retry_after"] == "7" and refusal["body"]["code"] == "write_freeze"
    assert frozen_refusal([frozen, Unreachable("shipping: down")], "x") is None   # the last try decides
    assert frozen_refusal([], "x") is None
