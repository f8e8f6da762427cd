"""Shadow traffic (router/addons/shadow.py): the shadow backend gets the client's request, a slow shadow or a
full queue never slows the client, and writes are mirrored only where the route says so."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.router.e2e.features import (
    Running,
    changed,
    fan_out,
    seen_by,
    shadow_figures,
)
from tests.router.e2e.helpers import header_values, wait_for

pytestmark = pytest.mark.slow


def test_the_client_gets_the_primary_and_the_shadow_the_same_request(shadow_router: Running,
                                                                     upstreams: dict[str, str]) -> None:
    before = shadow_figures(shadow_router, "mirror")
    request_id = f"shadow-{uuid.uuid4().hex}"
    response = httpx.get(f"{shadow_router.url}/echo/mirror/items/7?color=red", headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    assert response.headers["x-upstream"] == "monolith"
    assert response.json()["name"] == "monolith"
    wait_for(lambda: shadow_figures(shadow_router, "mirror")["compared"] == before["compared"] + 1, timeout=5)
    # Echo answers name their backend, so the two answers differ.
    assert changed(before, shadow_figures(shadow_router, "mirror")) == {"queued": 1, "compared": 1, "different": 1}
    [mirrored] = seen_by(upstreams["catalog"], request_id)
    assert (mirrored["method"], mirrored["raw_path"]) == ("GET", "/echo/mirror/items/7")
    assert header_values(mirrored, "x-shadow-request") == ["1"]
    assert len(seen_by(upstreams["monolith"], request_id)) == 1  # the primary got it once

    before = shadow_figures(shadow_router, "mirror-bytes")
    assert httpx.get(f"{shadow_router.url}/bytes/2048").content == b"y" * 2048
    wait_for(lambda: shadow_figures(shadow_router, "mirror-bytes")["compared"] == before["compared"] + 1, timeout=5)
    assert changed(before, shadow_figures(shadow_router, "mirror-bytes")) == {"queued": 1, "compared": 1, "equal": 1}


def test_a_slow_shadow_does_not_slow_the_client(shadow_router: Running, upstreams: dict[str, str]) -> None:
    """The shadow takes 2 s to answer /slow/2?only=catalog; the primary answers at once."""
    before = shadow_figures(shadow_router, "slow-shadow")
    ids = [f"slow-{uuid.uuid4().hex}" for _ in range(2)]
    started = time.monotonic()
    for request_id in ids:
        t0 = time.monotonic()
        response = httpx.get(f"{shadow_router.url}/slow/2?only=catalog", headers={"X-Request-ID": request_id})
        assert time.monotonic() - t0 < 0.5
        assert response.status_code == 200
        assert response.json() == {"name": "monolith", "slept": 0.0}
    assert time.monotonic() - started < 1.0  # 4 s if the client waited for its shadow
    # The shadow has the requests, and is slow with them: neither is compared yet.
    wait_for(lambda: all(seen_by(upstreams["catalog"], request_id) for request_id in ids), timeout=5)
    assert shadow_figures(shadow_router, "slow-shadow")["compared"] == before["compared"]
    wait_for(lambda: shadow_figures(shadow_router, "slow-shadow")["compared"] == before["compared"] + 2, timeout=6)
    assert time.monotonic() - started >= 2.0


def test_a_full_shadow_queue_drops_and_never_delays_clients(shadow_router: Running) -> None:
    before = shadow_figures(shadow_router, "tight")
    started = time.monotonic()
    responses = fan_out(shadow_router.url, [("/slow/3?only=catalog", {})] * 50, concurrency=50)
    burst = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * 50
    assert {r.headers["x-upstream"] for r in responses} == {"monolith"}
    assert burst < 2.0, f"50 requests took {burst:.2f}s"  # each shadow request takes 3 s
    assert max(r.seconds for r in responses) < 1.5
    wait_for(lambda: sum(changed(before, shadow_figures(shadow_router, "tight")).get(key, 0)
                         for key in ("queued", "dropped")) == 50, timeout=5)
    delta = changed(before, shadow_figures(shadow_router, "tight"))
    # Queue of 2 plus the 2 workers' requests in hand: at most a handful got in, the rest were dropped.
    assert 2 <= delta["queued"] <= 6
    assert delta["dropped"] == 50 - delta["queued"]


def test_writes_are_shadowed_only_where_the_route_says_so(shadow_router: Running, upstreams: dict[str, str]) -> None:
    before = shadow_figures(shadow_router, "mirror")
    post_id, get_id = f"post-{uuid.uuid4().hex}", f"get-{uuid.uuid4().hex}"
    response = httpx.post(f"{shadow_router.url}/echo/mirror/orders", content=b"x" * 100,
                          headers={"X-Request-ID": post_id})
    assert (response.status_code, response.headers["x-upstream"]) == (200, "monolith")
    assert httpx.get(f"{shadow_router.url}/echo/mirror/after", headers={"X-Request-ID": get_id}).status_code == 200
    wait_for(lambda: seen_by(upstreams["catalog"], get_id) != [], timeout=5)
    assert seen_by(upstreams["catalog"], post_id) == []
    wait_for(lambda: shadow_figures(shadow_router, "mirror")["compared"] == before["compared"] + 1, timeout=5)
    assert changed(before, shadow_figures(shadow_router, "mirror"))["queued"] == 1  # the GET only

    before = shadow_figures(shadow_router, "writes")
    write_id = f"write-{uuid.uuid4().hex}"
    response = httpx.post(f"{shadow_router.url}/echo/writes/orders", content=b"z" * 1000,
                          headers={"X-Request-ID": write_id})
    assert (response.status_code, response.headers["x-upstream"]) == (200, "monolith")
    wait_for(lambda: seen_by(upstreams["catalog"], write_id) != [], timeout=5)
    [mirrored] = seen_by(upstreams["catalog"], write_id)
    assert (mirrored["method"], mirrored["raw_path"]) == ("POST", "/echo/writes/orders")
    wait_for(lambda: shadow_figures(shadow_router, "writes")["compared"] == before["compared"] + 1, timeout=5)
    assert mirrored["body_length"] == 1000
    assert changed(before, shadow_figures(shadow_router, "writes"))["queued"] == 1
