"""API authentication: DRF's token scheme, with keys that cannot exist refused before the database sees them."""

from __future__ import annotations

from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        # Keys are 40 hex characters; a NUL byte would make PostgreSQL fail the lookup (a 500, not a 401).
        if len(key) > 40 or not (key.isascii() and key.isalnum()):
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
