from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from hypothesis import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from legacy_monolith.catalog.models import Category, Product

PASSWORD = "a-long-enough-password-1"

# No per-example deadline anywhere in the suite: the examples run beside real servers on a shared 2-core
# machine, where a first call that takes 300 ms says nothing about the code (Hypothesis then reports it as
# flaky). Slowness is measured by the benchmarks, not by the property tests.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def _user(email: str, **extra) -> User:
    return User.objects.create_user(username=email, email=email, password=PASSWORD, **extra)


@pytest.fixture
def customer(db) -> User:
    return _user("alice@example.com", first_name="Alice")


@pytest.fixture
def other_customer(db) -> User:
    return _user("bob@example.com", first_name="Bob")


@pytest.fixture
def staff(db) -> User:
    return _user("staff@example.com", is_staff=True)


@pytest.fixture
def client_for():
    """``client_for(user)``: an API client authenticated with the user's token."""

    def make(user: User) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def category(db) -> Category:
    root = Category.objects.create(name="Kitchen", slug="kitchen")
    return Category.objects.create(name="Knives", slug="kitchen-knives", parent=root)


@pytest.fixture
def make_product(db, category):
    counter = iter(range(1, 10**6))

    def make(**fields) -> Product:
        n = next(counter)
        values = {"sku": f"T-{n:05d}", "name": f"Test product {n}", "price": Decimal("10.00"), "stock": 10,
                  "category": category}
        values.update(fields)
        return Product.objects.create(**values)

    return make
