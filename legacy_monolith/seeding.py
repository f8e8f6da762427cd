"""Deterministic fake data for the shop: the same seed gives the same rows, ids and timestamps.

Rows are produced lazily batch by batch, so a million products cost the memory of one batch. Text is
deliberately not all ASCII (accents, CJK, emoji, empty descriptions): data that breaks naive copiers
should be in the shop from the start, not discovered during an extraction.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User

from legacy_monolith.accounts.models import Address
from legacy_monolith.catalog.models import Category, Product
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.shipping.models import Shipment, ShipmentEvent

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

DEPARTMENTS = {
    "Kitchen": ["Cookware", "Knives", "Coffee & Tea", "Storage", "Tableware"],
    "Garden": ["Tools", "Planters", "Seeds", "Furniture", "Lighting"],
    "Outdoor": ["Tents", "Backpacks", "Sleeping", "Climbing", "Navigation"],
    "Home Office": ["Desks", "Chairs", "Lamps", "Organisers", "Stationery"],
    "Audio": ["Headphones", "Speakers", "Turntables", "Cables", "Microphones"],
    "Bicycles": ["City", "Mountain", "Parts", "Helmets", "Clothing"],
    "Toys": ["Wooden", "Puzzles", "Board Games", "Outdoor Play", "Baby"],
    "Bath": ["Towels", "Soap", "Mirrors", "Storage Baskets", "Textiles"],
}
ADJECTIVES = ["Classic", "Compact", "Deluxe", "Eco", "Handmade", "Light", "Nordic", "Pro", "Rustic", "Smart",
              "Sturdy", "Travel", "Urban", "Vintage", "Wide", "Crème", "Señor", "Über", "Naïve", "Zen"]
MATERIALS = ["Oak", "Steel", "Linen", "Bamboo", "Copper", "Wool", "Ceramic", "Walnut", "Cork", "Glass",
             "Leather", "Granite", "Hemp", "Birch", "Titanium"]
NOUNS = ["Kettle", "Lamp", "Chair", "Bottle", "Basket", "Knife", "Backpack", "Planter", "Speaker", "Helmet",
         "Mug", "Tray", "Stool", "Blanket", "Lantern", "Grinder", "Shelf", "Bowl", "Clock", "Puzzle"]
PHRASES = ["Made to last.", "Ships in recycled packaging.", "Designed in Göteborg.", "Dishwasher safe.",
           "Hand-finished — every piece differs slightly.", "Café favourite.", "人気商品です。",
           "Perfect gift 🎁.", "Water resistant up to 2 m.", "Includes a 5-year warranty.",
           "Fits most standard sizes.", "Limited edition ✨."]
FIRST_NAMES = ["Anna", "Björn", "Chloé", "Dmitri", "Eva", "Farid", "Greta", "Hiroshi", "Ingrid", "José",
               "Karin", "Lars", "Maja", "Nils", "Olga", "Pål", "Quentin", "Rosa", "Sven", "Zoë"]
LAST_NAMES = ["Andersson", "Berg", "Çelik", "Dubois", "Eriksson", "Fischer", "García", "Holm", "Ivanova",
              "Jönsson", "Kowalski", "Lindqvist", "Müller", "Nakamura", "O'Brien", "Persson"]
CITIES = [("Stockholm", "SE", "114 35"), ("Göteborg", "SE", "411 04"), ("Malmö", "SE", "211 19"),
          ("Oslo", "NO", "0150"), ("København", "DK", "1050"), ("Helsinki", "FI", "00100"),
          ("Berlin", "DE", "10115"), ("Zürich", "CH", "8001")]
STREETS = ["Storgatan", "Kungsgatan", "Drottninggatan", "Sveavägen", "Hamngatan", "Östra Långgatan"]

STAFF_EMAIL = "staff@example.com"


@dataclass(frozen=True)
class SeedSize:
    products: int = 200
    users: int = 20
    orders: int = 30
    seed: int = 42


class ShopSeeder:
    """Yields model instances in batches; the command decides how to write them and shows progress."""

    def __init__(self, size: SeedSize, password: str) -> None:
        self.size = size
        self.password_hash = make_password(password, salt=f"seed{size.seed}")
        self.leaf_categories: list[int] = []

    def _rng(self, stream: str) -> random.Random:
        # One RNG per kind of row: changing the number of users never changes the products.
        return random.Random(f"{self.size.seed}:{stream}")

    def categories(self) -> list[Category]:
        rows, pk = [], 0
        for department, subs in DEPARTMENTS.items():
            pk += 1
            parent_pk = pk
            rows.append(Category(pk=pk, name=department, slug=_slug(department), parent_id=None))
            for sub in subs:
                pk += 1
                rows.append(Category(pk=pk, name=sub, slug=f"{_slug(department)}-{_slug(sub)}", parent_id=parent_pk))
                self.leaf_categories.append(pk)
        return rows

    def users(self) -> Iterator[User]:
        rng = self._rng("users")
        yield User(pk=1, username=STAFF_EMAIL, email=STAFF_EMAIL, first_name="Sam", last_name="Staff",
                   is_staff=True, password=self.password_hash, date_joined=EPOCH)
        for n in range(1, self.size.users + 1):
            email = f"customer{n}@example.com"
            yield User(pk=n + 1, username=email, email=email, first_name=rng.choice(FIRST_NAMES),
                       last_name=rng.choice(LAST_NAMES), password=self.password_hash,
                       date_joined=EPOCH + timedelta(minutes=rng.randrange(0, 500_000)))

    def addresses(self) -> Iterator[Address]:
        rng = self._rng("addresses")
        for n in range(1, self.size.users + 1):
            city, country, postal = rng.choice(CITIES)
            yield Address(pk=n, user_id=n + 1, full_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                          line1=f"{rng.choice(STREETS)} {rng.randint(1, 120)}", city=city, postal_code=postal,
                          country=country, is_default=True, created_at=EPOCH + timedelta(days=n % 365))

    def products(self) -> Iterator[Product]:
        rng = self._rng("products")
        for n in range(1, self.size.products + 1):
            created = EPOCH + timedelta(seconds=rng.randrange(0, 60 * 86_400))
            phrases = rng.sample(PHRASES, rng.randint(0, 3))
            yield Product(
                pk=n,
                sku=f"SKU-{n:07d}",
                name=f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {rng.choice(NOUNS)}",
                description=" ".join(phrases),
                price=Decimal(rng.randint(99, 250_000)) / 100,
                stock=0 if rng.random() < 0.05 else rng.randint(1, 250),
                is_active=rng.random() >= 0.03,
                category_id=rng.choice(self.leaf_categories),
                created_at=created,
                updated_at=created + timedelta(hours=rng.randrange(0, 2000)),
            )

    def orders(self) -> Iterator[tuple[Order, list[OrderLine], Shipment, list[ShipmentEvent]]]:
        """Past orders with their lines and shipments. History: seeding them takes no stock."""
        if not self.size.users or not self.size.products:
            return
        rng = self._rng("orders")
        product_rng = self._rng("order-products")
        lifecycle = ["pending", "packed", "shipped", "in_transit", "delivered"]
        order_status = {"pending": "placed", "packed": "processing", "shipped": "shipped",
                        "in_transit": "shipped", "delivered": "delivered", "cancelled": "cancelled"}
        line_pk = event_pk = 0
        for n in range(1, self.size.orders + 1):
            user_pk = rng.randint(2, self.size.users + 1)
            city, country, postal = rng.choice(CITIES)
            placed = EPOCH + timedelta(days=60, minutes=rng.randrange(0, 400_000))
            status = "cancelled" if rng.random() < 0.08 else rng.choice(lifecycle)
            lines = []
            for product_pk in sorted(product_rng.sample(range(1, self.size.products + 1),
                                                        min(rng.randint(1, 4), self.size.products))):
                line_pk += 1
                price = Decimal(product_rng.randint(99, 250_000)) / 100
                lines.append(OrderLine(pk=line_pk, order_id=n, product_id=product_pk, sku=f"SKU-{product_pk:07d}",
                                       name=f"Product {product_pk}", unit_price=price,
                                       quantity=rng.randint(1, 3)))
            order = Order(pk=n, user_id=user_pk, status=order_status[status],
                          total=sum((line.unit_price * line.quantity for line in lines), Decimal("0.00")),
                          ship_full_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                          ship_line1=f"{rng.choice(STREETS)} {rng.randint(1, 120)}", ship_city=city,
                          ship_postal_code=postal, ship_country=country, created_at=placed, updated_at=placed)
            steps = ["pending", "cancelled"] if status == "cancelled" else lifecycle[: lifecycle.index(status) + 1]
            tracking = f"TRK{rng.randrange(10**9, 10**10)}" if "shipped" in steps else ""
            shipment = Shipment(pk=n, order_id=n, user_id=user_pk, carrier=rng.choice(Shipment.Carrier.values),
                                tracking_number=tracking, status=status, created_at=placed, updated_at=placed)
            events = []
            for i, step in enumerate(steps):
                event_pk += 1
                events.append(ShipmentEvent(pk=event_pk, shipment_id=n, status=step, note="",
                                            created_at=placed + timedelta(hours=12 * i)))
            order.updated_at = shipment.updated_at = events[-1].created_at
            yield order, lines, shipment, events


def _slug(text: str) -> str:
    return text.lower().replace(" & ", "-").replace(" ", "-")


SHOP_MODELS = [Category, Product, User, Address, Order, OrderLine, Shipment, ShipmentEvent]


def shop_digest() -> str:
    """SHA-256 over every seeded row in key order: equal digests mean equal data."""
    digest = hashlib.sha256()
    for model in SHOP_MODELS:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in ("last_login",)]
        digest.update(model._meta.db_table.encode())
        for row in model.objects.order_by("pk").values_list(*fields).iterator(chunk_size=5000):
            digest.update(repr(row).encode())
    return digest.hexdigest()
