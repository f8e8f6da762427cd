"""Writes made from an instance read earlier (as every API update is: the view reads the row, then the service
writes) do not undo what others committed in between: only the fields the request changes are written.

Deterministic: the "concurrent" write happens between the read and the write. The real-concurrency version
for products is tests/legacy_monolith/catalog/test_edit_races.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.exceptions import NotFound

from legacy_monolith.accounts import services as accounts
from legacy_monolith.accounts.models import Address
from legacy_monolith.catalog import services as catalog
from legacy_monolith.catalog.models import Category, Product

pytestmark = pytest.mark.django_db


def test_product_edit_keeps_a_stock_change_made_after_it_read_the_row(make_product):
    product = make_product(stock=10)
    read_by_the_patch = Product.objects.get(pk=product.pk)
    catalog.stock_adjust(product.pk, -3)  # a sale, committed between the PATCH's read and its write

    answered = catalog.product_update(read_by_the_patch, name="Renamed", price=Decimal("12.50"))

    stored = Product.objects.get(pk=product.pk)
    assert (stored.stock, stored.name, stored.price) == (7, "Renamed", Decimal("12.50"))
    assert answered.stock == 7  # the answer shows the stock as it is, not as it was read
    assert stored.updated_at > product.updated_at


def test_product_edit_of_a_product_deleted_meanwhile_is_404_and_does_not_bring_it_back(make_product):
    product = make_product()
    read_by_the_patch = Product.objects.get(pk=product.pk)
    Product.objects.filter(pk=product.pk).delete()

    with pytest.raises(NotFound):
        catalog.product_update(read_by_the_patch, name="Ghost")
    assert not Product.objects.filter(pk=product.pk).exists()


def test_category_rename_keeps_a_move_made_after_it_read_the_row(category):
    read_by_the_rename = Category.objects.get(pk=category.pk)
    fresh = Category.objects.get(pk=category.pk)
    catalog.category_save(fresh, name=fresh.name, slug=fresh.slug, parent=None)  # moved to the root meanwhile

    # The API passes every field, the unchanged parent as the rename read it.
    catalog.category_save(read_by_the_rename, name="Blades", slug=read_by_the_rename.slug,
                          parent=read_by_the_rename.parent)

    stored = Category.objects.get(pk=category.pk)
    assert (stored.name, stored.parent_id) == ("Blades", None)


def test_category_move_under_its_own_child_is_still_refused(category):
    child = Category.objects.create(name="Paring", slug="paring", parent=category)
    from rest_framework.exceptions import ValidationError

    with pytest.raises(ValidationError):
        catalog.category_save(Category.objects.get(pk=category.pk), name=category.name, slug=category.slug,
                              parent=child)
    assert Category.objects.get(pk=category.pk).parent_id == category.parent_id


def _address(user, **fields) -> Address:
    values = {"full_name": "A", "line1": "1 Street", "city": "Paris", "postal_code": "75001", "country": "FR"}
    return Address.objects.create(user=user, **{**values, **fields})


def test_address_edit_keeps_a_new_default_chosen_after_it_read_the_row(customer):
    home = _address(customer, is_default=True)
    work = _address(customer)
    read_by_the_edit = Address.objects.get(pk=home.pk)  # is_default=True as it was read
    accounts.address_save(Address.objects.get(pk=work.pk), is_default=True)

    accounts.address_save(read_by_the_edit, city="Lyon")

    assert dict(Address.objects.values_list("pk", "is_default")) == {home.pk: False, work.pk: True}
    assert Address.objects.get(pk=home.pk).city == "Lyon"


def test_address_edit_of_an_address_deleted_meanwhile_is_404(customer):
    home = _address(customer, is_default=True)
    read_by_the_edit = Address.objects.get(pk=home.pk)
    Address.objects.filter(pk=home.pk).delete()

    with pytest.raises(NotFound):
        accounts.address_save(read_by_the_edit, city="Lyon")
    assert not Address.objects.filter(pk=home.pk).exists()


def test_the_only_address_stays_the_default(customer):
    only = _address(customer, is_default=True)
    accounts.address_save(Address.objects.get(pk=only.pk), is_default=False)
    assert Address.objects.get(pk=only.pk).is_default is True
    second = accounts.address_save(Address(user=customer), full_name="B", line1="2 Street", city="Nice",
                                   postal_code="06000", country="FR")
    assert second.is_default is False
    assert Address.objects.get(pk=only.pk).is_default is True
