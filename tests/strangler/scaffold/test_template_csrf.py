"""The template's CSRF check (``strangler/scaffold/template/csrf.py``), which every service holds: the same
answer as the monolith's own, for the same request.

The monolith's answer is computed here by the code that gives it there: DRF's ``SessionAuthentication.enforce_csrf``
(Django's ``CsrfViewMiddleware`` through DRF's ``CSRFCheck``) on a DRF request with the monolith's parsers, as its
settings configure them. The service's is :func:`csrf.enforce` on a Starlette request of the same method, headers
and body. A write is refused with the same ``CSRF Failed: <reason>``, or let through by both; reads never checked.
Which callers are held to it (:func:`csrf.by_session`: DRF's SessionAuthentication authenticated them) is checked
here too, and a scaffolded service's ``Resource`` is shown to apply it.

The module under test is the catalog's copy (``test_template_copies.py`` holds every copy equal to the template)."""

from __future__ import annotations

import asyncio
import secrets
import string
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from django.test import RequestFactory
from rest_framework import exceptions as drf_exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request as DrfRequest
from rest_framework.settings import api_settings
from starlette.requests import Request

from extracted.catalog import csrf
from extracted.catalog.exceptions import ApiError
from extracted.catalog.identity import Caller

CHARS = string.ascii_letters + string.digits
SECRET = "TemplateCsrfTestsSecret012345678"
OTHER = "AnotherCsrfSecretOf32Characters0"
HOST = "testserver"
BOUNDARY = "----templatecsrf0123"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def masked(secret: str) -> str:
    """The secret as Django's ``get_token()`` hands it out: a random mask, then the secret shifted by it."""
    mask = "".join(secrets.choice(CHARS) for _ in range(32))
    return mask + "".join(CHARS[(CHARS.index(s) + CHARS.index(m)) % len(CHARS)] for s, m in zip(secret, mask,
                                                                                                  strict=True))


def multipart(**fields: str) -> bytes:
    out = b""
    for name, value in fields.items():
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    return out + f"--{BOUNDARY}--\r\n".encode()


def monolith(method: str, headers: dict[str, str], body: bytes, content_type: str | None) -> tuple[int, str] | None:
    """DRF's answer: None when the check lets the request through, else the status and detail it raises."""
    extra = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    extra["HTTP_HOST"] = HOST
    django_request = RequestFactory().generic(method, "/api/x/", data=body,
                                              content_type=content_type or "", **extra)
    if content_type is None:
        django_request.META.pop("CONTENT_TYPE", None)
    request = DrfRequest(django_request, parsers=[parser() for parser in api_settings.DEFAULT_PARSER_CLASSES])
    try:
        SessionAuthentication().enforce_csrf(request)
    except drf_exceptions.APIException as exc:
        return exc.status_code, str(exc.detail)
    return None


def service(method: str, headers: dict[str, str], body: bytes, content_type: str | None) -> tuple[int, str] | None:
    """The template's answer, for the same request."""
    sent = [(b"host", HOST.encode())] + [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if content_type is not None:
        sent.append((b"content-type", content_type.encode("latin-1")))
    if body:
        sent.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "method": method, "path": "/api/x/", "raw_path": b"/api/x/", "query_string": b"",
             "headers": sent, "scheme": "http", "server": (HOST, 80), "client": ("127.0.0.1", 1234)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        asyncio.run(csrf.enforce(Request(scope, receive)))
    except ApiError as exc:  # PermissionDenied, or the 415/400 of a POST's body
        return exc.status, exc.body()["detail"]
    return None


COOKIES = {
    "no cookie": {},
    "the secret": {"Cookie": f"csrftoken={SECRET}"},
    "a masked cookie": {"Cookie": f"csrftoken={masked(SECRET)}"},
    "among others, quoted": {"Cookie": f'sessionid=abc; csrftoken="{SECRET}"; other=1'},
    "twice, the last wins": {"Cookie": f"csrftoken={OTHER}; csrftoken={SECRET}"},
    "empty": {"Cookie": "csrftoken="},
    "too short": {"Cookie": "csrftoken=short"},
    "33 characters": {"Cookie": f"csrftoken={SECRET}x"},
    "invalid characters": {"Cookie": "csrftoken=" + "!" * 32},
    "another secret": {"Cookie": f"csrftoken={OTHER}"},
}
TOKENS = {
    "no header": {},
    "the secret": {"X-CSRFToken": SECRET},
    "masked": {"X-CSRFToken": masked(SECRET)},
    "empty": {"X-CSRFToken": ""},
    "too short": {"X-CSRFToken": "abc"},
    "invalid characters": {"X-CSRFToken": "-" * 64},
    "another secret": {"X-CSRFToken": OTHER},
    "another, masked": {"X-CSRFToken": masked(OTHER)},
}
ORIGINS = {"none": {}, "this host": {"Origin": f"http://{HOST}"}, "https": {"Origin": f"https://{HOST}"},
           "another site": {"Origin": "http://evil.example"}, "null": {"Origin": "null"}, "empty": {"Origin": ""},
           "with a port": {"Origin": f"http://{HOST}:80"}}


def both(method: str, headers: dict[str, str], body: bytes = b"", content_type: str | None = None
         ) -> tuple[int, str] | None:
    ours, theirs = service(method, headers, body, content_type), monolith(method, headers, body, content_type)
    assert ours == theirs, f"{method} {headers} {body[:80]!r}: service {ours}, monolith {theirs}"
    return ours


@pytest.mark.parametrize("cookie", list(COOKIES))
@pytest.mark.parametrize("token", list(TOKENS))
def test_cookies_and_headers_are_judged_as_django_judges_them(cookie: str, token: str) -> None:
    headers = {**COOKIES[cookie], **TOKENS[token]}
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        both(method, headers, b'{"a": 1}', "application/json")
    for method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        assert both(method, headers) is None
    if cookie == "the secret" and token in ("the secret", "masked"):
        assert both("POST", headers, b"{}", "application/json") is None
    if cookie == "no cookie":
        assert both("PATCH", headers) == (403, "CSRF Failed: CSRF cookie not set.")


@pytest.mark.parametrize("origin", list(ORIGINS))
def test_origins_are_judged_as_django_judges_them_over_http(origin: str) -> None:
    """No trusted origins, plain HTTP: only ``http://<Host>`` passes; the Referer is not looked at."""
    for token in (TOKENS["the secret"], {}):
        headers = {**COOKIES["the secret"], **token, **ORIGINS[origin]}
        both("POST", headers, b"{}", "application/json")
        both("DELETE", {**headers, "Referer": "https://evil.example/"})
    if origin == "this host":
        assert both("PUT", {**COOKIES["the secret"], **TOKENS["the secret"], **ORIGINS[origin]}) is None


# By name, not by value: the masked token is random (pytest-xdist's workers must collect the same ids).
BODIES = {
    "form, the secret": (f"a=1&csrfmiddlewaretoken={SECRET}".encode(), "application/x-www-form-urlencoded"),
    "form, masked, a charset": (f"csrfmiddlewaretoken={masked(SECRET)}".encode(),
                                "application/x-www-form-urlencoded; charset=utf-8"),
    "form, another secret": (f"csrfmiddlewaretoken={OTHER}".encode(), "application/x-www-form-urlencoded"),
    "form, empty field": (b"csrfmiddlewaretoken=", "application/x-www-form-urlencoded"),
    "form, too short": (b"csrfmiddlewaretoken=short", "application/x-www-form-urlencoded"),
    "form, no field": (b"a=1", "application/x-www-form-urlencoded"),
    "text, not a form": (f"csrfmiddlewaretoken={SECRET}".encode(), "text/plain"),
    "json, not a form": (f'{{"csrfmiddlewaretoken": "{SECRET}"}}'.encode(), "application/json"),
    "multipart, the secret": (multipart(a="1", csrfmiddlewaretoken=SECRET), MULTIPART),
    "multipart, another secret": (multipart(csrfmiddlewaretoken=OTHER), MULTIPART),
    "multipart, no field": (multipart(a="1"), MULTIPART),
    # Bodies the monolith's parsers refuse: DRF's request.POST parses every POST's body for the check, and its
    # 415 or 400 comes out of the check itself (once the cookie passed), whatever the header says.
    "json, malformed": (b'{"a": ', "application/json"),
    "json, nested too deeply": (b"[" * 5000 + b"]" * 5000, "application/json"),
    "no content type": (b"x=1", None),
    "multipart, unfinished": (b"--nope\r\n", MULTIPART),
    "multipart, no boundary": (b"a=1", "multipart/form-data"),
    "empty, text": (b"", "text/plain"),
    "empty, no content type": (b"", None),
}


@pytest.mark.parametrize("name", list(BODIES))
def test_a_form_field_stands_for_the_header_on_a_post(name: str) -> None:
    """``csrfmiddlewaretoken`` in a form body (POST only, forms only), else the header; a field that is there but
    empty falls back to the header too. A POST's body the monolith cannot parse is its parser's answer."""
    body, content_type = BODIES[name]
    for cookie in ("the secret", "no cookie", "too short"):
        for token in ({}, TOKENS["the secret"], TOKENS["another secret"]):
            headers = {**COOKIES[cookie], **token}
            for origin in ({}, ORIGINS["another site"]):
                both("POST", {**headers, **origin}, body, content_type)
            both("PUT", headers, body, content_type)


def test_who_is_held_to_the_check() -> None:
    """DRF enforces CSRF only when its SessionAuthentication authenticated the caller: a caller (the router's identity
    token named one) without ``Authorization: Token`` (token authentication comes first in the monolith and answers
    alone). An anonymous caller is never held to it."""
    caller = Caller(user_id=7, is_staff=False)

    def request(headers: dict[str, str]) -> Request:
        return Request({"type": "http", "method": "POST", "path": "/", "query_string": b"",
                        "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})

    assert csrf.by_session(request({}), caller)
    assert csrf.by_session(request({"cookie": "sessionid=abc"}), caller)
    assert csrf.by_session(request({"authorization": "Basic dXNlcjpwdw=="}), caller)
    assert csrf.by_session(request({"authorization": "Bearer abc"}), caller)
    assert not csrf.by_session(request({"authorization": "Token abc"}), caller)
    assert not csrf.by_session(request({"authorization": "token abc"}), caller)
    assert not csrf.by_session(request({"authorization": "Token"}), caller)
    assert not csrf.by_session(request({}), None)
    assert not csrf.by_session(request({"cookie": "sessionid=abc"}), None)


def test_the_cookie_django_hands_out_for_a_malformed_one() -> None:
    assert csrf.malformed_cookie("csrftoken=short") and csrf.malformed_cookie("a=1; csrftoken=" + "!" * 32)
    assert not csrf.malformed_cookie(f"csrftoken={SECRET}") and not csrf.malformed_cookie("sessionid=x")
    assert not csrf.malformed_cookie(None) and not csrf.malformed_cookie("")
    cookie = csrf.new_cookie()
    value = cookie.split(";", 1)[0].removeprefix("csrftoken=")
    assert len(value) == 32 and all(c in CHARS for c in value)
    assert cookie.endswith("; Max-Age=31449600; Path=/; SameSite=Lax")


# --- a scaffolded service ------------------------------------------------------------------------------------------


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A root to scaffold into, importable, with a package name nobody else uses."""
    out = f"gen_{uuid.uuid4().hex[:8]}"
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path, out
    for name in [m for m in sys.modules if m == out or m.startswith(out + ".")]:
        del sys.modules[name]


@pytest.mark.slow
def test_a_scaffolded_services_resources_hold_session_writes_to_the_check(
        generated: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """What the template gives a new service: its Resource refuses a session caller's write without the CSRF token
    (before the permission and the method), lets it through with it; token callers, reads and the internal
    ServiceResource are not checked."""
    from starlette.routing import Route

    from strangler.scaffold import scaffold

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
        from starlette.testclient import TestClient

    root, out = generated
    scaffold("orders", out=out, root=root)
    key = "scaffolded-csrf-tests-identity-key-0123456789"
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", key)
    monkeypatch.setenv("ORDERS_DATABASE_URL", f"sqlite:///{root / 'service.sqlite3'}")
    monkeypatch.setenv("ORDERS_SERVICE_TOKEN", "scaffolded-csrf-service-token")
    assert __import__(f"{out}.orders.__main__", fromlist=["main"]).main(["migrate"]) == 0
    app = __import__(f"{out}.orders.app", fromlist=["create_app"]).create_app()
    resources = __import__(f"{out}.orders.resources", fromlist=["Resource"])
    responses = __import__(f"{out}.orders.responses", fromlist=["json_response"])

    async def hello(request: Any, caller: Any, state: Any) -> Any:
        return responses.json_response({"user": caller and caller.user_id})

    app.router.routes.insert(0, Route("/api/hello/", resources.Resource(
        "Hello", {"GET": hello, "POST": hello}, permission=resources.STAFF_ONLY)))
    app.router.routes.insert(0, Route("/api/internal/", resources.ServiceResource("Internal", {"POST": hello})))
    now = int(time.time())
    customer = jwt.encode({"sub": "7", "staff": False, "iat": now, "exp": now + 60, "iss": "strangler-router",
                           "aud": "strangler-services"}, key, algorithm="HS256")
    session = {"X-Identity-Token": customer}
    with_csrf = {**session, "Cookie": f"csrftoken={SECRET}", "X-CSRFToken": SECRET}
    with TestClient(app, base_url="http://localhost") as client:
        refused = client.post("/api/hello/", json={}, headers=session)
        assert (refused.status_code, refused.json()) == (403, {"detail": "CSRF Failed: CSRF cookie not set."})
        assert (refused.headers["vary"], refused.headers["allow"]) == ("Cookie", "GET, POST, HEAD, OPTIONS")
        assert client.put("/api/hello/", json={}, headers=session).json() == {
            "detail": "CSRF Failed: CSRF cookie not set."}   # before the method's 405
        # Past the check: the permission (a customer is no staff), then the method.
        assert client.post("/api/hello/", json={}, headers=with_csrf).json() == {
            "detail": "You do not have permission to perform this action."}
        assert client.get("/api/hello/", headers=session).status_code == 403   # a read: the permission only
        token = {**session, "Authorization": "Token 0123456789abcdef0123456789abcdef01234567"}
        assert client.post("/api/hello/", json={}, headers=token).json() == {
            "detail": "You do not have permission to perform this action."}
        assert client.post("/api/hello/", json={}).status_code == 401   # anonymous: the permission's 401
        internal = client.post("/api/internal/", json={}, headers={**session,
                                                                  "X-Service-Token": "scaffolded-csrf-service-token"})
        assert (internal.status_code, internal.json()) == (200, {"user": None})
    app.state.orders.engine.dispose()
