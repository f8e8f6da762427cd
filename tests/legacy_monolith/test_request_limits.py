"""Request bodies at the edge (legacy_monolith/limits.py): the 413 limit, chunked bodies, unread bodies drained."""

from __future__ import annotations

import io
import json
import socket
import time

import httpx
import pytest
from django.test import override_settings

from legacy_monolith.limits import ChunkedBodies
from legacy_monolith.parsers import MultiPartParser
from tests.support.servers import running_shop

PRODUCTS = "/api/catalog/products/"
LIMIT = 10 * 1024 * 1024
TOO_LARGE = {"detail": f"Request body too large: the limit is {LIMIT} bytes."}


@pytest.mark.django_db
def test_a_body_over_the_limit_is_413_before_anything_else(api):
    response = api.generic("POST", PRODUCTS, b" " * (LIMIT + 1), content_type="application/json",
                           HTTP_HOST="evil.example")  # the Host check comes after
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    # Django's early answers: the security headers and the request id, not X-Frame-Options (innermost).
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.has_header("X-Request-ID")
    assert not response.has_header("X-Frame-Options")
    assert api.generic("POST", PRODUCTS, b" " * LIMIT, content_type="application/json").status_code == 401


@pytest.mark.django_db
@override_settings(MAX_REQUEST_BODY=2 * 1024 * 1024)
def test_the_limit_is_a_setting(api):
    response = api.generic("POST", PRODUCTS, b" " * (2 * 1024 * 1024 + 1), content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large: the limit is 2097152 bytes."}


@pytest.mark.django_db
def test_a_multipart_body_is_held_to_one_mib_files_included(client_for, staff, category):
    boundary = "b0und4ry"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="junk"; filename="big.bin"\r\n\r\n'.encode()
            + b"x" * (1024 * 1024) + f"\r\n--{boundary}--\r\n".encode())
    response = client_for(staff).generic("POST", PRODUCTS, body,
                                         content_type=f"multipart/form-data; boundary={boundary}")
    # Django alone would have written the file to disk and answered the field errors.
    assert (response.status_code, response.json()) == (400, {"detail": "Bad request."})
    small = (f'--{boundary}\r\nContent-Disposition: form-data; name="price"\r\n\r\n1\r\n--{boundary}--\r\n').encode()
    response = client_for(staff).generic("POST", PRODUCTS, small,
                                         content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400 and "sku" in response.json()
    assert MultiPartParser.media_type == "multipart/form-data"


def test_chunked_bodies_get_their_length():
    seen = {}

    def app(environ, start_response):
        seen["length"] = environ.get("CONTENT_LENGTH")
        seen["body"] = environ["wsgi.input"].read()
        seen["over"] = environ.get("shop.body_over_limit")
        return [b""]

    wrapped = ChunkedBodies(app)
    wrapped({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b'{"price": "1.00"}')}, None)
    assert seen == {"length": "17", "body": b'{"price": "1.00"}', "over": None}
    wrapped({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"x" * (LIMIT + 1))}, None)
    assert seen == {"length": "0", "body": b"", "over": True}
    wrapped({"CONTENT_LENGTH": "3", "wsgi.input": io.BytesIO(b"abc")}, None)  # not chunked: untouched
    assert seen == {"length": "3", "body": b"abc", "over": None}


def _post_slowly(port: int, size: int, path: str = PRODUCTS) -> tuple[bytes, str | None]:
    """Headers and 64 KiB, a pause in which the server answers, then the rest of the body; what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {size}\r\n\r\n".encode() + b"a" * 65536)
        time.sleep(0.3)
        problem = None
        try:
            sent = 65536
            while sent < size:
                sock.sendall(b"a" * min(65536, size - sent))
                sent += 65536
        except OSError as exc:
            problem = f"sending the body failed: {exc!r}"
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError as exc:
            problem = (problem or "") + f"; reading the answer failed: {exc!r}"
    return answer, problem


@pytest.mark.slow
def test_under_gunicorn_unread_bodies_are_drained_and_chunked_ones_read(tmp_path):
    with running_shop(tmp_path, seed_args=("--products", "5", "--users", "1", "--orders", "0")) as shop:
        port = int(shop.url.rsplit(":", 1)[1])
        # An anonymous 3 MB upload to a staff endpoint: gunicorn used to close the connection before the body
        # was in, and the client, still writing, got a broken pipe instead of its 401.
        answer, problem = _post_slowly(port, 3_000_000)
        assert problem is None
        assert answer.startswith(b"HTTP/1.1 401 ")
        assert answer.endswith(b'{"detail":"Authentication credentials were not provided."}')
        answer, problem = _post_slowly(port, 12_000_000)  # over the limit (twice the limit at most is read)
        assert problem is None
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert json.dumps(TOO_LARGE).encode() in answer  # (gunicorn sends it chunked)
        with httpx.Client(base_url=shop.url, timeout=30) as http:
            login = http.post("/api/accounts/login/", json={"email": "staff@example.com",
                                                            "password": "shop-demo-password"})
            token = login.json()["token"]

            def chunks():
                yield b'{"price": '
                yield b'"4.25"}'

            response = http.patch(f"{PRODUCTS}1/", content=chunks(),
                                  headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
            assert response.request.headers["transfer-encoding"] == "chunked"
            assert (response.status_code, response.json()["price"]) == (200, "4.25")  # it used to be ignored
