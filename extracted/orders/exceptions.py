"""Errors of the orders service: the tree every service shares (its own errors, if any, are in ``errors.py``).

Tree::

    OrdersError: base of everything raised on purpose
    ├── ConfigurationError               bad ORDERS_DATABASE_URL and the like (startup, exit status 1)
    ├── NotAtHead                        the database is not at the Alembic head (startup refused)
    ├── MultipartError                   a multipart body Django cannot parse   } never answered as such:
    ├── SuspiciousMultipart              one Django refuses as suspicious       } ParseError / BadRequest
    └── ApiError                         answered as JSON with ``status`` and DRF's body shape
        ├── BadRequest                   400 {"detail": "Bad request."}      (oversized body, too many fields,
        │                                                                       disallowed Host; Django's own)
        ├── ParseError                   400 {"detail": "JSON parse error - ..."}
        ├── ValidationFailed             400 {"field": ["message", ...]}     (DRF's field errors)
        ├── CredentialRefused            the monolith's own 401/403 (the router's refused identity token)
        ├── NotAuthenticated             401 + WWW-Authenticate: Token
        │   └── AuthenticationFailed     401 {"detail": "Invalid token."}    + WWW-Authenticate: Token
        ├── PermissionDenied             403
        ├── NotFound                     404 {"detail": "..."}
        │   └── DjangoNotFound           404 of a URL no route matches (Django's JsonResponse)
        ├── MethodNotAllowed             405 {"detail": "Method \\"X\\" not allowed."} + Allow
        ├── NotAcceptable                406 (no JSON in Accept)
        ├── PayloadTooLarge              413 {"detail": ...}                 (over the request body limit)
        ├── UnsupportedMediaType         415
        └── CodedError                   {"detail", "code"}: errors that name themselves by a code
            ├── ServiceTokenRefused      401 not_authenticated   (internal endpoints: callers.authorise_service)
            ├── Conflict                 409 {"detail", "code", ...}
            └── Unavailable              503
                ├── NotConfigured        503 not_configured      (a setting the request needs is unset)
                └── ReadOnly             503 read_only + Retry-After (the database refused the write: the
                                                                      data is moving, see db.refused_as_read_only)

Handlers raise these; the app turns them into responses. Anything else becomes a JSON 500 carrying the
request id, never a traceback.
"""

from __future__ import annotations

from typing import Any


class OrdersError(Exception):
    pass


class ConfigurationError(OrdersError):
    pass


class NotAtHead(OrdersError):
    pass


class MultipartError(OrdersError):
    """Django's MultiPartParserError: the body is answered 400 ``Multipart form parse error - ...``."""


class SuspiciousMultipart(OrdersError):
    """Django's SuspiciousOperation family in the multipart parser: the monolith answers them 400 ``Bad request.``."""


class ApiError(OrdersError):
    status = 400
    default_detail = "Bad request."
    django_rendered = False  # True: the monolith answers it with Django's JsonResponse (``{"detail": "..."}``)
    www_authenticate: str | None = None  # a 401's challenge: how the caller should authenticate

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail if detail is not None else self.default_detail
        super().__init__(self.detail)

    def body(self) -> Any:
        return {"detail": self.detail}

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.www_authenticate} if self.www_authenticate else {}


class BadRequest(ApiError):
    """What Django itself refuses before or around DRF (handler400): rendered by Django's JsonResponse."""

    status = 400
    django_rendered = True


class ParseError(ApiError):
    status = 400
    default_detail = "Malformed request."


class ValidationFailed(ApiError):
    """DRF's ValidationError: ``errors`` is ``{field: [message, ...]}`` in field order."""

    status = 400

    def __init__(self, errors: dict[str, list[Any]]) -> None:
        self.errors = errors
        super().__init__("Invalid input.")

    def body(self) -> Any:
        return self.errors


class NotAuthenticated(ApiError):
    status = 401
    default_detail = "Authentication credentials were not provided."
    www_authenticate = "Token"


class AuthenticationFailed(NotAuthenticated):
    default_detail = "Invalid token."


class CredentialRefused(ApiError):
    """The monolith refused the caller's credential (the router's refused identity token): its answer, as is."""

    def __init__(self, status: int, body: dict[str, Any], challenges: tuple[str, ...]) -> None:
        self.status = status
        self.refusal_body = body
        self.www_authenticate = ", ".join(challenges) or None
        detail = body.get("detail")
        super().__init__(detail if isinstance(detail, str) else "Credential refused.")

    def body(self) -> Any:
        return self.refusal_body


class PermissionDenied(ApiError):
    status = 403
    default_detail = "You do not have permission to perform this action."


class NotFound(ApiError):
    status = 404
    default_detail = "Not found."


class DjangoNotFound(NotFound):
    """Django's own 404 (no URL matched: handler404), rendered by its JsonResponse."""

    django_rendered = True


class MethodNotAllowed(ApiError):
    status = 405

    def __init__(self, method: str) -> None:
        super().__init__(f'Method "{method}" not allowed.')


class NotAcceptable(ApiError):
    status = 406
    default_detail = "Could not satisfy the request Accept header."


class PayloadTooLarge(ApiError):
    """A body over the request limit (``ORDERS_MAX_REQUEST_BODY``), refused before anything else is looked at;
    the connection is closed after the answer."""

    status = 413
    django_rendered = True

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body too large: the limit is {limit} bytes.")

    def headers(self) -> dict[str, str]:
        return {"Connection": "close"}


class UnsupportedMediaType(ApiError):
    status = 415

    def __init__(self, media_type: str) -> None:
        super().__init__(f'Unsupported media type "{media_type}" in request.')


class CodedError(ApiError):
    """``{"detail", "code"}``: the code lets a client (a gateway, the router, another service) tell cases apart."""

    code = "error"

    def body(self) -> Any:
        return {"detail": self.detail, "code": self.code}


class ServiceTokenRefused(CodedError):
    """An internal endpoint's ``X-Service-Token`` is missing or wrong (see ``callers.authorise_service``)."""

    status = 401
    code = "not_authenticated"
    www_authenticate = "X-Service-Token"


class Conflict(CodedError):
    status = 409
    code = "conflict"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.extra = extra

    def body(self) -> Any:
        return {**super().body(), **self.extra}






class Unavailable(CodedError):
    """503: the service cannot answer this now; nothing was done. ``retry_after``: seconds a client should wait
    (the ``Retry-After`` header), when the service knows."""

    status = 503
    code = "unavailable"
    retry_after: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after} if self.retry_after else {}


class NotConfigured(Unavailable):
    """A setting the request needs is missing on the service's side (e.g. ``ORDERS_SERVICE_TOKEN``)."""

    code = "not_configured"


class ReadOnly(Unavailable):
    """The database refused a write because this copy of the data is read-only while it moves between databases."""

    code = "read_only"
    default_detail = "This data is being moved and cannot be changed for a moment; try again shortly."
    retry_after = "1"
