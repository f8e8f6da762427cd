"""Redacting secrets out of recorded HTTP flows, before anything reaches the flow file.

What goes: credential headers (``Authorization``, ``X-Identity-Token``, ``X-CSRFToken``, ...), every cookie
value in ``Cookie`` and ``Set-Cookie`` (names and attributes stay, so a reader still sees that a session was
used), and fields whose name says secret (``password``, ``token``, ``secret``, ``csrfmiddlewaretoken`` and
names ending in ``_password``/``_token``/``_secret``) wherever they appear: JSON bodies at any depth,
url-encoded and multipart forms, query strings, and hidden ``<input>`` fields in HTML. Request and response
alike: a login answer carries a token just as its request carries a password.

The same redaction is applied to live answers during replay, so a redacted recording compares equal to a
live answer that differs only in its secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from mitmproxy import http

REDACTED = "[redacted]"

DEFAULT_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-identity-token", "x-csrftoken", "x-csrf-token", "x-api-key",
    "x-auth-token",
})
DEFAULT_FIELDS = frozenset({"password", "token", "secret", "csrfmiddlewaretoken"})
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "x-identity-token", "x-auth-token",
                                "x-api-key"})

_COOKIE_PAIR = re.compile(r"(^|;)(\s*)([^=;]+)=([^;]*)")
_SET_COOKIE_VALUE = re.compile(r"^(\s*[^=;]+)=([^;]*)")
_INPUT_TAG = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_NAME_ATTR = re.compile(r"""\bname\s*=\s*(["']?)([^"'\s>]+)\1""", re.IGNORECASE)
_VALUE_ATTR = re.compile(r"""(\bvalue\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_TEXTUAL = ("text/", "application/json", "application/xhtml", "application/xml", "application/javascript",
            "+json", "+xml")


@dataclass
class Redactor:
    """Redacts flows in place. ``headers``/``fields`` are lower-case names; ``suffixes`` extend ``fields``."""

    headers: frozenset[str] = DEFAULT_HEADERS
    fields: frozenset[str] = DEFAULT_FIELDS
    suffixes: tuple[str, ...] = ("_password", "_token", "_secret", "-token")
    count: int = field(default=0, init=False)  # how many values were redacted so far

    @classmethod
    def with_extra(cls, headers: Iterable[str] = (), fields: Iterable[str] = ()) -> Redactor:
        return cls(headers=DEFAULT_HEADERS | {h.lower() for h in headers},
                   fields=DEFAULT_FIELDS | {f.lower() for f in fields})

    def secret_field(self, name: str) -> bool:
        name = name.lower()
        return name in self.fields or name.endswith(self.suffixes)

    # -- flows ------------------------------------------------------------------------------------------
    def flow(self, flow: http.HTTPFlow) -> http.HTTPFlow:
        self.request(flow.request)
        if flow.response is not None:
            self.response(flow.response)
        return flow

    def request(self, request: http.Request) -> None:
        self._headers(request.headers)
        cookies = request.headers.get_all("cookie")
        if cookies:
            request.headers.set_all("cookie", [self.cookie_header(c) for c in cookies])
        query = request.query
        if any(self.secret_field(k) for k in query):
            self.count += sum(1 for k in query.keys() if self.secret_field(k))
            request.query = [(k, REDACTED if self.secret_field(k) else v) for k, v in query.items(multi=True)]
        self._body(request)

    def response(self, response: http.Response) -> None:
        self._headers(response.headers)
        cookies = response.headers.get_all("set-cookie")
        if cookies:
            response.headers.set_all("set-cookie", [self.set_cookie_header(c) for c in cookies])
        self._body(response)

    # -- headers ----------------------------------------------------------------------------------------
    def _headers(self, headers: http.Headers) -> None:
        for name in {k.lower() for k in headers.keys()}:
            if name in self.headers:
                values = headers.get_all(name)
                self.count += len(values)
                headers.set_all(name, [self._keep_scheme(v) for v in values])

    @staticmethod
    def _keep_scheme(value: str) -> str:
        # "Token abc" -> "Token [redacted]": the scheme tells a replay how to re-authenticate.
        scheme, sep, _ = value.partition(" ")
        return f"{scheme} {REDACTED}" if sep and scheme.isalpha() and len(scheme) < 16 else REDACTED

    def cookie_header(self, value: str) -> str:
        def sub(m: re.Match[str]) -> str:
            self.count += 1
            return f"{m.group(1)}{m.group(2)}{m.group(3)}={REDACTED}"
        return _COOKIE_PAIR.sub(sub, value)

    def set_cookie_header(self, value: str) -> str:
        match = _SET_COOKIE_VALUE.match(value)
        if not match or not match.group(2):  # an empty value deletes the cookie: nothing secret in it
            return value
        self.count += 1
        return f"{match.group(1)}={REDACTED}{value[match.end():]}"

    # -- bodies -----------------------------------------------------------------------------------------
    def _body(self, message: http.Message) -> None:
        raw = message.get_content(strict=False)
        if not raw:
            return
        ctype = message.headers.get("content-type", "").lower()
        new: bytes | None = None
        if "json" in ctype or raw.lstrip()[:1] in (b"{", b"["):
            new = self._json(raw)
        if new is None and "application/x-www-form-urlencoded" in ctype:
            new = self._form(raw)
        if new is None and "multipart/form-data" in ctype and isinstance(message, http.Request):
            new = self._multipart(message)
        if new is None and any(t in ctype for t in _TEXTUAL):
            new = self._html_inputs(raw)
        if new is not None and new != raw:
            message.content = new

    def _json(self, raw: bytes) -> bytes | None:
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        before = self.count
        data = self.json_value(data)
        if self.count == before:
            return raw
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    def json_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if isinstance(key, str) and self.secret_field(key) and item not in (None, "", [], {}):
                    self.count += 1
                    out[key] = REDACTED
                else:
                    out[key] = self.json_value(item)
            return out
        if isinstance(value, list):
            return [self.json_value(v) for v in value]
        return value

    def _form(self, raw: bytes) -> bytes | None:
        try:
            pairs = parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return None
        hits = [k for k, _ in pairs if self.secret_field(k)]
        if not hits:
            return raw
        self.count += len(hits)
        return urlencode([(k, REDACTED if self.secret_field(k) else v) for k, v in pairs]).encode()

    def _multipart(self, request: http.Request) -> bytes | None:
        try:
            form = request.multipart_form
        except ValueError:
            return None
        hits = [k for k in form.keys() if self.secret_field(k.decode(errors="replace"))]
        if not hits:
            return None
        self.count += len(hits)
        request.multipart_form = [(k, REDACTED.encode() if self.secret_field(k.decode(errors="replace")) else v)
                                  for k, v in form.items(multi=True)]
        return request.get_content(strict=False)

    def _html_inputs(self, raw: bytes) -> bytes | None:
        text = raw.decode("utf-8", errors="surrogateescape")

        def tag(m: re.Match[str]) -> str:
            name = _NAME_ATTR.search(m.group(0))
            if not name or not self.secret_field(name.group(2)):
                return m.group(0)
            self.count += 1
            return _VALUE_ATTR.sub(lambda v: f"{v.group(1)}{v.group(2)}{REDACTED}{v.group(2)}", m.group(0))

        new = _INPUT_TAG.sub(tag, text)
        return new.encode("utf-8", errors="surrogateescape") if new != text else raw


def carries_credentials(headers: http.Headers, session_cookies: Iterable[str] = ("sessionid",)) -> bool:
    """Whether a request authenticated itself: a credential header or a session cookie (csrftoken alone is not)."""
    if any(name.lower() in CREDENTIAL_HEADERS for name in headers.keys()):
        return True
    wanted = {c.lower() for c in session_cookies}
    for value in headers.get_all("cookie"):
        for m in _COOKIE_PAIR.finditer(value):
            name = m.group(3).strip().lower()
            if name in wanted or "session" in name:
                return True
    return False
