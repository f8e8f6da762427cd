"""``python manage.py seed_shop``: fill the shop with deterministic demo data, at any size."""

from __future__ import annotations

import os
import time
from itertools import islice

from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.color import no_style
from django.db import connection, transaction
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from legacy_monolith.accounts.models import Address
from legacy_monolith.catalog.models import Category, Product
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.seeding import SHOP_MODELS, STAFF_EMAIL, SeedSize, ShopSeeder, shop_digest
from legacy_monolith.shipping.models import Shipment, ShipmentEvent

PASSWORD_ENV = "SEED_PASSWORD"  # noqa: S105 - the name of the variable, not a password
DEFAULT_PASSWORD = "shop-demo-password"  # noqa: S105 - fake demo accounts only; real shops never seed


def non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Fill the shop with deterministic fake data (same --seed, same rows). "
        "Refuses a non-empty shop unless --reset."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--products", type=non_negative, default=200, help="number of products (default 200)")
        parser.add_argument("--users", type=non_negative, default=20, help="number of customers (default 20)")
        parser.add_argument("--orders", type=non_negative, default=30, help="number of past orders (default 30)")
        parser.add_argument("--seed", type=int, default=42, help="RNG seed (default 42)")
        parser.add_argument("--batch-size", type=int, default=5000, help="rows per INSERT batch (default 5000)")
        parser.add_argument("--reset", action="store_true", help="delete all shop data first")
        parser.add_argument("--if-empty", action="store_true", help="do nothing (and succeed) if the shop has data")
        parser.add_argument("--digest", action="store_true", help="print a SHA-256 of the seeded data at the end")

    def handle(self, *args, products, users, orders, seed, batch_size, reset, if_empty, digest, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if orders and (not users or not products):
            raise CommandError("--orders needs at least one user and one product")
        existing = Product.objects.count() + User.objects.count()
        if existing and if_empty and not reset:
            if options["verbosity"]:
                self.stdout.write("The shop already has data; leaving it as it is (--if-empty).")
            return
        if existing and not reset:
            raise CommandError(
                f"The shop already has data ({Product.objects.count()} products, {User.objects.count()} users); "
                "pass --reset to replace it"
            )
        if reset:
            call_command("flush", interactive=False, verbosity=0)

        password = os.environ.get(PASSWORD_ENV, DEFAULT_PASSWORD)
        seeder = ShopSeeder(SeedSize(products=products, users=users, orders=orders, seed=seed), password)
        quiet = options["verbosity"] == 0
        started = time.perf_counter()
        console = Console(stderr=True)
        with Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]:>12}"), TimeRemainingColumn(), console=console,
                      disable=quiet) as progress:
            self._write(progress, "categories", seeder.categories(), Category, batch_size)
            self._write(progress, "users", seeder.users(), User, batch_size, total=users + 1)
            self._write(progress, "addresses", seeder.addresses(), Address, batch_size, total=users)
            self._write(progress, "products", seeder.products(), Product, batch_size, total=products)
            self._write_orders(progress, seeder, batch_size, orders)
        self._reset_sequences()
        elapsed = time.perf_counter() - started
        if not quiet:
            self.stdout.write(self.style.SUCCESS(
                f"Seeded {products} products, {users} customers (+ staff {STAFF_EMAIL}), {orders} orders "
                f"with seed {seed} in {elapsed:.1f}s. Demo password: ${PASSWORD_ENV} or the documented default."
            ))
        if digest:
            self.stdout.write(f"digest: {shop_digest()}")

    def _write(self, progress, label, rows, model, batch_size, total=None):
        rows = iter(rows)
        if total is None:
            rows = list(rows)
            total = len(rows)
            rows = iter(rows)
        task = progress.add_task(label, total=total, rate="")
        started, done = time.perf_counter(), 0
        while batch := list(islice(rows, batch_size)):
            with transaction.atomic():
                model.objects.bulk_create(batch, batch_size=batch_size)
            done += len(batch)
            rate = done / max(time.perf_counter() - started, 1e-9)
            progress.update(task, advance=len(batch), rate=f"{rate:,.0f} rows/s")

    def _write_orders(self, progress, seeder, batch_size, total):
        task = progress.add_task("orders", total=total, rate="")
        source = seeder.orders()
        started, done = time.perf_counter(), 0
        while chunk := list(islice(source, max(1, batch_size // 4))):
            with transaction.atomic():
                Order.objects.bulk_create([c[0] for c in chunk])
                OrderLine.objects.bulk_create([line for c in chunk for line in c[1]])
                Shipment.objects.bulk_create([c[2] for c in chunk])
                ShipmentEvent.objects.bulk_create([event for c in chunk for event in c[3]])
            done += len(chunk)
            progress.update(task, advance=len(chunk),
                            rate=f"{done / max(time.perf_counter() - started, 1e-9):,.0f} rows/s")

    def _reset_sequences(self):
        # Rows were written with explicit ids; the next id the database hands out must come after them.
        statements = connection.ops.sequence_reset_sql(no_style(), SHOP_MODELS)
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
