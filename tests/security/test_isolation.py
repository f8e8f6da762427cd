"""Issue 16: a user never sees another user's addresses, orders or shipments (nor their cart) through any service,
on any endpoint.

Generated from each service's own URL table (``extracted/<service>/urls.py``), classified in
:mod:`tests.security.routes`: every route and method is a test of its own, and one the table does not know fails
:func:`test_every_route_of_every_service_is_classified`.

Customer B (the intruder, with the router's good token) tries every method on customer A's objects, the lists
with filters naming them and fields in the body naming A or A's objects, and gets what the monolith gives
(``tests/security/test_monolith_isolation.py`` holds the monolith to the same rules): another's object is answered
exactly as a missing one (404, or 403 where staff alone may act), a list holds none of A's; A's rows are as they
were afterwards (read in the database, and by A through the API), and no answer to B holds any of the strings
only A's data holds (:attr:`~tests.security.stages.Stage.markers`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.security.routes import (
    SMUGGLED_QUERIES,
    Check,
    Internal,
    Listed,
    Own,
    Owned,
    Public,
    Staff,
    body_for,
    checks,
    fill,
    ids_of,
    unclassified,
)
from tests.security.stages import MISSING, SERVICE_TOKENS, SERVICES, A, B, Stage


def test_every_route_of_every_service_is_classified() -> None:
    """A route (or a method) the security tests do not know is a failure: classify it in tests/security/routes.py."""
    problems: list[str] = []
    for service in SERVICES:
        routes = __import__(f"extracted.{service}.urls", fromlist=["ROUTES"]).ROUTES
        problems += unclassified(service, list(routes))
    assert problems == []


def _cases() -> list[Any]:
    cases = []
    for service in SERVICES:
        routes = list(__import__(f"extracted.{service}.urls", fromlist=["ROUTES"]).ROUTES)
        for path, method, check in checks(service, routes):
            if isinstance(check, Public):
                continue  # nobody's data: nothing to isolate
            cases.append(pytest.param(service, path, method, id=f"{service}-{method}-{path}"))
    return cases


def _leaks(stage: Stage, answer: httpx.Response) -> list[str]:
    return [marker for marker in stage.markers if marker in answer.text]


def _views(stage: Stage, kind: str) -> dict[int, tuple[int, str]]:
    """How the owner sees each of their objects of ``kind`` (through the API)."""
    answers = stage.batch([("GET", stage.views[kind].replace("{id}", str(oid)), stage.headers(A), None)
                           for oid in stage.owned[kind]])
    return {oid: (answer.status_code, answer.text) for oid, answer in zip(stage.owned[kind], answers, strict=True)}


def _body(stage: Stage, method: str, check: Check) -> dict[str, Any] | None:
    if method not in ("POST", "PUT", "PATCH"):
        return None
    own = next(iter(stage.owned.values()), [1])[0]
    return body_for(getattr(check, "body", {}), A, own)


@pytest.mark.parametrize(("service", "path", "method"), _cases())
def test_an_intruder_reaches_nothing_of_the_owners(stage_of: Callable[[str], Stage], service: str, path: str,
                                                   method: str) -> None:
    stage = stage_of(service)
    check = next(c for p, m, c in checks(service, stage.routes) if (p, m) == (path, method))
    before, owners_rows = stage.snapshot(), stage.rows_of(A)
    intruder = stage.headers(B)
    body = _body(stage, method, check)

    if isinstance(check, Owned):
        seen_by_owner = _views(stage, check.kind)
        assert all(status == 200 for status, _ in seen_by_owner.values()), seen_by_owner
        assert all(any(m in text for m in stage.markers) for _, text in seen_by_owner.values())  # the yardstick
        if method == "GET":  # and the intruder's token does open the intruder's own
            assert stage.send("GET", fill(path, stage.others[check.kind][0]), intruder).status_code == 200
        methods = [method, *(["HEAD"] if method == "GET" else []), "OPTIONS"]
        for asked in methods:
            urls = [fill(path, MISSING), *(fill(path, oid) for oid in stage.owned[check.kind])]
            missing, *answers = stage.batch([(asked, url, intruder, body if asked == method else None)
                                             for url in urls])
            if asked == method:
                assert missing.status_code == check.status, f"{asked} {urls[0]}: {missing.text[:200]}"
            for url, answer in zip(urls[1:], answers, strict=True):
                # The owner's object is answered as one that does not exist: nothing tells it is there.
                assert (answer.status_code, answer.content) == (missing.status_code, missing.content), (
                    f"{asked} {url}: {answer.status_code} {answer.text[:200]}, a missing one "
                    f"{missing.status_code} {missing.text[:200]}")
                assert _leaks(stage, answer) == [], f"{asked} {url}"
        assert stage.snapshot() == before
        assert _views(stage, check.kind) == seen_by_owner

    elif isinstance(check, Listed):
        owners = stage.send("GET", path, stage.headers(A))
        for kind in check.kinds:  # the yardstick: the owner's list does list the owner's objects
            assert set(stage.owned[kind]) <= set(ids_of(kind, owners.json())), (kind, owners.text[:300])
        queries = [q.replace("{A}", str(A)) for q in SMUGGLED_QUERIES]
        naming = [f.replace("{order}", str(oid)) for f in check.filters for oid in stage.owned.get("order", [])]
        answers = stage.batch([("GET", path + q, intruder, None) for q in (*queries, *naming)]
                              + [("HEAD", path, intruder, None), ("OPTIONS", path, intruder, None)])
        for query, answer in zip((*queries, *naming), answers, strict=False):
            assert answer.status_code == 200, f"{path}{query}: {answer.status_code} {answer.text[:200]}"
            assert _leaks(stage, answer) == [], f"{path}{query}"
            for kind in check.kinds:
                found = ids_of(kind, answer.json())
                assert not set(found) & set(stage.owned[kind]), f"{path}{query}: {kind} {found}"
                if query in naming and kind not in ("cart", "user"):
                    assert found == [], f"{path}{query}: a filter naming the owner's objects found {found}"
        assert [a.status_code for a in answers[-2:]] == [200, 200]
        assert stage.snapshot() == before

    elif isinstance(check, Own):
        intruders_rows = stage.rows_of(B)
        answer = stage.send(method, path, intruder, body)
        assert answer.status_code in check.statuses, f"{method} {path}: {answer.status_code} {answer.text[:300]}"
        assert check.says in answer.content.decode(), answer.content[:300]
        assert _leaks(stage, answer) == []
        assert stage.rows_of(A) == owners_rows, "the intruder's request changed the owner's rows"
        # Nothing of the owner's went into the intruder's rows either (a smuggled id taken for theirs).
        assert [m for m in stage.markers if m in repr(stage.rows_of(B))] == [], (intruders_rows, stage.rows_of(B))

    elif isinstance(check, Staff):
        url = fill(path, stage.sample_ids.get(path, 1))
        answer = stage.send(method, url, intruder, body)
        assert answer.status_code == check.status, answer.text[:200]
        assert stage.snapshot() == before

    else:
        assert isinstance(check, Internal)
        # Another service's URL: the intruder's identity opens nothing, not even naming the owner in the body.
        url = fill(path, stage.sample_ids.get(path, 1))
        answers = stage.batch([(method, url, intruder, body),
                               (method, url, {**intruder, "X-Service-Token": "a-guess"}, body)])
        assert [a.status_code for a in answers] == [401, 401], [a.text[:200] for a in answers]
        assert stage.snapshot() == before


def test_the_address_look_up_of_the_checkout_finds_only_the_callers_addresses(
        stage_of: Callable[[str], Stage]) -> None:
    """The orders service's checkout reads a saved address for the customer checking out (``user``: the caller,
    never from their body): the accounts service answers only that user's own address, so an order can never be
    shipped to, and show, another's."""
    stage = stage_of("accounts")
    service = {"X-Service-Token": SERVICE_TOKENS["ORDERS_SERVICE_TOKEN"]}
    lookups = [("POST", "/api/accounts/internal/addresses/", service, {"user": user, "address": address})
               for user, address in ((A, 1), (B, 1), (B, 2), (A, 3), (B, MISSING))]
    own, *others = stage.batch(lookups)
    assert own.status_code == 200 and "Helsinki" in own.text
    missing = others[-1]
    assert missing.status_code == 404
    assert [(a.status_code, a.content) for a in others] == [(404, missing.content)] * len(others)

