"""``strangler inventory`` on the demo shop (in this process: the shop's settings are the test settings): the
coupling the shop really has, the order the design names (catalog, cart, orders, shipping, accounts), the
reports, and bad arguments answered with what is wrong."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from strangler.inventory import Inventory, take
from strangler.inventory.coupling import order, seams


@pytest.fixture(scope="module")
def shop() -> Inventory:
    return take()


def test_the_order_is_least_coupled_first_with_identity_last(shop: Inventory) -> None:
    assert shop.order == ["catalog", "cart", "orders", "shipping", "accounts"]
    # The monolith's outbox app serves no URL: nothing the router could move, so it is not proposed.
    assert "-  events: not proposed, it serves no URL (nothing the router could move); its tables go with the " \
           "apps that use them, or stay" in shop.reasons
    assert shop.identity_app == "accounts"
    assert shop.seams == []
    assert shop.reasons[0].startswith("1. catalog: references no other app's tables")
    assert shop.reasons[-1].startswith("-  legacy_monolith: stays")
    assert shop.seconds < 5


def test_the_coupling_the_shop_really_has_is_named(shop: Inventory) -> None:
    crossing = {(r.app, r.model, r.field, r.to_app, r.to_model, r.on_delete) for r in shop.relations if r.crosses}
    assert ("orders", "OrderLine", "product", "catalog", "Product", "PROTECT") in crossing
    assert ("cart", "CartItem", "product", "catalog", "Product", "CASCADE") in crossing
    assert ("shipping", "Shipment", "order", "orders", "Order", "CASCADE") in crossing
    assert ("orders", "Order", "user", "auth", "User", "PROTECT") in crossing
    signals = {(s.signal, s.sender_app, s.receiver, s.receiver_app) for s in shop.signals if s.crosses}
    assert ("legacy_monolith.shipping.signals.shipment_status_changed", "shipping",
            "legacy_monolith.orders.receivers.follow_shipment", "orders") in signals
    assert ("django.contrib.auth.signals.user_logged_in", "auth",
            "legacy_monolith.cart.receivers.merge_anonymous_cart", "cart") in signals
    imports = {(i.app, i.to_app) for i in shop.imports}
    assert ("orders", "cart") in imports and ("cart", "catalog") in imports
    catalog = next(a for a in shop.apps if a.app == "catalog")
    assert catalog.depended_on_by == ["cart", "orders"]
    assert catalog.tables == ["catalog_category", "catalog_product"]
    assert any(b.startswith("inbound foreign-key orders.OrderLine.product -> catalog.Product (PROTECT)") and
               "a delete must ask orders first" in b for b in catalog.blockers)


def test_every_url_pattern_is_listed_with_its_view_methods_and_app(shop: Inventory) -> None:
    by_route = {e.route: e for e in shop.endpoints}
    detail = by_route["api/catalog/products/(?P<pk>[0-9]{1,18})/"]
    assert detail.app == "catalog"
    assert set(detail.methods) >= {"GET", "PATCH", "DELETE"} and detail.writes
    assert by_route["healthz"].app == "legacy_monolith"
    assert len(shop.endpoints) >= 30


def test_apps_whose_foreign_keys_form_a_circle_are_one_seam_and_move_together() -> None:
    deps = {"a": {"b"}, "b": {"a"}, "c": set(), "d": {"a"}}
    assert seams(deps) == [["a", "b"], ["c"], ["d"]] or sorted(seams(deps)) == [["a", "b"], ["c"], ["d"]]
    weights = {("a", "b"): 3, ("b", "a"): 3, ("d", "a"): 3}
    assert order(deps, weights) == [["c"], ["a", "b"], ["d"]]


def test_the_command_prints_text_json_and_an_html_page(tmp_path: Path) -> None:
    out = StringIO()
    call_command("strangler", "inventory", stdout=out)
    assert "1. catalog: references no other app's tables" in out.getvalue()
    out = StringIO()
    page = tmp_path / "report" / "inventory.html"
    call_command("strangler", "inventory", "--json", "--html", str(page), stdout=out)
    data = json.loads(out.getvalue())
    assert data["order"][0] == "catalog"
    assert any(r["crosses"] and r["to_app"] == "catalog" for r in data["relations"])
    svg = page.read_text().split("<svg", 1)[1].split("</svg>", 1)[0]
    root = ET.fromstring("<svg" + svg + "</svg>")  # noqa: S314 - our own page: the drawing is well-formed XML
    assert len(root.findall("{http://www.w3.org/2000/svg}circle")) == len(data["apps"])


def test_traffic_per_endpoint_from_a_router_log(tmp_path: Path) -> None:
    log = tmp_path / "router.log"
    log.write_text('{"event": "worker_started"}\n'
                   '{"method": "GET", "path": "/api/catalog/products/7/", "status": 200}\n'
                   '{"method": "PATCH", "path": "/api/catalog/products/8/?x=1", "status": 200}\n'
                   '{"method": "GET", "path": "/nowhere/", "status": 404}\n')
    counts = {e.route: e.requests for e in take(traffic=log).endpoints}
    assert counts["api/catalog/products/(?P<pk>[0-9]{1,18})/"] == 2
    assert counts["healthz"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--apps", "catalog,nosuchapp"], "--apps: no installed app labelled 'nosuchapp'"),
    (["--traffic", "{missing}"], "--traffic {missing}: cannot read it"),
    (["--traffic", "{bad}"], "--traffic {bad}:2: not a JSON line"),
    (["--html", "{dir}"], "--html {dir}: cannot write it"),
])
def test_bad_arguments_name_what_is_wrong(tmp_path: Path, args: list[str], message: str) -> None:
    places = {"missing": str(tmp_path / "missing.log"), "bad": str(tmp_path / "bad.log"), "dir": str(tmp_path)}
    (tmp_path / "bad.log").write_text('{"path": "/healthz"}\nnot json\n')
    with pytest.raises(CommandError) as err:
        call_command("strangler", "inventory", *[a.format(**places) for a in args], stdout=StringIO())
    assert err.value.returncode == 2
    assert message.format(**places) in str(err.value)
