from django.urls import path
from rest_framework.routers import SimpleRouter

from legacy_monolith.accounts import apis

router = SimpleRouter()
router.register("addresses", apis.AddressViewSet, basename="address")

urlpatterns = [
    path("register/", apis.RegisterApi.as_view(), name="register"),
    path("login/", apis.LoginApi.as_view(), name="login"),
    path("logout/", apis.LogoutApi.as_view(), name="logout"),
    path("me/", apis.MeApi.as_view(), name="me"),
    *router.urls,
]
