from django.urls import path

from legacy_monolith.cart import apis

urlpatterns = [
    path("", apis.CartApi.as_view(), name="cart"),
    path("items/", apis.CartItemsApi.as_view(), name="cart-items"),
    path("items/<id:item_id>/", apis.CartItemApi.as_view(), name="cart-item"),
]
