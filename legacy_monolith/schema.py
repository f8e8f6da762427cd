"""The OpenAPI schema's error contract: every operation lists the 4xx (and 503) answers it can give, with their
shapes, not only its 2xx.

drf-spectacular documents what a view returns on success; a tool that checks a service against this API
(``strangler contract``) also needs the errors. :class:`ShopAutoSchema` (``DEFAULT_SCHEMA_CLASS``) adds to
each operation, from what the view is (its method, permissions, request body, parameters):

===== ============================================================================================================
400   ``{"field": ["message", ...]}`` for invalid input (``ValidationErrors``), or ``{"detail": ...}``
      (``ErrorDetail``): a body that does not parse, and what Django refuses itself (a body over 1 MiB, more
      than 1000 fields, a Host outside ALLOWED_HOSTS); the latter only where an operation takes no input
401   ``{"detail"}`` + ``WWW-Authenticate: Token``: credentials missing where required, or invalid anywhere
403   ``{"detail"}``: staff-only operations, and writes (a session without a valid CSRF token)
404   ``{"detail"}``: no such object (or hidden from the caller, or excluded by the URL's filters), a page past
      the last, a ``format`` other than ``json``
405   ``{"detail"}`` + ``Allow``: another method than this path's
406   ``{"detail"}``: an ``Accept`` header without JSON
409   ``{"detail", "code", ...}`` (``Conflict``) where the view's services raise one, ``code`` listed per
      operation (:data:`CONFLICTS`)
413   ``{"detail"}``: a body over ``SHOP_MAX_REQUEST_BODY``
415   ``{"detail"}``: a body in a media type none of the parsers takes (or with no Content-Type at all)
503   ``{"detail", "code": "catalog_unavailable"}`` where the catalog gateway is used (:data:`UNAVAILABLE`)
===== ============================================================================================================

Detail operations also list the list's filter parameters, since DRF's ``get_object()`` applies them
(``/api/catalog/products/1/?search=zz`` is a 404).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import SAFE_METHODS, IsAdminUser

from legacy_monolith.permissions import IsStaffOrReadOnly

# operationId -> the codes of the 409s its services raise (a test checks every one exists).
CONFLICTS: dict[str, tuple[str, ...]] = {
    "catalog_categories_destroy": ("protected",),
    "catalog_products_destroy": ("protected",),
    "catalog_products_stock_create": ("out_of_stock",),
    "cart_items_create": ("out_of_stock",),
    "cart_items_partial_update": ("out_of_stock",),
    "orders_checkout_create": ("out_of_stock", "conflict"),
    "orders_cancel_create": ("invalid_transition",),
    "shipping_shipments_status_create": ("invalid_transition",),
}
# operationId of the operations that go through the catalog gateway (503 catalog_unavailable after cutover).
UNAVAILABLE: frozenset[str] = frozenset({"orders_checkout_create", "orders_cancel_create"})

_DETAIL: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": "DRF's error body: what went wrong, in words.",
}
_VALIDATION: dict[str, Any] = {
    "type": "object",
    "description": "DRF's field errors: each invalid field (or query parameter) with its messages, in field "
                   "order; `non_field_errors` for the body as a whole; nested objects for nested input.",
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "object"}]}},
            {"type": "object"},
        ],
    },
    "minProperties": 1,
}
_CONFLICT: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
    "additionalProperties": True,
    "description": "A conflict with the current state: `code` says which; further fields depend on it "
                   "(`items` or `available` for out_of_stock, `current` for invalid_transition).",
}
_TEXT = {"schema": {"type": "string"}}


class ShopAutoSchema(AutoSchema):
    def get_filter_backends(self) -> list[Any]:
        """Detail operations of generic views too: ``get_object()`` filters the queryset with the same backends."""
        if self._is_list_view():
            return super().get_filter_backends()
        if isinstance(self.view, GenericAPIView) and getattr(self.view, "detail", False):
            return list(getattr(self.view, "filter_backends", []))
        return []

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for status, response in self._error_responses(operation).items():
            responses.setdefault(status, response)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _component(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
        self.registry.register_on_missing(component)
        return component.ref

    def _json(self, description: str, schema: dict[str, Any], **headers: str) -> dict[str, Any]:
        response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
        if headers:
            response["headers"] = {name: {**_TEXT, "description": text} for name, text in headers.items()}
        return response

    def _error_responses(self, operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
        detail = self._component("ErrorDetail", _DETAIL)
        operation_id = operation["operationId"]
        has_body = "requestBody" in operation
        has_input = has_body or any(p.get("in") == "query" for p in operation.get("parameters", []))
        errors: dict[str, dict[str, Any]] = {}
        if has_input:
            errors["400"] = self._json(
                "Invalid input: field errors, or `{\"detail\"}` for a body that does not parse and for what "
                "Django refuses itself (a body over 1 MiB, over 1000 fields, a Host outside ALLOWED_HOSTS).",
                {"oneOf": [self._component("ValidationErrors", _VALIDATION), detail]})
        else:
            errors["400"] = self._json("A request Django refuses itself (a Host outside ALLOWED_HOSTS).", detail)
        authenticators = self.view.get_authenticators()
        if authenticators:  # sign-up and login authenticate nobody, so refuse no credential
            errors["401"] = self._json(
                "Credentials missing (where they are required) or not valid (anywhere).", detail,
                **{"WWW-Authenticate": "`Token`: how to authenticate."})
        csrf = self.method not in SAFE_METHODS and any(isinstance(a, SessionAuthentication) for a in authenticators)
        permissions = self.view.get_permissions()
        staff = any(isinstance(p, IsAdminUser) for p in permissions) or (
            self.method not in SAFE_METHODS and any(isinstance(p, IsStaffOrReadOnly) for p in permissions))
        if csrf or staff:
            reasons = [*(["staff only"] if staff else []),
                       *(["a session-authenticated write without a valid CSRF token"] if csrf else [])]
            errors["403"] = self._json("Not allowed: " + "; or ".join(reasons) + ".", detail)
        errors["404"] = self._json(
            "Not found: no such object (or one the caller may not see, or one the URL's filters exclude), a page "
            "past the last, or a `format` query parameter other than `json`.", detail)
        errors["405"] = self._json(
            "Method not allowed on this path (never this operation's own method).", detail,
            Allow="The methods this path allows.")
        errors["406"] = self._json("The Accept header allows no JSON (the API answers in JSON only).", detail)
        if operation_id in CONFLICTS:
            codes = list(CONFLICTS[operation_id])
            errors["409"] = self._json(
                "Conflict with the current state; `code`: " + ", ".join(codes) + ".",
                {"allOf": [self._component("Conflict", _CONFLICT),
                           {"type": "object", "properties": {"code": {"type": "string", "enum": codes}}}]})
        errors["413"] = self._json("Request body over the limit (SHOP_MAX_REQUEST_BODY, 10 MiB by default).", detail)
        if has_body:
            errors["415"] = self._json(
                "Unsupported media type: the body must be application/json, application/x-www-form-urlencoded "
                "or multipart/form-data (a body without Content-Type is refused too).", detail)
        if operation_id in UNAVAILABLE:
            errors["503"] = self._json(
                "The catalog service (after the catalog's cutover) did not answer; nothing was written.",
                {"allOf": [self._component("Conflict", _CONFLICT),
                           {"type": "object", "properties": {"code": {"type": "string",
                                                                      "enum": ["catalog_unavailable"]}}}]})
        return errors
