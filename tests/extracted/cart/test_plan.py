"""The cart's plan (``migration_plans/cart.yaml``, from ``strangler scaffold cart``): valid, and its data steps
(provision, capture, copy, sync, verify) run by the executor leave the service's tables equal to the monolith's,
anonymous and users' carts alike, then keep them equal through writes made in the monolith meanwhile.

The monolith's database and the service's follow the suite's kind (SQLite, or PostgreSQL in its pass).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.servers import ROOT, scratch_database

pytestmark = pytest.mark.slow

PLAN = "migration_plans/cart.yaml"

MAKE_CARTS = """
from django.contrib.auth.models import User
from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.catalog.models import Product
products = list(Product.objects.order_by("id")[:6])
for n, user in enumerate(User.objects.filter(is_staff=False).order_by("id")):
    cart = Cart.objects.create(user=user)
    for product in products[n:n + 3]:
        CartItem.objects.create(cart=cart, product=product, quantity=n + 1)
for n in range(3):
    CartItem.objects.create(cart=Cart.objects.create(), product=products[n], quantity=2 + n)
"""
CHANGE_CARTS = """
from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.cart import services
from legacy_monolith.catalog.models import Product
first = Cart.objects.filter(user__isnull=False).order_by("id").first()
services.cart_add(first, Product.objects.order_by("-id").first(), 1)
item = CartItem.objects.filter(cart=first).order_by("id").first()
services.cart_set_quantity(first, item.pk, 2)
anonymous = list(Cart.objects.filter(user__isnull=True).order_by("id"))
services.cart_merge(anonymous[0], first)
anonymous[1].delete()
CartItem.objects.create(cart=Cart.objects.create(), product=Product.objects.order_by("id").first(), quantity=9)
# A line removed and its product added again: a new line id under the same (cart, product), which the sync must
# not insert before it deleted the old one.
line = CartItem.objects.filter(cart=first).order_by("id").first()  # copied before these changes
services.cart_remove(first, line.pk)
services.cart_add(first, line.product, 3)
"""


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,  # noqa: S603
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_the_plan_is_valid_offline() -> None:
    out = _run({**os.environ}, "strangler", "plan", "check", PLAN, "--offline")
    assert "valid plan 'cart'" in out and "reads 'api-cart-reads', writes 'api-cart-writes'" in out


def test_the_data_steps_leave_both_sides_equal(tmp_path: Path) -> None:
    with scratch_database(tmp_path / "shop") as shop_db, scratch_database(tmp_path / "cart") as cart_db:
        env = {**os.environ, "MONOLITH_DATABASE_URL": shop_db, "CART_DATABASE_URL": cart_db,
               "SHOP_VAR_DIR": str(tmp_path / "var"), "STRANGLER_STATE_DB": str(tmp_path / "state.sqlite3"),
               "DJANGO_SECRET_KEY": "plan-tests-only-" + uuid.uuid4().hex}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        _run(env, "migrate", "-v0")
        _run(env, "seed_shop", "-v0", "--products", "20", "--users", "4", "--orders", "0")
        _run(env, "shell", "-c", MAKE_CARTS)
        out = _run(env, "strangler", "run", PLAN, "--to", "verify", "--yes")
        assert "now at verify" in out
        _run(env, "shell", "-c", CHANGE_CARTS)
        _run(env, "strangler", "split", "sync", PLAN)
        report = _run(env, "strangler", "split", "verify", PLAN)
        assert "cart_cart -> carts: ok" in report and "cart_cartitem -> cart_items: ok" in report
        monolith = _rows(shop_db, "SELECT c.id, c.user_id, i.id, i.product_id, i.quantity FROM cart_cart c "
                                  "LEFT JOIN cart_cartitem i ON i.cart_id = c.id ORDER BY c.id, i.id")
        service = _rows(cart_db, "SELECT c.id, c.user_id, i.id, i.product_id, i.quantity FROM carts c "
                                 "LEFT JOIN cart_items i ON i.cart_id = c.id ORDER BY c.id, i.id")
        assert service == monolith
        assert any(user is None for _c, user, *_ in service) and any(user for _c, user, *_ in service)
