"""The identity bridge: extracted services learn who is calling without the monolith's session store.

For a request on a route (the default backend, the monolith, resolves identity itself), the router takes
the caller's credential (``Authorization`` header or the session cookie), asks the identity authority who that
is (``identity.resolve_url``: a URL, e.g. ``http://127.0.0.1:8000/api/accounts/me/``, or a path, e.g.
``/api/accounts/me/``, asked of whichever backend the routing table sends ``GET`` of that path to: the monolith,
then the accounts service once a plan moves that route, so identity moves with it; answers cached for
``cache_seconds``, concurrent look-ups of one credential coalesced), and passes the backend a short-lived signed
token in ``X-Identity-Token``: an HS256 JWT with ``sub`` (user id), ``staff``, ``iat``, ``exp``, ``iss`` and ``aud``,
whose header names the key it was signed with (``kid``: :func:`key_id`, a fingerprint of the secret, never the
secret). The secret is read from the environment variable ``identity.secret_env`` names on every request, so a
reload of the routes file that names another variable switches the key at once, without a restart: that is
the router's step of a key rotation, while the services accept both keys (the README's "Rotating the identity
key"; the services' verifier picks the key by ``kid``).
Any identity header the client sent was removed before this runs (see ``headers.IDENTITY``).

A credential the monolith refuses is never passed on as "anonymous": when the monolith answers the look-up
with 401 or 403, the request goes on to its backend with a *refused* identity token instead (no ``sub``;
a ``refused`` claim carrying the monolith's status, JSON body and ``WWW-Authenticate`` challenges), and the
caller's own ``Authorization`` header as always. The backend answers it at the point the monolith would
have: a service raises the refusal after its host, URL, ``format`` and ``Accept`` checks and before the
method and object checks, with the headers it always sets (``Allow``, ``Vary``); the monolith (a canary's
other share) ignores the token and refuses the credential itself. So the caller gets exactly what the
monolith gives, in the monolith's precedence (400, 404, 406 before 401; 401 before 405 and an object's
404). A verifier that does not know ``refused`` rejects the token for lack of ``sub`` (401), never
"anonymous". Only when no token can be minted (the secret is missing) does the router answer the refusal
itself. The one exception is a refusal identical to the one the monolith gives a caller who sends no
credential at all: then the monolith did not refuse the credential but ignored it (a session cookie that
expired, an ``Authorization`` scheme it does not use) and serves such a caller as anonymous, so the router
does too. The anonymous answer is asked for once and cached like any other.

The look-up's JSON answer gives the user's id at ``user_id_field`` and the staff flag at ``staff_field``
(dotted paths; the shop's ``{"id", "is_staff"}`` by default); a null id is an anonymous caller, cached like
any answer. A look-up that fails (monolith down, timeout, 5xx, an answer without the id) is not cached; with
``on_failure: refuse`` (the default) the caller, who did send a credential, is answered 503
``identity_unavailable`` with ``Retry-After`` rather than served as a stranger; with ``anonymous`` the request
goes on without an identity. Answers are cached for ``cache_seconds``: a token revoked in the monolith is
still taken for its user until its entry expires.

Services verify the token with the shared secret; ``strangler/scaffold/template/identity.py`` is the small verifier they
copy (services share no code with the router).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx
import jwt

from router.config import IdentitySpec
from router.control.state import TableHolder
from router.proxy.flow import Flow
from router.proxy.pipeline import Addon, Reply
from router.routing.headers import cookie_value

log = logging.getLogger("router.identity")
ISSUER = "strangler-router"
AUDIENCE = "strangler-services"
HEADER = b"x-identity-token"
MIN_SECRET_LENGTH = 32
CACHE_ENTRIES = 10_000
MAX_REFUSAL_BODY = 2048  # a refusal body carried in a token (larger: its text as ``detail``)


@dataclass(frozen=True)
class Identity:
    user_id: str
    is_staff: bool


@dataclass(frozen=True)
class Refused:
    """The monolith's answer to a look-up it refused (401/403): what the caller is answered in its place."""

    status: int
    body: bytes
    www_authenticate: tuple[bytes, ...]

    def json_body(self) -> dict[str, object]:
        """The monolith's JSON object (its keys in order), or its text as ``detail``."""
        try:
            data = json.loads(self.body)
        except ValueError:
            data = None
        if isinstance(data, dict) and len(self.body) <= MAX_REFUSAL_BODY:
            return data
        return {"detail": self.body.decode("utf-8", "replace")[:500]}

    def reply(self) -> Reply:
        """The router's own answer, when no refused token can be minted (the secret is missing)."""
        return Reply(self.status, self.json_body(),
                     [(b"www-authenticate", value) for value in self.www_authenticate])


@dataclass(frozen=True)
class LookupFailed:
    """The monolith could not say (down, slow, 5xx, an answer without the id): never cached."""

    reason: str


Answer = Identity | Refused | LookupFailed | None  # None: anonymous
NO_CREDENTIAL = ("", "")
_MISSING = object()


def field(data: object, path: str) -> object:
    """The value at a dotted path of a JSON answer (``_MISSING`` when a step is absent; None when null)."""
    for name in path.split("."):
        if data is None:
            return None
        if not isinstance(data, dict) or name not in data:
            return _MISSING
        data = data[name]
    return data


def secret_problem(spec: IdentitySpec) -> str | None:
    secret = os.environ.get(spec.secret_env, "")
    if not secret:
        return f"identity.secret_env: environment variable {spec.secret_env} is not set"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"identity.secret_env: {spec.secret_env} must hold at least {MIN_SECRET_LENGTH} characters"
    return None


def key_id(secret: str) -> str:
    """The ``kid`` a token names its key with: the first 16 hex digits of the secret's SHA-256 (the services'
    verifier computes the same). It tells the services which of their keys to check with during a rotation and
    tells nobody else anything that helps forge a token."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def mint(identity: Identity, secret: str, ttl: float, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {"sub": identity.user_id, "staff": identity.is_staff, "iat": issued, "exp": issued + int(ttl),
              "iss": ISSUER, "aud": AUDIENCE}
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": key_id(secret)})


def mint_refused(refused: Refused, secret: str, ttl: float, now: float | None = None) -> str:
    """A token saying "the monolith refused this caller's credential, answer this": no ``sub`` (so a verifier
    that does not know the claim rejects it), ``refused`` = {status, body, www_authenticate}."""
    issued = int(now if now is not None else time.time())
    claims = {"refused": {"status": refused.status, "body": refused.json_body(),
                          "www_authenticate": [v.decode("latin-1") for v in refused.www_authenticate]},
              "iat": issued, "exp": issued + int(ttl), "iss": ISSUER, "aud": AUDIENCE}
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": key_id(secret)})


class IdentityBridge(Addon):
    def __init__(self, tables: TableHolder, client: httpx.AsyncClient | None = None) -> None:
        self.tables = tables
        self._client = client
        self._cache: OrderedDict[str, tuple[float, Answer]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Answer]] = {}
        self.lookups = 0  # calls made to the monolith, for tests and metrics
        self._turns: dict[str, int] = {}   # per backend, the last of its targets a look-up went to (resolve_target)

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    async def request(self, flow: Flow) -> Reply | None:
        spec = self.tables.current.identity
        route = flow.match.route
        # Only requests that may reach another backend than the monolith need a token (the monolith knows
        # its own sessions): a route that is still plainly on the default backend costs no look-up.
        if spec is None or route is None or (route.backend == flow.default_backend and route.shadow is None):
            return None
        credential = self._credential(flow, spec)
        if credential is None:
            return None
        identity = await self._resolve(spec, *credential)
        if isinstance(identity, LookupFailed):
            if spec.on_failure == "anonymous":
                return None
            flow.error = f"identity: the look-up failed ({identity.reason})"
            return Reply(503, {"detail": "Could not tell who is calling; try again shortly.",
                               "code": "identity_unavailable"}, [(b"retry-after", b"1")])
        if isinstance(identity, Refused):
            anonymous = await self._resolve(spec, *NO_CREDENTIAL)
            if anonymous == identity:
                return None  # the monolith ignores this credential and serves such a caller as anonymous
            secret = os.environ.get(spec.secret_env, "")
            if len(secret) < MIN_SECRET_LENGTH:
                log.error("refused identity token not minted: %s", secret_problem(spec))
                flow.error = f"identity: the monolith refused the credential ({identity.status})"
                return identity.reply()
            # The backend answers the refusal where the monolith would (after its 400/404/406, before 405).
            flow.headers.append((HEADER, mint_refused(identity, secret, spec.token_ttl).encode()))
            return None
        if identity is None:
            return None
        secret = os.environ.get(spec.secret_env, "")
        if len(secret) < MIN_SECRET_LENGTH:
            log.error("identity token not minted: %s", secret_problem(spec))
            return None
        flow.user_id, flow.is_staff = identity.user_id, identity.is_staff
        flow.headers.append((HEADER, mint(identity, secret, spec.token_ttl).encode()))
        return None

    @staticmethod
    def _credential(flow: Flow, spec: IdentitySpec) -> tuple[str, str] | None:
        authorization = flow.header(b"authorization")
        if authorization:
            return ("authorization", authorization.decode("latin-1"))
        session = cookie_value(flow.headers, spec.session_cookie)
        if session:
            return ("cookie", f"{spec.session_cookie}={session}")
        return None

    async def _resolve(self, spec: IdentitySpec, header: str, value: str) -> Answer:
        key = hashlib.sha256(f"{header}\x00{value}".encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            self._cache.move_to_end(key)
            return cached[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            identity, cacheable = await self._ask_monolith(spec, header, value)
            if cacheable and spec.cache_seconds > 0:
                self._cache[key] = (time.monotonic() + spec.cache_seconds, identity)
                while len(self._cache) > CACHE_ENTRIES:
                    self._cache.popitem(last=False)
            future.set_result(identity)
            return identity
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            del self._pending[key]
            if future.done() and not future.cancelled():
                future.exception()  # mark retrieved: no "exception never retrieved" noise

    def resolve_target(self, spec: IdentitySpec) -> str:
        """The URL a look-up goes to: ``resolve_url`` itself, or, when it is a path, that path at the backend the
        routing table sends ``GET`` of it to now (its targets in turn). So a plan that moves the identity
        authority's routes (the accounts' cutover, or its rollback) moves the look-ups with them, in the same
        table swap; nothing else to switch or to forget. The look-up goes to the backend directly, not through
        the router (it would need an identity itself). A route at a canary share is asked at the table's default
        (the side that owns the credentials until the cutover): the canary's copy of them lags its owner by the
        sync, and a token issued a moment ago would be refused there, which the bridge passes on as a refusal."""
        if not spec.resolve_url.startswith("/"):
            return spec.resolve_url
        table = self.tables.current.table
        match = table.match("GET", spec.resolve_url)
        name = table.default if match.route is not None and match.route.canary is not None else match.backend
        backend = table.backends[name]
        turn = self._turns[backend.name] = (self._turns.get(backend.name, -1) + 1) % len(backend.targets)
        return backend.targets[turn].rstrip("/") + spec.resolve_url

    async def _ask_monolith(self, spec: IdentitySpec, header: str, value: str) -> tuple[Answer, bool]:
        self.lookups += 1
        try:
            response = await self.client().get(self.resolve_target(spec), headers={header: value} if header else {},
                                               timeout=spec.timeout)
        except httpx.HTTPError as exc:
            log.warning("identity look-up failed: %s: %s", type(exc).__name__, exc)
            return LookupFailed(f"{type(exc).__name__}"), False  # an outage is not remembered
        if response.status_code in (401, 403):
            challenges = tuple(v for k, v in response.headers.raw if k.lower() == b"www-authenticate")
            return Refused(response.status_code, response.content, challenges), True
        if response.status_code != 200:
            log.warning("identity look-up answered %s", response.status_code)
            return LookupFailed(f"the look-up answered {response.status_code}"), False
        try:
            data = response.json()
        except ValueError:
            data = _MISSING
        user = field(data, spec.user_id_field) if data is not _MISSING else _MISSING
        if user is None:
            return None, True  # a null id: the monolith says anonymous
        if isinstance(user, bool) or not isinstance(user, int | str) or user == "":
            log.warning("identity look-up gave no %s in its answer", spec.user_id_field)
            return LookupFailed(f"no {spec.user_id_field} in the look-up's answer"), False
        staff = field(data, spec.staff_field) if spec.staff_field else False
        return Identity(user_id=str(user), is_staff=staff is True), True

    def start(self) -> None:
        return None

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
