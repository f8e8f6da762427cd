from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework import serializers

from legacy_monolith.accounts.models import Address


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "is_staff", "date_joined"]
        read_only_fields = ["id", "email", "is_staff", "date_joined"]


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=150)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class LoginSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordChangeSerializer(serializers.Serializer):
    """The body of a password change. Both as long as a login's password may be (128: a longer new one could never
    be used to log in), spaces kept; whether the old one is right and the new one good enough is for
    ``services.user_password_change`` to say."""

    old_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class ThrottledSerializer(serializers.Serializer):
    """The login throttle's 429 (with ``Retry-After``, the seconds to wait)."""

    detail = serializers.CharField()
    code = serializers.ChoiceField(choices=["throttled"])


class SessionSerializer(serializers.Serializer):
    token = serializers.CharField()
    user = UserSerializer()


class AddressSerializer(serializers.ModelSerializer):
    country = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2,
                                     error_messages={"invalid": "Use a two-letter country code (ISO 3166-1)."})

    class Meta:
        model = Address
        fields = ["id", "full_name", "line1", "line2", "city", "postal_code", "country", "phone", "is_default",
                  "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_country(self, value: str) -> str:
        return value.upper()
