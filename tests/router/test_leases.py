"""The leases' admin API, in-process: acquire, read, renew, release, take over (``replaces``), fencing of
route changes, on_expiry validated when given, leases surviving table swaps, and bad bodies refused with
the field named."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.router.inprocess import TOKEN, TOKEN_ENV, FakeBackends, Running, routes, running

ROUTES = routes("""\
  writes: {path: /api/catalog/, methods: [POST, PUT, PATCH, DELETE], backend: monolith}
  reads: {path: /api/catalog/, methods: [GET], backend: monolith}
  checkout: {path: /checkout/, backend: monolith}
  other: {path: /other/, backend: monolith}
""")


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def scenario(test: Callable[[Running], Awaitable[None]], backends: FakeBackends | None = None) -> None:
    async def run() -> None:
        async with running(ROUTES, backends) as router:
            await test(router)

    asyncio.run(run())


async def acquire(router: Running, **body: Any) -> dict[str, Any]:
    response = await router.admin("POST", "/leases", body={"holder": "catalog cutover", "seconds": 5, **body})
    assert response.status_code == 201, response.text
    lease: dict[str, Any] = response.json()
    return lease


# -- acquire, read, renew, release ------------------------------------------------------------------------------

def test_acquire_answers_the_lease_and_get_shows_it() -> None:
    async def test(router: Running) -> None:
        before = time.time()
        lease = await acquire(router, freeze=["writes", "checkout"], fence=["reads"], seconds=5)
        assert len(lease["lease"]) == 16 and int(lease["lease"], 16) >= 0  # unguessable: 64 random bits
        assert (lease["freeze"], lease["fence"], lease["holder"], lease["seconds"]) == (
            ["writes", "checkout"], ["reads"], "catalog cutover", 5.0)
        assert before + 5 <= lease["expires_at"] <= time.time() + 5
        assert (lease["in_flight"], lease["drained"], lease["on_expiry"]) == ({"writes": 0, "checkout": 0}, True, {})
        shown = await router.admin("GET", f"/leases/{lease['lease']}")
        assert shown.status_code == 200 and shown.json()["lease"] == lease["lease"]
        listed = (await router.admin("GET", "/leases")).json()["leases"]
        assert [entry["lease"] for entry in listed] == [lease["lease"]]
        second = await acquire(router, freeze=["other"])
        assert second["lease"] != lease["lease"]
        assert len((await router.admin("GET", "/leases")).json()["leases"]) == 2

    scenario(test)


def test_in_flight_and_drained_follow_the_writes_already_on_their_way() -> None:
    backends = FakeBackends()

    async def test(router: Running) -> None:
        backends.hold["monolith"] = gate = asyncio.Event()
        slow = asyncio.create_task(router.public.post("/api/catalog/products/"))  # passes before the freeze
        await asyncio.sleep(0.05)
        lease = await acquire(router, freeze=["writes"])
        assert (lease["in_flight"], lease["drained"]) == ({"writes": 1}, False)
        assert (await router.public.post("/api/catalog/products/")).status_code == 503  # not in flight
        shown = (await router.admin("GET", f"/leases/{lease['lease']}")).json()
        assert (shown["in_flight"], shown["drained"]) == ({"writes": 1}, False)
        gate.set()
        assert (await slow).status_code == 200
        shown = (await router.admin("GET", f"/leases/{lease['lease']}")).json()
        assert (shown["in_flight"], shown["drained"]) == ({"writes": 0}, True)

    scenario(test, backends)


def test_renew_extends_the_lease_and_replaces_on_expiry_when_given() -> None:
    async def test(router: Running) -> None:
        lease = await acquire(router, freeze=["writes"], seconds=0.4, on_expiry={"writes": {"backend": "catalog"}})
        for _ in range(3):
            await asyncio.sleep(0.2)
            renewed = await router.admin("POST", f"/leases/{lease['lease']}/renew", body={"seconds": 0.4})
            assert renewed.status_code == 200, renewed.text
            assert renewed.json()["on_expiry"] == {"writes": {"backend": "catalog"}}  # kept when not given
        assert (await router.public.post("/api/catalog/x")).status_code == 503  # 0.6 s in, still frozen
        on_expiry = {"reads": {"canary": 25, "backend": "catalog"}}
        renewed = await router.admin("POST", f"/leases/{lease['lease']}/renew",
                                     body={"seconds": 0.1, "on_expiry": on_expiry})
        assert renewed.json()["on_expiry"] == {"reads": {"canary": 25, "backend": "catalog"}}
        await asyncio.sleep(0.3)
        table = (await router.admin("GET", "/table")).json()["routes"]
        assert (table["writes"]["backend"], table["reads"]["backend"], table["reads"]["canary"]) == (
            "monolith", "catalog", 25)

    scenario(test)


def test_renew_of_an_expired_released_replaced_or_unknown_lease_is_409_saying_which() -> None:
    async def test(router: Running) -> None:
        expired = await acquire(router, freeze=["writes"], seconds=0.1)
        await asyncio.sleep(0.2)
        response = await router.admin("POST", f"/leases/{expired['lease']}/renew", body={"seconds": 5})
        assert response.status_code == 409
        assert response.json()["detail"].startswith(f"lease {expired['lease']} expired at ")
        released = await acquire(router, freeze=["writes"])
        assert (await router.admin("DELETE", f"/leases/{released['lease']}")).status_code == 200
        response = await router.admin("POST", f"/leases/{released['lease']}/renew", body={"seconds": 5})
        assert response.status_code == 409
        assert response.json()["detail"].startswith(f"lease {released['lease']} was released at ")
        old = await acquire(router, freeze=["writes"])
        new = await acquire(router, freeze=["writes"], replaces=old["lease"])
        response = await router.admin("POST", f"/leases/{old['lease']}/renew", body={"seconds": 5})
        assert response.status_code == 409
        assert response.json()["detail"].startswith(f"lease {old['lease']} was replaced by {new['lease']} at ")
        response = await router.admin("POST", "/leases/0123456789abcdef/renew", body={"seconds": 5})
        assert response.status_code == 409
        assert response.json()["detail"] == "no lease 0123456789abcdef (unknown, or the router restarted)"

    scenario(test)


def test_get_and_delete_of_a_lease_that_is_gone_are_404_saying_why() -> None:
    async def test(router: Running) -> None:
        lease = await acquire(router, freeze=["writes"], seconds=0.1)
        await asyncio.sleep(0.2)
        response = await router.admin("GET", f"/leases/{lease['lease']}")
        assert response.status_code == 404 and " expired at " in response.json()["detail"]
        response = await router.admin("DELETE", f"/leases/{lease['lease']}")
        assert response.status_code == 404 and " expired at " in response.json()["detail"]
        response = await router.admin("GET", "/leases/feedfacefeedface")
        assert response.status_code == 404 and "unknown" in response.json()["detail"]
        assert (await router.admin("GET", "/leases")).json() == {"leases": []}

    scenario(test)


def test_release_lifts_the_freeze_and_applies_no_on_expiry() -> None:
    async def test(router: Running) -> None:
        lease = await acquire(router, freeze=["writes"], on_expiry={"writes": {"backend": "catalog"}})
        version = router.router.app.tables.version.number
        response = await router.admin("DELETE", f"/leases/{lease['lease']}")
        assert response.status_code == 200
        assert response.json()["detail"] == f"lease {lease['lease']} released; writes flow again on writes"
        assert router.router.app.tables.version.number == version
        answer = await router.public.post("/api/catalog/x")
        assert (answer.status_code, answer.headers["x-upstream"]) == (200, "monolith")
        assert (await router.admin("DELETE", f"/leases/{lease['lease']}")).status_code == 404

    scenario(test)


# -- one lease per route; taking over ---------------------------------------------------------------------------

def test_a_route_held_by_another_lease_is_409_naming_route_lease_holder_and_expiry() -> None:
    async def test(router: Running) -> None:
        held = await acquire(router, freeze=["writes"], fence=["reads"])
        for body in ({"freeze": ["checkout", "writes"]}, {"freeze": ["checkout"], "fence": ["reads"]},
                     {"freeze": [], "fence": ["writes"]}):
            response = await router.admin("POST", "/leases", body={"holder": "orders cutover", "seconds": 5, **body})
            assert response.status_code == 409, body
            refused = response.json()
            route = "reads" if body.get("fence") == ["reads"] else "writes"
            assert refused["detail"].startswith(f"route {route!r} is held by lease {held['lease']} "
                                                "(holder 'catalog cutover') until ")
            assert (refused["route"], refused["lease"], refused["holder"], refused["expires_at"]) == (
                route, held["lease"], "catalog cutover", held["expires_at"])
        assert [lease["lease"] for lease in (await router.admin("GET", "/leases")).json()["leases"]] == [held["lease"]]

    scenario(test)


def test_replaces_takes_the_lease_over_with_no_gap_in_the_freeze() -> None:
    async def test(router: Running) -> None:
        old = await acquire(router, freeze=["writes"], seconds=0.3, on_expiry={"writes": {"backend": "catalog"}})
        new = await acquire(router, freeze=["writes"], fence=["reads"], seconds=5, replaces=old["lease"])
        assert new["lease"] != old["lease"] and new["on_expiry"] == {}
        await asyncio.sleep(0.4)  # the old lease's deadline passes: nothing of it applies any more
        assert (await router.public.post("/api/catalog/x")).status_code == 503
        assert await router.backend_of("writes") == "monolith"
        response = await router.admin("PATCH", "/routes/writes", body={"backend": "catalog"}, lease=old["lease"])
        assert response.status_code == 409
        # A lease that is gone cannot be taken over (its freeze already ended): acquire without replaces.
        response = await router.admin("POST", "/leases", body={"freeze": ["checkout"], "seconds": 5,
                                                               "holder": "x", "replaces": old["lease"]})
        assert response.status_code == 409
        assert response.json()["detail"].startswith(f"replaces: lease {old['lease']} was replaced by {new['lease']}")

    scenario(test)


def test_a_take_over_is_one_step_for_the_freeze() -> None:
    async def test(router: Running) -> None:
        leases = router.router.leases
        old = await acquire(router, freeze=["writes"])
        frozen_before = leases.frozen["writes"]
        await acquire(router, freeze=["writes"], replaces=old["lease"])
        assert leases.frozen["writes"] is not frozen_before and list(leases.live) == [leases.frozen["writes"].id]

    scenario(test)


# -- fencing ----------------------------------------------------------------------------------------------------

def test_fencing_refuses_a_patch_without_the_lease_or_with_a_stale_one_and_takes_the_live_one() -> None:
    async def test(router: Running) -> None:
        stale = await acquire(router, freeze=["other"])
        assert (await router.admin("DELETE", f"/leases/{stale['lease']}")).status_code == 200
        lease = await acquire(router, freeze=["writes"], fence=["reads"])
        version = router.router.app.tables.version.number
        for route in ("writes", "reads"):
            response = await router.admin("PATCH", f"/routes/{route}", body={"backend": "catalog"})
            assert response.status_code == 409
            assert response.json()["detail"].startswith(f"route {route!r} is held by lease {lease['lease']} "
                                                        "(holder 'catalog cutover') until ")
            assert response.json()["detail"].endswith("; send X-Router-Lease")
            for bad in (stale["lease"], "0000000000000000"):
                response = await router.admin("PATCH", f"/routes/{route}", body={"backend": "catalog"}, lease=bad)
                assert response.status_code == 409, bad
                assert response.json()["detail"].endswith(": nothing is changed under it")
        assert router.router.app.tables.version.number == version  # nothing applied
        response = await router.admin("PATCH", "/routes/writes", body={"backend": "catalog"}, lease=lease["lease"])
        assert response.status_code == 200 and response.json()["routes"]["writes"]["backend"] == "catalog"
        # A live lease may change a route it does not hold; a stale one changes nothing anywhere.
        response = await router.admin("PATCH", "/routes/other", body={"backend": "catalog"}, lease=lease["lease"])
        assert response.status_code == 200
        response = await router.admin("PATCH", "/routes/other", body={"backend": "monolith"}, lease=stale["lease"])
        assert response.status_code == 409 and await router.backend_of("other") == "catalog"
        assert (await router.admin("PATCH", "/routes/other", body={"backend": "monolith"})).status_code == 200

    scenario(test)


def test_an_expired_lease_fences_nothing_and_its_holder_changes_nothing() -> None:
    async def test(router: Running) -> None:
        lease = await acquire(router, freeze=["writes"], seconds=0.1, on_expiry={"writes": {"backend": "catalog"}})
        await asyncio.sleep(0.2)
        response = await router.admin("PATCH", "/routes/writes", body={"backend": "monolith"}, lease=lease["lease"])
        assert response.status_code == 409 and " expired at " in response.json()["detail"]
        assert await router.backend_of("writes") == "catalog"  # on_expiry stands
        assert (await router.admin("PATCH", "/routes/writes", body={"canary": None})).status_code == 200

    scenario(test)


def test_leases_survive_table_swaps_and_rollbacks() -> None:
    async def test(router: Running) -> None:
        lease = await acquire(router, freeze=["writes"])
        assert (await router.admin("PATCH", "/routes/other", body={"backend": "catalog"})).status_code == 200
        assert (await router.admin("POST", "/rollback")).status_code == 200
        assert (await router.public.post("/api/catalog/x")).status_code == 503
        assert (await router.admin("PATCH", "/routes/writes", body={"backend": "catalog"})).status_code == 409
        assert (await router.admin("GET", f"/leases/{lease['lease']}")).status_code == 200

    scenario(test)


# -- bad bodies -------------------------------------------------------------------------------------------------

GOOD = {"freeze": ["writes"], "seconds": 5, "holder": "catalog cutover"}


@pytest.mark.parametrize(("body", "detail"), [
    (b"{not json", "body is not JSON: "),
    (b"[1, 2]", "body must be a JSON object with some of: freeze, fence, seconds, holder, replaces, on_expiry"),
    ({**GOOD, "ttl": 5}, "ttl: unknown key (known: freeze, fence, seconds, holder, replaces, on_expiry)"),
    ({**GOOD, "seconds": 0}, "seconds: 0 is not a lease time in seconds (more than 0, at most 60)"),
    ({**GOOD, "seconds": 61}, "seconds: 61 is not a lease time in seconds (more than 0, at most 60)"),
    ({**GOOD, "seconds": True}, "seconds: True is not a lease time in seconds (more than 0, at most 60)"),
    ({**GOOD, "seconds": "5"}, "seconds: '5' is not a lease time in seconds (more than 0, at most 60)"),
    ({**GOOD, "seconds": -1}, "seconds: -1 is not a lease time in seconds (more than 0, at most 60)"),
    ({"freeze": ["writes"], "holder": "x"}, "seconds: required"),
    ({"seconds": 5, "holder": "x"}, "freeze: required"),
    ({**GOOD, "freeze": "writes"}, "freeze: 'writes' is not a list of route names"),
    ({**GOOD, "freeze": [1]}, "freeze: [1] is not a list of route names"),
    ({**GOOD, "fence": {"reads": 1}}, "fence: {'reads': 1} is not a list of route names"),
    ({**GOOD, "freeze": []}, "freeze: a lease needs at least one route"),
    ({**GOOD, "holder": ""}, "holder: '' is not a text of 1 to 200 characters"),
    ({"freeze": ["writes"], "seconds": 5}, "holder: None is not a text"),
    ({**GOOD, "replaces": 7}, "replaces: 7 is not a lease id"),
    ({**GOOD, "freeze": ["writes", "wrtes"], "fence": ["raeds"]},
     "freeze: no route 'wrtes'; fence: no route 'raeds' (known: checkout, other, reads, writes)"),
    ({**GOOD, "on_expiry": ["writes"]}, "on_expiry: ['writes'] is not an object of route changes"),
    ({**GOOD, "on_expiry": {"writes": {"freeze": 5}}}, "on_expiry.writes.freeze: a route's writes are no longer"),
    ({**GOOD, "on_expiry": {"writes": {"path": "/x/"}}},
     "on_expiry.writes: cannot change path here; editable: backend, canary, fallback, shadow"),
    ({**GOOD, "on_expiry": {"writes": {}}}, "on_expiry.writes: must be a JSON object with some of: backend"),
    ({**GOOD, "on_expiry": {"wrtes": {"backend": "catalog"}}}, "on_expiry: no route 'wrtes' in the table in use"),
    ({**GOOD, "on_expiry": {"writes": {"backend": "inventory"}}},
     "on_expiry: change refused; the current table keeps serving"),
])
def test_a_bad_acquire_is_400_naming_the_field(body: Any, detail: str) -> None:
    async def test(router: Running) -> None:
        if isinstance(body, bytes):
            response = await router.admin("POST", "/leases", content=body)
        else:
            response = await router.admin("POST", "/leases", body=body)
        assert response.status_code == 400, response.text
        assert response.json()["detail"].startswith(detail), response.json()
        if "inventory" in str(body):
            assert response.json()["problems"] == [
                "on_expiry: routes.writes.backend: 'inventory' is not a backend (known: catalog, monolith)"]
        assert router.router.leases.live == {}
        assert (await router.public.post("/api/catalog/x")).status_code == 200

    scenario(test)


@pytest.mark.parametrize(("body", "detail"), [
    (b"nope", "body is not JSON"),
    ({}, "seconds: required"),
    ({"seconds": 0}, "seconds: 0 is not a lease time"),
    ({"seconds": 61}, "seconds: 61 is not a lease time"),
    ({"seconds": False}, "seconds: False is not a lease time"),
    ({"seconds": 5, "holder": "x"}, "holder: unknown key (known: seconds, on_expiry)"),
    ({"seconds": 5, "on_expiry": None}, "on_expiry: None is not an object of route changes"),
    ({"seconds": 5, "on_expiry": {"writes": {"backend": "inventory"}}}, "on_expiry: change refused"),
    ({"seconds": 5, "on_expiry": {"writes": {"canary": 140, "backend": "catalog"}}}, "on_expiry: change refused"),
])
def test_a_bad_renewal_is_400_naming_the_field_and_changes_nothing(body: Any, detail: str) -> None:
    async def test(router: Running) -> None:
        lease = await acquire(router, freeze=["writes"], seconds=30, on_expiry={"writes": {"backend": "catalog"}})
        path = f"/leases/{lease['lease']}/renew"
        if isinstance(body, bytes):
            response = await router.admin("POST", path, content=body)
        else:
            response = await router.admin("POST", path, body=body)
        assert response.status_code == 400, response.text
        assert response.json()["detail"].startswith(detail), response.json()
        shown = (await router.admin("GET", f"/leases/{lease['lease']}")).json()
        assert (shown["seconds"], shown["on_expiry"]) == (30.0, {"writes": {"backend": "catalog"}})

    scenario(test)


@pytest.mark.parametrize(("method", "path"), [("PUT", "/leases"), ("POST", "/leases/abc"),
                                              ("GET", "/leases/abc/renew"), ("GET", "/windows")])
def test_wrong_methods_are_405(method: str, path: str) -> None:
    async def test(router: Running) -> None:
        assert (await router.admin(method, path)).status_code == 405

    scenario(test)


def test_the_lease_api_needs_the_token() -> None:
    async def test(router: Running) -> None:
        response = await router.admin_client.post("/leases", json=GOOD)
        assert response.status_code == 401
        response = await router.admin_client.post("/windows", headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401
        assert router.router.leases.live == {}

    scenario(test)
