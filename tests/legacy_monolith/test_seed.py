"""``manage.py seed_shop``: deterministic, refuses to clobber data, leaves sequences usable, seeds awkward data."""

from __future__ import annotations

import io
import os
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db.models import Count, Max

from legacy_monolith.accounts.models import Address
from legacy_monolith.catalog.models import Category, Product
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.seeding import SHOP_MODELS, shop_digest
from legacy_monolith.shipping.models import Shipment, ShipmentEvent

SMALL = ("--products", "300", "--users", "12", "--orders", "25")

# The command commits batch by batch and --reset flushes: real transactions, not one test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_shop", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in SHOP_MODELS}


def test_the_same_seed_gives_the_same_shop():
    seed(*SMALL, "--seed", "7")
    first = shop_digest()
    seed(*SMALL, "--seed", "7", "--reset")
    assert shop_digest() == first
    seed(*SMALL, "--seed", "8", "--reset")
    assert shop_digest() != first
    seed(*SMALL, "--seed", "7", "--reset", "--batch-size", "13")  # batching never changes the rows
    assert shop_digest() == first


def test_digest_option_prints_the_digest_and_a_summary():
    out = seed(*SMALL, "--digest")
    assert f"digest: {shop_digest()}" in out
    assert "Seeded 300 products, 12 customers (+ staff staff@example.com), 25 orders with seed 42" in out


def test_seeds_the_requested_sizes_consistently():
    seed(*SMALL)
    assert counts() == {"Category": 48, "Product": 300, "User": 13, "Address": 12, "Order": 25,
                        "OrderLine": OrderLine.objects.count(), "Shipment": 25,
                        "ShipmentEvent": ShipmentEvent.objects.count()}
    assert 25 <= OrderLine.objects.count() <= 100
    staff = User.objects.get(email="staff@example.com")
    assert staff.is_staff and not staff.is_superuser
    assert staff.check_password(os.environ.get("SEED_PASSWORD", "shop-demo-password"))
    assert User.objects.filter(is_staff=True).count() == 1
    # Orders are consistent: totals add up, each has one shipment whose last event is its status.
    for order in Order.objects.annotate(n=Count("lines")).prefetch_related("lines"):
        assert order.n >= 1
        assert order.total == sum((line.unit_price * line.quantity for line in order.lines.all()), Decimal("0"))
        shipment = Shipment.objects.get(order=order)
        assert shipment.events.order_by("id").last().status == shipment.status
    assert not Order.objects.filter(user__is_staff=True).exists()
    # Every product sits in a leaf category.
    assert not Product.objects.filter(category__parent__isnull=True).exists()


def test_a_non_empty_shop_is_refused_without_reset():
    seed(*SMALL)
    before = shop_digest()
    with pytest.raises(CommandError) as raised:
        seed(*SMALL, "--seed", "9")
    assert str(raised.value) == (
        "The shop already has data (300 products, 13 users); pass --reset to replace it"
    )
    assert shop_digest() == before


def test_any_user_alone_makes_the_shop_non_empty():
    User.objects.create_user(username="someone@example.com", email="someone@example.com", password="x")
    with pytest.raises(CommandError, match=r"already has data \(0 products, 1 users\)"):
        seed(*SMALL)
    assert Product.objects.count() == 0


def test_if_empty_seeds_an_empty_shop_and_leaves_a_full_one_alone():
    out = seed(*SMALL, "--if-empty")
    assert "Seeded 300 products" in out
    before = shop_digest()
    out = seed("--products", "5", "--users", "1", "--orders", "0", "--seed", "3", "--if-empty")
    assert out == "The shop already has data; leaving it as it is (--if-empty).\n"
    assert shop_digest() == before
    assert seed(*SMALL, "--if-empty", "-v0") == ""


def test_reset_replaces_the_shop_whatever_was_in_it():
    seed(*SMALL)
    extra = Product.objects.create(sku="HAND-1", name="Hand-made", price=Decimal("1.00"),
                                   category=Category.objects.last())
    seed("--products", "10", "--users", "2", "--orders", "3", "--reset")
    assert counts()["Product"] == 10
    assert counts()["User"] == 3
    assert counts()["Order"] == 3
    assert not Product.objects.filter(pk=extra.pk, sku="HAND-1").exists()
    # --reset together with --if-empty: the reset wins.
    seed("--products", "4", "--users", "1", "--orders", "0", "--reset", "--if-empty")
    assert (counts()["Product"], counts()["User"], counts()["Order"]) == (4, 2, 0)


def test_an_empty_seed_still_has_the_staff_user_and_the_categories():
    seed("--products", "0", "--users", "0", "--orders", "0")
    assert counts() == {"Category": 48, "Product": 0, "User": 1, "Address": 0, "Order": 0, "OrderLine": 0,
                        "Shipment": 0, "ShipmentEvent": 0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--products", "-1"), "argument --products: invalid non_negative value: '-1'"),
        (("--users", "-5"), "argument --users: invalid non_negative value: '-5'"),
        (("--orders", "many"), "argument --orders: invalid non_negative value: 'many'"),
        (("--batch-size", "0"), "--batch-size must be at least 1"),
        (("--batch-size", "-3"), "--batch-size must be at least 1"),
        (("--orders", "5", "--users", "0"), "--orders needs at least one user and one product"),
        (("--orders", "5", "--products", "0"), "--orders needs at least one user and one product"),
    ],
)
def test_argument_errors(args, message):
    with pytest.raises(CommandError) as raised:
        seed(*args)
    assert message in str(raised.value)
    assert counts()["Product"] == counts()["User"] == 0  # refused before writing anything


def test_argument_errors_are_checked_before_the_shop_is_touched():
    seed(*SMALL)
    before = shop_digest()
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        seed(*SMALL, "--reset", "--batch-size", "0")
    assert shop_digest() == before


def test_new_rows_get_ids_after_the_seeded_ones():
    seed(*SMALL)
    maxima = {model: model.objects.aggregate(m=Max("pk"))["m"] for model in SHOP_MODELS}
    assert maxima[Product] == 300
    category = Category.objects.create(name="New", slug="new-category")
    product = Product.objects.create(sku="NEW-1", name="New", price=Decimal("2.50"), category=category)
    user = User.objects.create_user(username="new@example.com", email="new@example.com", password="x")
    address = Address.objects.create(user=user, full_name="N", line1="L", city="C", postal_code="1", country="SE")
    order = Order.objects.create(user=user, total=Decimal("2.50"), ship_full_name="N", ship_line1="L",
                                 ship_city="C", ship_postal_code="1", ship_country="SE")
    line = OrderLine.objects.create(order=order, product=product, sku="NEW-1", name="New", unit_price=Decimal("2.50"),
                                    quantity=1)
    shipment = Shipment.objects.create(order=order)
    event = ShipmentEvent.objects.create(shipment=shipment, status="pending")
    created = {Category: category, Product: product, User: user, Address: address, Order: order, OrderLine: line,
               Shipment: shipment, ShipmentEvent: event}
    for model, row in created.items():
        assert row.pk > maxima[model], model.__name__


def test_ids_continue_after_a_reset_to_a_smaller_shop():
    seed(*SMALL)
    seed("--products", "20", "--users", "2", "--orders", "2", "--reset")
    product = Product.objects.create(sku="NEW-2", name="New", price=Decimal("1"), category=Category.objects.last())
    assert product.pk > 20
    assert Product.objects.count() == 21


def test_the_seeded_data_is_awkward_on_purpose():
    seed(*SMALL)
    products = Product.objects.all()
    assert products.filter(description="").exists()
    assert products.exclude(description="").exists()
    assert products.filter(is_active=False).exists()
    assert products.filter(stock=0).exists()
    assert products.filter(stock=0, is_active=True).exists()  # sold out but still on sale
    non_ascii = re.compile(r"[^\x00-\x7f]")
    assert any(non_ascii.search(name) for name in products.values_list("name", flat=True))
    descriptions = "".join(products.values_list("description", flat=True))
    assert "人気商品です。" in descriptions  # CJK
    assert "🎁" in descriptions or "✨" in descriptions  # outside the BMP / emoji
    assert any(non_ascii.search(u.first_name + u.last_name) for u in User.objects.all())
    assert any(non_ascii.search(a.city) for a in Address.objects.all())
    # Non-ASCII text survives the database round trip: an exact match on it finds rows.
    assert Address.objects.filter(city__in=["Göteborg", "Malmö", "København", "Zürich"]).exists()
    assert Product.objects.filter(description__contains="Café favourite.").exists()
