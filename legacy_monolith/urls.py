from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView

from legacy_monolith import errors, health
from legacy_monolith.accounts import internal as account_internal
from legacy_monolith.accounts import views as account_pages
from legacy_monolith.cart import apis as cart_apis
from legacy_monolith.cart import views as cart_pages
from legacy_monolith.catalog import views as catalog_pages
from legacy_monolith.converters import IdConverter
from legacy_monolith.orders import views as order_pages

register_converter(IdConverter, "id")

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error

api = [
    path("accounts/", include("legacy_monolith.accounts.urls")),
    path("catalog/", include("legacy_monolith.catalog.urls")),
    path("cart/", include("legacy_monolith.cart.urls")),
    path("orders/", include("legacy_monolith.orders.urls")),
    path("shipping/", include("legacy_monolith.shipping.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Internal (X-Service-Token = CART_SERVICE_TOKEN): the cart service reads and sets the anonymous cart's id
    # in the caller's session, which stays the monolith's until the accounts move. No router route names it,
    # so the router sends it here like everything unrouted: the token is what protects it.
    path("internal/session/cart/", cart_apis.SessionCartApi.as_view(), name="internal-session-cart"),
    # Internal (X-Service-Token = ACCOUNTS_SERVICE_TOKEN): the accounts service asks whose session the caller's
    # cookie names, and logs it in and out; sessions stay the monolith's after the accounts move.
    path("internal/session/user/", account_internal.SessionUserApi.as_view(), name="internal-session-user"),
]

pages = [
    path("", catalog_pages.home, name="home"),
    path("products/<id:product_id>/", catalog_pages.product_detail, name="product-detail"),
    path("cart/", cart_pages.cart_page, name="cart-page"),
    path("cart/add/", cart_pages.cart_add, name="cart-add"),
    path("cart/items/<id:item_id>/", cart_pages.cart_update, name="cart-update"),
    path("checkout/", order_pages.checkout_page, name="checkout"),
    path("orders/", order_pages.order_list_page, name="order-list"),
    path("orders/<id:order_id>/", order_pages.order_detail_page, name="order-detail"),
    path("accounts/login/", account_pages.LoginPage.as_view(), name="login-page"),
    path("accounts/logout/", account_pages.LogoutPage.as_view(), name="logout-page"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("api/", include(api)),
    *pages,
]
