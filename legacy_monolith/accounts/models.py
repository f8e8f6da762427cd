from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Address(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="addresses", on_delete=models.CASCADE)
    full_name = models.CharField(max_length=120)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    phone = models.CharField(max_length=30, blank=True, default="")
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.full_name}, {self.city}"


class LoginFailure(models.Model):
    """One failed login: the login throttle (``accounts.throttle``) counts them per account and per client over
    a sliding window. Kept as rows, not in a cache, so that every worker counts the same failures and the counts
    move with the accounts' data (the accounts plan copies this table)."""

    email = models.CharField(max_length=254, db_index=True)   # normalised, whether or not such a user exists
    client = models.CharField(max_length=64, db_index=True)   # the client's address as the throttle saw it
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.email} from {self.client} at {self.at:%Y-%m-%d %H:%M:%S}"
