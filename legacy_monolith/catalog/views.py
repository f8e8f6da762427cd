"""Server-rendered catalog pages: the shop's home page (product list) and a product's page."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from legacy_monolith.catalog import selectors
from legacy_monolith.catalog.filters import ProductFilter


@require_safe
def home(request):
    products = ProductFilter(request.GET, queryset=selectors.product_list().order_by("id")).qs
    page = Paginator(products, 24).get_page(request.GET.get("page"))
    return render(
        request,
        "catalog/home.html",
        {"page": page, "search": request.GET.get("search", ""), "categories": selectors.category_list()},
    )


@require_safe
def product_detail(request, product_id: int):
    product = get_object_or_404(selectors.product_list(), pk=product_id)
    return render(request, "catalog/product_detail.html", {"product": product})
