"""What a contract check sends and what it gets back: one generated request to one side's router, exactly
as generated (:func:`send_request`), and the JSON the check asks of the monolith itself (ids to use, its schema).

:class:`~strangler.contract.environment.Environment` holds the clients and sends through these.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from router.compare import Response
from strangler.contract.exceptions import ContractError
from strangler.contract.requests import ContractRequest


@dataclass(frozen=True)
class Answer:
    """One side's answer, or the error that stood in for it (status 0)."""

    response: Response
    seconds: float

    @property
    def status(self) -> int:
        return self.response.status


def default_host() -> str:
    """A Host the monolith accepts (its first plain ALLOWED_HOSTS entry), sent to both sides."""
    from django.conf import settings

    for host in getattr(settings, "ALLOWED_HOSTS", []) or []:
        if host and host != "*" and not host.startswith("."):
            return str(host)
    return "localhost"


def send_request(client: httpx.Client, host: str, headers: list[tuple[str, str]], request: ContractRequest) -> Answer:
    """``request`` through ``client`` with ``host`` and ``headers`` (the request's own and its credential)."""
    built = client.build_request(request.method, request.target, content=request.body)
    for name in ("accept", "accept-encoding", "user-agent"):
        if name in built.headers:
            del built.headers[name]  # only what the generated request says
    built.headers["Host"] = host  # one Host for both sides: absolute links are built from it
    for name, value in headers:
        built.headers[name] = value
    if request.body is None:
        built.headers.pop("content-length", None)
    started = time.monotonic()
    try:
        response = client.send(built)
        answer = Response(response.status_code, list(response.headers.multi_items()), response.content)
    except httpx.HTTPError as exc:
        answer = Response(0, [("content-type", "text/plain")], f"{type(exc).__name__}: {exc}".encode())
    return Answer(answer, time.monotonic() - started)


def json_of(path: str, answer: Answer) -> Any:
    """The JSON the monolith answered to ``GET path``; a :class:`ContractError` for anything else."""
    if answer.status != 200:
        raise ContractError(f"GET {path} on the monolith answered {answer.status}: "
                            f"{answer.response.body[:300].decode(errors='replace')}")
    try:
        return orjson.loads(answer.response.body)
    except orjson.JSONDecodeError as exc:
        raise ContractError(f"GET {path} on the monolith did not answer JSON: {exc}") from None


def fetch_schema(base_url: str, openapi: str) -> Any:
    """The OpenAPI schema at ``openapi`` of the monolith at ``base_url``."""
    try:
        response = httpx.get(base_url + openapi, timeout=60, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ContractError(f"the monolith's schema at {openapi}: {exc}") from None
    if response.status_code != 200:
        raise ContractError(f"the monolith's schema at {openapi} answered {response.status_code} "
                            "(set the contract step's openapi to where its OpenAPI document is)")
    try:
        return response.json()
    except ValueError:
        raise ContractError(f"the monolith's schema at {openapi} is not JSON "
                            "(ask for ?format=json)") from None
