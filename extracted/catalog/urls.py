"""Which URL is answered by what: the monolith's ``/api/catalog/`` routes and ``/healthz`` (a URL no route matches is
:mod:`.notfound`'s)."""

from __future__ import annotations

from typing import Final

from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import BaseRoute, Route

from extracted.catalog import apis
from extracted.catalog.rendering import CATEGORY_ACTION_FIELDS, PRODUCT_ACTION_FIELDS
from extracted.catalog.resources import Resource, ServiceResource
from extracted.catalog.routing import HEALTHZ  # and {id:catalog_id}


class UuidTextConvertor(Convertor[str]):
    """A reservation's id as it was handed out (a UUID's 36 characters); anything else is a plain 404."""

    regex = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("uuid_text", UuidTextConvertor())

ROUTES: Final[list[BaseRoute]] = [
    Route("/api/catalog/categories/", Resource("Category List", {
        "GET": apis.category_list, "POST": apis.category_create}, actions=("POST", CATEGORY_ACTION_FIELDS, None))),
    Route("/api/catalog/categories/{id:catalog_id}/", Resource("Category Instance", {
        "GET": apis.category_detail, "PUT": apis.category_put, "PATCH": apis.category_patch,
        "DELETE": apis.category_delete}, actions=("PUT", CATEGORY_ACTION_FIELDS, apis.category_object))),
    Route("/api/catalog/products/", Resource("Product List", {
        "GET": apis.product_list, "POST": apis.product_create}, actions=("POST", PRODUCT_ACTION_FIELDS, None))),
    Route("/api/catalog/products/{id:catalog_id}/", Resource("Product Instance", {
        "GET": apis.product_detail, "PUT": apis.product_put, "PATCH": apis.product_patch,
        "DELETE": apis.product_delete}, actions=("PUT", PRODUCT_ACTION_FIELDS, apis.product_object))),
    # DRF describes the viewset's serializer (the product's) for the stock action too.
    Route("/api/catalog/products/{id:catalog_id}/stock/", Resource("Stock", {"POST": apis.product_stock},
                                                                   staff_only=True,
                                                                   actions=("POST", PRODUCT_ACTION_FIELDS, None))),
    # Internal: the monolith's catalog gateway reserves and releases stock here once the catalog is cut over.
    Route("/api/catalog/stock/reserve/", ServiceResource("Stock Reserve", {"POST": apis.stock_reserve})),
    Route("/api/catalog/stock/release/", ServiceResource("Stock Release", {"POST": apis.stock_release})),
    # Internal: what other services read of the products they reference (the cart's lines), as the monolith.
    Route("/api/catalog/internal/products/", ServiceResource("Internal Products", {"GET": apis.internal_products})),
    # Internal: reservations that expire by themselves (the orders service's checkout saga).
    Route("/api/catalog/reservations/", ServiceResource("Reservations", {"POST": apis.reservation_create})),
    # Internal: the reservation of an Idempotency-Key released (a saga whose reserve got no answer).
    Route("/api/catalog/reservations/release/", ServiceResource("Reservation Release By Key", {
        "POST": apis.reservation_release_key})),
    # Internal: a cancelled order's stock given back for good, once per Idempotency-Key (the orders' cancel).
    Route("/api/catalog/stock/returns/", ServiceResource("Stock Returns", {"POST": apis.stock_return})),
    Route("/api/catalog/reservations/{id:uuid_text}/", ServiceResource("Reservation", {
        "GET": apis.reservation_detail})),
    Route("/api/catalog/reservations/{id:uuid_text}/commit/", ServiceResource("Reservation Commit", {
        "POST": apis.reservation_commit})),
    Route("/api/catalog/reservations/{id:uuid_text}/release/", ServiceResource("Reservation Release", {
        "POST": apis.reservation_release})),
    HEALTHZ,
]
