"""Refused credentials through the router, compared with the monolith's own answers (used after a cutover).

For every path of the monolith's schema under a moved prefix, every method, and the variants whose answer the
monolith gives before or instead of authentication (``Accept: text/html`` 406, ``?format=api`` 404, a Host
outside ALLOWED_HOSTS 400, an object that does not exist, an unknown URL), a request with a refused credential
is sent through the router and straight to the monolith; status, body bytes and the headers that matter must
be the same.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

HEADERS = ("content-type", "www-authenticate", "allow", "vary")
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
MISSING_ID = "999999999"


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None

    def describe(self) -> str:
        return f"{self.method} {self.path} {dict(self.headers)}"


def bad_token() -> str:
    return f"Token {secrets.token_hex(20)}"


def probes(monolith_url: str, prefix: str, ids: dict[str, str]) -> list[Probe]:
    """Every method on every schema path under ``prefix`` ({id} from ``ids`` by the path's first segment after
    the prefix, and a missing id), plus the variants answered before authentication."""
    schema = httpx.get(f"{monolith_url}/api/schema/?format=json", timeout=60).json()
    paths: list[str] = []
    for template in schema["paths"]:
        if not template.startswith(prefix):
            continue
        if "{id}" in template:
            collection = template[len(prefix):].split("/", 1)[0]
            paths += [template.replace("{id}", ids[collection]), template.replace("{id}", MISSING_ID)]
        else:
            paths.append(template)
    out: list[Probe] = []
    json_body = (("Content-Type", "application/json"),)
    for path in paths:
        for method in METHODS:
            body = b'{"name": "refused"}' if method in ("POST", "PUT", "PATCH") else None
            headers = json_body if body is not None else ()
            out.append(Probe(method, path, headers, body))
        out += [Probe("GET", path, (("Accept", "text/html"),)), Probe("GET", path + "?format=api"),
                Probe("DELETE", path, (("Host", "refused.invalid"),)), Probe("PUT", path + "?search=zz-none")]
    out.append(Probe("GET", prefix + "no-such-thing/"))
    return out


def differences(router_url: str, monolith_url: str, credentials: Iterable[str], cases: list[Probe]
                ) -> tuple[int, list[str]]:
    """(pairs compared, what differed) for each credential × probe."""
    found: list[str] = []
    compared = 0
    with httpx.Client(timeout=30) as client:
        for credential in credentials:
            for probe in cases:
                answers = []
                for base in (router_url, monolith_url):
                    headers = {"Authorization": credential, **dict(probe.headers)}
                    answers.append(client.request(probe.method, base + probe.path, headers=headers,
                                                  content=probe.body))
                via_router, monolith = answers
                compared += 1
                problems = []
                if via_router.status_code != monolith.status_code:
                    problems.append(f"status {via_router.status_code} vs the monolith's {monolith.status_code}")
                if via_router.content != monolith.content:
                    problems.append(f"body {via_router.content[:200]!r} vs {monolith.content[:200]!r}")
                for name in HEADERS:
                    if via_router.headers.get_list(name) != monolith.headers.get_list(name):
                        problems.append(f"{name}: {via_router.headers.get_list(name)} vs "
                                        f"{monolith.headers.get_list(name)}")
                if problems:
                    found.append(f"{credential[:14]}… {probe.describe()}: " + "; ".join(problems))
    return compared, found

