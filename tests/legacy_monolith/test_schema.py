from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
import yaml
from django.core.management import call_command

from legacy_monolith.schema import CONFLICTS, UNAVAILABLE


def test_openapi_schema_generates_without_warnings_and_validates(tmp_path):
    # --fail-on-warn: a view whose schema drf-spectacular has to guess at is a contract nobody can rely on.
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(target), "--validate", "--fail-on-warn")
    text = target.read_text()
    for prefix in ("/api/accounts/", "/api/catalog/", "/api/cart/", "/api/orders/", "/api/shipping/"):
        assert prefix in text
    assert "CarrierEnum" in text and "ShipmentStatusEnum" in text and "OrderStatusEnum" in text


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--file", str(target))
    return yaml.safe_load(target.read_text())


def operations(schema: dict[str, Any]):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def test_every_operation_documents_its_errors(schema):
    """Not only the 2xx: every operation lists the 4xx a client can get, each with a JSON shape."""
    seen_ids = set()
    for path, method, operation in operations(schema):
        seen_ids.add(operation["operationId"])
        responses = operation["responses"]
        where = f"{method} {path}"
        for status in ("400", "404", "405", "406", "413"):
            assert status in responses, f"{where} does not document {status}"
        assert ("415" in responses) == ("requestBody" in operation), where
        if path not in ("/api/accounts/login/", "/api/accounts/register/"):  # they authenticate nobody
            assert "401" in responses, where
            assert "WWW-Authenticate" in responses["401"]["headers"], where
            if method != "GET":
                assert "403" in responses, where
        assert "Allow" in responses["405"]["headers"], where
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["description"], (where, status)
                assert response["content"]["application/json"]["schema"], (where, status)
        assert ("409" in responses) == (operation["operationId"] in CONFLICTS), where
        assert ("503" in responses) == (operation["operationId"] in UNAVAILABLE), where
    assert set(CONFLICTS) <= seen_ids, set(CONFLICTS) - seen_ids
    assert UNAVAILABLE <= seen_ids
    conflict = schema["paths"]["/api/catalog/products/{id}/stock/"]["post"]["responses"]["409"]
    assert conflict["content"]["application/json"]["schema"]["allOf"][1]["properties"]["code"]["enum"] == [
        "out_of_stock"]
    for name in ("ErrorDetail", "ValidationErrors", "Conflict"):
        assert name in schema["components"]["schemas"]


def test_detail_operations_list_the_filters_they_apply(schema):
    """DRF's get_object() filters the detail queryset: /products/1/?search=zz is a 404, so the schema says so."""
    for method in ("get", "put", "patch", "delete"):
        names = {p["name"] for p in schema["paths"]["/api/catalog/products/{id}/"][method]["parameters"]}
        assert {"category", "search", "min_price", "max_price", "in_stock", "ordering"} <= names, method
        assert "page" not in names
    names = {p["name"] for p in schema["paths"]["/api/catalog/categories/{id}/"]["get"]["parameters"]}
    assert names == {"id"}


# --- the documented shapes are the real ones ----------------------------------------------------------------


def _resolve(schema: dict[str, Any], node: Any) -> Any:
    """The node with every $ref inlined and OpenAPI's ``nullable`` left aside (plain JSON Schema)."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            return _resolve(schema, copy.deepcopy(schema["components"]["schemas"][name]))
        return {k: _resolve(schema, v) for k, v in node.items() if k != "nullable"}
    if isinstance(node, list):
        return [_resolve(schema, v) for v in node]
    return node


def check(schema: dict[str, Any], response, path: str, method: str) -> None:
    """The answer's status is documented for the operation, and its body has the documented shape."""
    operation = schema["paths"][path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path}: {status} is not documented"
    documented = operation["responses"][status].get("content", {}).get("application/json", {}).get("schema")
    if documented:
        jsonschema.validate(json.loads(response.content), _resolve(schema, documented))
        if status == "401":
            assert response.has_header("WWW-Authenticate")
        if status == "405":
            assert response.has_header("Allow")


@pytest.mark.django_db
def test_real_error_answers_match_the_documented_shapes(schema, api, client_for, staff, customer, make_product,
                                                        category):
    product = make_product(stock=1)
    staff_api, customer_api = client_for(staff), client_for(customer)
    products, detail = "/api/catalog/products/", "/api/catalog/products/{id}/"
    stock, cats, cat = "/api/catalog/products/{id}/stock/", "/api/catalog/categories/", "/api/catalog/categories/{id}/"
    one = f"/api/catalog/products/{product.pk}/"
    cases = [
        (api.get(products + "?min_price=abc"), products, "GET"),  # 400 field errors
        (api.get(one + "?min_price=abc"), detail, "GET"),  # 400 field errors on the detail
        (staff_api.post(products, "{", content_type="application/json"), products, "POST"),  # 400 detail
        (staff_api.post(products, {}, format="json"), products, "POST"),  # 400 field errors
        (api.post(products, {}, format="json"), products, "POST"),  # 401
        (api.get(products, HTTP_AUTHORIZATION="Token nope"), products, "GET"),  # 401 anywhere
        (customer_api.post(products, {}, format="json"), products, "POST"),  # 403
        (api.get(one + "?search=zz"), detail, "GET"),  # 404 filtered out
        (api.get(products + "?format=api"), products, "GET"),  # 404 format
        (api.get(products + "?page=99"), products, "GET"),  # 404 page
        (api.get(products, HTTP_ACCEPT="text/html"), products, "GET"),  # 406
        (staff_api.post(stock.format(id=product.pk), {"delta": -5}, format="json"), stock, "POST"),  # 409
        (staff_api.delete(cat.format(id=category.parent_id)), cat, "DELETE"),  # 409 protected
        (staff_api.post(cats, b"x", content_type="text/plain"), cats, "POST"),  # 415
        (staff_api.generic("POST", products, b'{"a": 1}', content_type=""), products, "POST"),  # 415 no type
        (staff_api.generic("PATCH", one, b" " * (11 * 1024 * 1024), content_type="application/json"),
         detail, "PATCH"),  # 413
        (api.get(products, HTTP_HOST="evil.example"), products, "GET"),  # 400 host
    ]
    statuses = set()
    for response, path, method in cases:
        check(schema, response, path, method)
        statuses.add(response.status_code)
    assert statuses == {400, 401, 403, 404, 406, 409, 413, 415}
