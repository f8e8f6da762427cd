from django.core.management import call_command


def test_openapi_schema_generates_without_warnings_and_validates(tmp_path):
    # --fail-on-warn: a view whose schema drf-spectacular has to guess at is a contract nobody can rely on.
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(target), "--validate", "--fail-on-warn")
    text = target.read_text()
    for prefix in ("/api/accounts/", "/api/catalog/", "/api/cart/", "/api/orders/", "/api/shipping/"):
        assert prefix in text
    assert "CarrierEnum" in text and "ShipmentStatusEnum" in text and "OrderStatusEnum" in text
