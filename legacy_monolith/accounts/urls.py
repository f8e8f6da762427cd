from django.urls import path
from rest_framework.routers import SimpleRouter

from legacy_monolith.accounts import apis, internal

router = SimpleRouter()
router.register("addresses", apis.AddressViewSet, basename="address")

urlpatterns = [
    path("register/", apis.RegisterApi.as_view(), name="register"),
    path("login/", apis.LoginApi.as_view(), name="login"),
    path("logout/", apis.LogoutApi.as_view(), name="logout"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("password/", apis.PasswordChangeApi.as_view(), name="password-change"),
    # Internal (X-Service-Token = ORDERS_SERVICE_TOKEN): the orders service's checkout reads a saved address.
    path("internal/addresses/", internal.AddressLookupApi.as_view(), name="internal-address-lookup"),
    *router.urls,
]
