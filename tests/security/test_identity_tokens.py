"""Issue 16: forged, expired, tampered-with and other-key identity tokens are refused by every service.

Each service runs in process on its own seeded SQLite database (:mod:`tests.security.stages`) with two keys
(current and previous: a rotation's overlap). Every kind of bad token (:data:`~tests.security.tokens.FORGERIES`,
those with claims naming the owner as staff) is sent to every route and method the service answers (its own URL table,
classified in :mod:`tests.security.routes`), with a body that the owner could have written; where the service
checks identity tokens at all, each must be answered 401 ``{"detail": "Invalid token."}`` with ``WWW-Authenticate:
Token`` (never served as anonymous, never as the owner), and nothing in the database may change. Where it does not
(another service's internal URLs, the health check, login and registration) the token must change nothing: the
answer is the one a caller without it gets.

The yardstick: the same requests with the router's good token are served (so the 401s come from the token, not
from a service that refuses everyone)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.security.routes import (
    Check,
    Internal,
    Owned,
    Public,
    body_for,
    checks,
    fill,
)
from tests.security.stages import SERVICES, A, B, Stage
from tests.security.tokens import FORGERIES, PREVIOUS, SECRET, good

INVALID = {"detail": "Invalid token."}


def _id_for(stage: Stage, path: str, check: Check) -> object:
    if isinstance(check, Owned):
        return stage.owned[check.kind][0]
    return stage.sample_ids.get(path, 1)


def _body(stage: Stage, check: Check) -> dict[str, Any]:
    own = next(iter(stage.owned.values()), [1])[0]
    return body_for(getattr(check, "body", {}), A, own)


def _requests(stage: Stage) -> list[tuple[str, str, Check, dict[str, Any] | None]]:
    """``(method, url, check, body)`` for every classified method of every route, HEAD where there is a GET, and
    OPTIONS once a route (with the check of its first method)."""
    sent: list[tuple[str, str, Check, dict[str, Any] | None]] = []
    seen: set[str] = set()
    for path, method, check in checks(stage.name, stage.routes):
        url = fill(path, _id_for(stage, path, check))
        sent.append((method, url, check, _body(stage, check) if method in ("POST", "PUT", "PATCH") else None))
        if method == "GET":
            sent.append(("HEAD", url, check, None))
        if path not in seen:
            seen.add(path)
            sent.append(("OPTIONS", url, check, None))
    return sent


def _identity_checked(check: Check) -> bool:
    """Whether the route reads the identity token at all (another service's internal URLs, the health check, the
    login and the registration do not)."""
    return not isinstance(check, Internal) and not (isinstance(check, Public) and not check.authenticates)


@pytest.mark.parametrize("forgery", [name for name, _ in FORGERIES])
@pytest.mark.parametrize("service", SERVICES)
def test_a_bad_identity_token_is_refused_on_every_route(stage_of: Callable[[str], Stage], service: str,
                                                        forgery: str) -> None:
    stage = stage_of(service)
    token = dict(FORGERIES)[forgery](A, B)
    before = stage.snapshot()
    # Bare (a caller who reached the service past the router); at the accounts service also with the intruder's
    # own API token beside it (it authenticates that one itself when no identity token came: a bad identity token
    # must not fall back to it; the other services never read it).
    variants = [{"X-Identity-Token": token}, *([stage.headers(B, token=token)] if service == "accounts" else [])]
    sent = [(method, url, headers, body) for method, url, check, body in _requests(stage) if _identity_checked(check)
            for headers in variants]
    failures = []
    for (method, url, headers, _body), answer in zip(sent, stage.batch(sent), strict=True):
        got = (answer.status_code, answer.headers.get("www-authenticate"),
               None if method == "HEAD" else answer.json())
        if got != (401, "Token", None if method == "HEAD" else INVALID):
            failures.append(f"{method} {url} ({sorted(headers)}): {got}")
    assert failures == []
    assert stage.snapshot() == before, "a refused request changed the database"


@pytest.mark.parametrize("service", SERVICES)
def test_where_no_identity_is_asked_a_token_changes_nothing(stage_of: Callable[[str], Stage], service: str) -> None:
    """Another service's internal URLs are opened by its service token alone: a customer's identity, good (even
    staff's) or forged, opens nothing (401 without the service token, as without any token). The health check,
    the login and the registration answer as they answer a caller without one."""
    stage = stage_of(service)
    before = stage.snapshot()
    tokens = {"good-staff": good(A, staff=True), "forged": dict(FORGERIES)["other-key"](A, B)}
    failures = []
    for method, url, check, body in _requests(stage):
        if _identity_checked(check):
            continue
        variants: list[dict[str, str]] = [{}, *({"X-Identity-Token": t} for t in tokens.values())]
        answers = stage.batch([(method, url, headers, body) for headers in variants])
        bare = answers[0]
        if isinstance(check, Internal):
            wrong = stage.send(method, url, {"X-Identity-Token": tokens["good-staff"],
                                             "X-Service-Token": "not-the-service-token"}, body)
            if (bare.status_code, wrong.status_code) != (401, 401):
                failures.append(f"{method} {url}: {bare.status_code} without a service token, {wrong.status_code} "
                                "with a wrong one")
        for headers, answer in zip(variants[1:], answers[1:], strict=True):
            if (answer.status_code, answer.content) != (bare.status_code, bare.content):
                failures.append(f"{method} {url} {sorted(headers)}: {answer.status_code} {answer.text[:120]}, "
                                f"not {bare.status_code} {bare.text[:120]}")
    assert failures == []
    assert stage.snapshot() == before


@pytest.mark.parametrize("service", SERVICES)
def test_the_routers_good_token_is_served_with_either_key(stage_of: Callable[[str], Stage], service: str) -> None:
    """The yardstick of the tests above: every read (GET, HEAD, OPTIONS) they send is served with the router's
    token of the owner as staff, signed with the current key or the previous one."""
    stage = stage_of(service)
    sent = [(method, url, stage.headers(A, token=good(A, staff=True, key=key)), None)
            for method, url, check, _body in _requests(stage)
            if method in ("GET", "HEAD", "OPTIONS") and _identity_checked(check) for key in (SECRET, PREVIOUS)]
    failures = [f"{method} {url}: {answer.status_code} {answer.text[:200]}"
                for (method, url, _h, _b), answer in zip(sent, stage.batch(sent), strict=True)
                if answer.status_code >= 400]
    assert sent and failures == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_refusal_is_no_anonymous_answer(stage_of: Callable[[str], Stage], service: str) -> None:
    """Where the service serves anonymous callers (the catalog's reads, an anonymous visitor's cart) a bad token
    still gets the 401: the service never falls back to anonymous. Where it does not, anonymous is refused with
    another answer than a bad token's."""
    stage = stage_of(service)
    token = dict(FORGERIES)["other-key"](A, B)
    gets = [url for method, url, check, _body in _requests(stage) if method == "GET" and _identity_checked(check)]
    anonymous = stage.batch([("GET", url, {}, None) for url in gets])
    refused = stage.batch([("GET", url, {"X-Identity-Token": token}, None) for url in gets])
    for url, bare, bad in zip(gets, anonymous, refused, strict=True):
        assert (bad.status_code, bad.json()) == (401, INVALID), url
        assert (bare.status_code, bare.content) != (bad.status_code, bad.content), url
