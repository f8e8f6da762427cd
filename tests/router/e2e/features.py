"""What the end-to-end tests of the router's features share (tests/router/e2e/addons/, tests/router/e2e/admin/):
a router process per group of tests with a table of its own (``router_for``), its admin API (``admin``),
fan-outs of many requests at once, and the shadow's figures.

The fake backends ("monolith" and "catalog", tests/support/upstream.py) are the ``upstreams`` fixture of
tests/router/e2e/conftest.py, one pair per test module.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from strangler.processes import ManagedProcess
from tests.router.e2e.helpers import dead_url, journal
from tests.support.servers import running_router

ROOT = Path(__file__).resolve().parents[3]
ADMIN_ENV = "FEATURES_ROUTER_ADMIN_TOKEN"
ADMIN_TOKEN = f"features-admin-{uuid.uuid4().hex}"
UNSET_ADMIN_ENV = "FEATURES_ROUTER_ADMIN_TOKEN_NEVER_SET"
SECRET_ENV = "FEATURES_ROUTER_IDENTITY_SECRET"
SECRET = f"features-identity-secret-{uuid.uuid4().hex}"
ROUTER_ENV = {ADMIN_ENV: ADMIN_TOKEN, SECRET_ENV: SECRET}
# 2,000 distinct session cookies, the same in every run (so a share is the same in every run too).
COOKIES = [hashlib.sha256(f"features-cookie-{n}".encode()).hexdigest()[:32] for n in range(2000)]


# -- processes -------------------------------------------------------------------------------------------

@dataclass
class Running:
    url: str
    admin_url: str
    process: ManagedProcess
    config: Path


def routes_file(body: str, *, admin_env: str = ADMIN_ENV) -> str:
    header = textwrap.dedent(f"""\
        version: 1
        listen: "{{listen}}"
        admin: {{listen: "{{admin_listen}}", token_env: {admin_env}}}
        """)
    return header + textwrap.dedent(body)


@contextmanager
def router_for(tmp_path_factory: pytest.TempPathFactory, name: str, yaml_text: str) -> Iterator[Running]:
    with running_router(tmp_path_factory.mktemp(name), yaml_text, env=ROUTER_ENV) as (url, process, config):
        yield Running(url, process.admin_url, process, config)  # type: ignore[attr-defined]


def two_backends(upstreams: dict[str, str]) -> str:
    return (f'  monolith: {{targets: ["{upstreams["monolith"]}"], health: {{interval: 0}}}}\n'
            f'  catalog: {{targets: ["{upstreams["catalog"]}"], health: {{interval: 0}}}}\n')


def admin(router: Running, method: str, path: str, *, token: str | None = ADMIN_TOKEN, body: Any = None,
          content: bytes | None = None, scheme: str = "Bearer") -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return httpx.request(method, router.admin_url + path, headers=headers, json=body, content=content, timeout=10)


@dataclass
class Answer:
    """One response of a fan-out (aiohttp on the client side: httpx's pool is too slow for thousands)."""

    status_code: int
    headers: dict[str, str]  # lower-case names
    content: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


async def _fan_out(base_url: str, requests: list[tuple[str, dict[str, str]]], concurrency: int) -> list[Answer]:
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=20)) as session:
        async def one(path: str, headers: dict[str, str]) -> Answer:
            async with gate:
                started = time.monotonic()
                async with session.get(path, headers=headers) as response:
                    content = await response.read()
                    return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, content,
                                  time.monotonic() - started)

        return await asyncio.gather(*(one(path, headers) for path, headers in requests))


def fan_out(base_url: str, requests: list[tuple[str, dict[str, str]]], *, concurrency: int = 32) -> list[Answer]:
    return asyncio.run(_fan_out(base_url, requests, concurrency))


def sides(base_url: str, path: str, cookies: list[str]) -> dict[str, str]:
    """Which backend served each session cookie (one request per cookie)."""
    responses = fan_out(base_url, [(path, {"Cookie": f"theme=dark; sessionid={c}"}) for c in cookies])
    out = {}
    for cookie, response in zip(cookies, responses, strict=True):
        assert response.status_code == 200, response.text
        assert response.json()["name"] == response.headers["x-upstream"]
        out[cookie] = response.headers["x-upstream"]
    return out


# -- the shadow's figures ---------------------------------------------------------------------------

DEAD = dead_url()  # where nothing listens


def shadow_figures(router: Running, route: str) -> dict[str, int]:
    response = admin(router, "GET", "/counters")
    assert response.status_code == 200
    zero = {"sampled_out": 0, "queued": 0, "dropped": 0, "compared": 0, "equal": 0, "different": 0, "errors": 0}
    figures: dict[str, int] = response.json()["routes"].get(route, {}).get("shadow", zero)
    return figures


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in after if after[key] != before[key]}


def seen_by(upstream_url: str, request_id: str) -> list[dict[str, Any]]:
    return [entry for entry in journal(upstream_url) if entry["request_id"] == request_id]
