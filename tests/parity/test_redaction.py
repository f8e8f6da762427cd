"""Redaction and replay planning on in-memory flows (fast: no process, no network)."""

from __future__ import annotations

import io
import json

import pytest
from mitmproxy import http
from mitmproxy.io import FlowReader, FlowWriter
from mitmproxy.test import tflow

from strangler.parity.exceptions import UnsafeReplay
from strangler.parity.flows import RecordedRequest
from strangler.parity.recorder import Recorder
from strangler.parity.redaction import REDACTED, Redactor, carries_credentials
from strangler.parity.replay import SKIP_AUTH, SKIP_REDACTED, SKIP_WRITE, ReplaySettings, outgoing_headers, plan


def flow(method: str = "GET", path: str = "/", *, headers: dict[str, str] | None = None, body: bytes = b"",
         response_body: bytes = b"{}", response_headers: dict[str, str] | None = None) -> http.HTTPFlow:
    f = tflow.tflow(resp=True)
    f.request.method, f.request.path = method, path
    f.request.headers = http.Headers(**{k.replace("-", "_"): v for k, v in (headers or {}).items()})
    f.request.content = body
    f.response.headers = http.Headers(**{k.replace("-", "_"): v for k, v in
                                         (response_headers or {"content-type": "application/json"}).items()})
    f.response.content = response_body
    return f


def test_credential_headers_and_cookies_are_redacted_but_their_names_kept() -> None:
    f = flow(headers={"authorization": "Token s3cr3t", "x-identity-token": "eyJ.abc.def", "x-csrftoken": "csrf1",
                      "cookie": "sessionid=sess1; csrftoken=csrf1"},
             response_headers={"set-cookie": "sessionid=sess2; HttpOnly; Path=/", "content-type": "text/plain"},
             response_body=b"ok")
    Redactor().flow(f)
    assert f.request.headers["authorization"] == f"Token {REDACTED}"
    assert f.request.headers["x-identity-token"] == REDACTED and f.request.headers["x-csrftoken"] == REDACTED
    assert f.request.headers["cookie"] == f"sessionid={REDACTED}; csrftoken={REDACTED}"
    assert f.response.headers["set-cookie"] == f"sessionid={REDACTED}; HttpOnly; Path=/"


def test_secret_fields_are_redacted_in_json_forms_queries_and_html() -> None:
    f = flow("POST", "/login/?token=abc&page=2", headers={"content-type": "application/json"},
             body=json.dumps({"email": "a@b.c", "password": "pw1", "nested": [{"refresh_token": "rt"}]}).encode(),
             response_body=json.dumps({"token": "tok1", "user": {"id": 1}}).encode())
    Redactor().flow(f)
    assert json.loads(f.request.content) == {"email": "a@b.c", "password": REDACTED,
                                             "nested": [{"refresh_token": REDACTED}]}
    assert f.request.query["token"] == REDACTED and f.request.query["page"] == "2"
    assert json.loads(f.response.content) == {"token": REDACTED, "user": {"id": 1}}

    form = flow("POST", "/accounts/login/", headers={"content-type": "application/x-www-form-urlencoded"},
                body=b"csrfmiddlewaretoken=c1&username=u&password=p1", response_headers={"content-type": "text/html"},
                response_body=b'<form><input type="hidden" name="csrfmiddlewaretoken" value="c2"><input name="q" '
                              b'value="keep"></form>')
    Redactor().flow(form)
    assert form.request.urlencoded_form["password"] == REDACTED
    assert form.request.urlencoded_form["csrfmiddlewaretoken"] == REDACTED
    assert form.request.urlencoded_form["username"] == "u"
    assert b'value="c2"' not in form.response.content and b'value="keep"' in form.response.content


def test_unchanged_bodies_are_left_byte_for_byte() -> None:
    body = b'{ "b": 1,  "a": [1, 2] }'
    f = flow(response_body=body)
    Redactor().flow(f)
    assert f.response.content == body


def test_the_recorder_writes_a_redacted_copy_and_the_client_keeps_the_real_answer(tmp_path) -> None:
    recorder = Recorder()
    recorder.open(tmp_path / "x.flows")
    f = flow("POST", "/api/accounts/login/", headers={"content-type": "application/json"},
             body=b'{"password": "pw1"}', response_body=b'{"token": "tok1"}')
    assert recorder.record(f) and not recorder.record(f)  # once per flow
    recorder.close()
    assert json.loads(f.response.content) == {"token": "tok1"}  # the live flow is untouched
    data = (tmp_path / "x.flows").read_bytes()
    assert b"pw1" not in data and b"tok1" not in data
    (read,) = list(FlowReader(io.BytesIO(data)).stream())
    assert json.loads(read.response.content) == {"token": REDACTED}


def test_the_recorder_never_crosses_max_bytes(tmp_path) -> None:
    size = io.BytesIO()
    FlowWriter(size).add(flow())
    recorder = Recorder(max_bytes=int(len(size.getvalue()) * 2.5))
    recorder.open(tmp_path / "x.flows")
    written = [recorder.record(flow()) for _ in range(4)]
    recorder.close()
    assert written == [True, True, False, False]
    assert recorder.limit and recorder.dropped == 2
    assert (tmp_path / "x.flows").stat().st_size <= recorder.max_bytes


def recorded(method: str, path: str, *, headers: tuple[tuple[str, str], ...] = (), body: bytes = b"",
             index: int = 0) -> RecordedRequest:
    from router.compare import Response

    return RecordedRequest(index, method, path, "localhost", headers, body, Response(200, (), b"{}"),
                           carries_credentials(http.Headers([(k.encode(), v.encode()) for k, v in headers])))


def test_replay_plan_skips_writes_unauthenticated_and_redacted_requests() -> None:
    requests = [
        recorded("GET", "/a/", index=0),
        recorded("POST", "/b/", index=1),
        recorded("GET", "/me/", headers=(("Authorization", f"Token {REDACTED}"),), index=2),
        recorded("GET", "/c/", headers=(("Cookie", f"csrftoken={REDACTED}"),), index=3),
    ]
    send, skipped = plan(requests, ReplaySettings(against="http://x"))
    assert [r.index for r in send] == [0, 3]  # a csrftoken cookie alone is no authentication
    assert {i: o.error for i, o in skipped.items()} == {1: SKIP_WRITE, 2: SKIP_AUTH}
    send, skipped = plan(requests, ReplaySettings(against="http://x", auth_token="t0k"))
    assert [r.index for r in send] == [0, 2, 3]
    assert ("Authorization", "Token t0k") in outgoing_headers(requests[2], ReplaySettings("http://x", auth_token="t0k"))
    assert not any(k.lower() == "cookie" for k, _ in outgoing_headers(requests[3], ReplaySettings("http://x")))

    login = recorded("POST", "/login/", body=json.dumps({"password": REDACTED}).encode(), index=4)
    send, skipped = plan([login], ReplaySettings(against="http://x", include_writes=True, writes_confirmed=True))
    assert not send and skipped[4].error == SKIP_REDACTED


def test_writes_are_refused_without_the_confirmation() -> None:
    with pytest.raises(UnsafeReplay, match="--i-know-this-writes"):
        plan([recorded("POST", "/b/")], ReplaySettings(against="http://x", include_writes=True))
