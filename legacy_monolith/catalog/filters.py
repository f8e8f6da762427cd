from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from legacy_monolith.catalog.models import Product
from legacy_monolith.catalog.selectors import category_descendant_ids

MAX_ID = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """A whole, positive, 64-bit id: "1.5", "-3" or 30 digits are a 400, not a database error."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or ``1``/``0``, any case); anything else is a 400 rather than a silently ignored filter."""

    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise DjangoValidationError("Use true or false.", code="invalid") from None


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class ProductFilter(django_filters.FilterSet):
    category = IdFilter(method="filter_category", label="Category id; products of its subcategories are included")
    search = django_filters.CharFilter(method="filter_search", max_length=200, label="Text in sku, name or description")
    min_price = django_filters.NumberFilter(field_name="price", lookup_expr="gte", min_value=0, max_digits=20)
    max_price = django_filters.NumberFilter(field_name="price", lookup_expr="lte", min_value=0, max_digits=20)
    in_stock = StrictBooleanFilter(method="filter_in_stock", label="true: stock above 0; false: none left")

    class Meta:
        model = Product
        fields = ["category", "search", "min_price", "max_price", "in_stock"]

    def filter_category(self, queryset, name, value):
        return queryset.filter(category_id__in=category_descendant_ids(int(value)))

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(sku__icontains=value) | Q(description__icontains=value))

    def filter_in_stock(self, queryset, name, value):
        return queryset.filter(stock__gt=0) if value else queryset.filter(stock=0)


class StableOrderingFilter(OrderingFilter):
    """Adds the primary key as a last sort key, so pages never overlap or skip when prices tie."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            # DRF drops unknown fields silently; a typo would then sort by something else without a word.
            terms = [term.strip() for term in params.split(",") if term.strip()]
            if len(self.remove_invalid_fields(queryset, terms, view, request)) != len(terms):
                allowed = ", ".join(name for name, _ in self.get_valid_fields(queryset, view, {"request": request}))
                raise ValidationError(
                    {self.ordering_param: [f"Unknown ordering field. Use a comma-separated list of: {allowed} "
                                           "(prefix - for descending)."]}
                )
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if not any(field.lstrip("-") == "id" for field in ordering):
            ordering.append("id")
        return ordering
