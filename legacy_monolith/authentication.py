"""API authentication: DRF's token scheme, with keys that cannot exist refused before the database sees them, and,
once the accounts service owns the tokens, a key this monolith's copy does not hold yet asked of the service."""

from __future__ import annotations

from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed

from legacy_monolith.accounts import gateway


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        # Keys are 40 hex characters; a NUL byte would make PostgreSQL fail the lookup (a 500, not a 401).
        if len(key) > 40 or not (key.isascii() and key.isalnum()):
            raise AuthenticationFailed("Invalid token.")
        try:
            return super().authenticate_credentials(key)
        except AuthenticationFailed:
            # After the accounts cutover the service issues tokens, and this copy of them follows by the reverse
            # sync (about half a second behind): a client who was just given a token and uses it here at once
            # (the API routes still on the monolith) must not be refused. A key the service does not know either
            # stays refused, as does one whose user is not active; a service that does not answer is a 503.
            user = gateway.authenticator().token_user(key)
            if user is None:
                raise
            if not user.is_active:
                raise AuthenticationFailed("User inactive or deleted.") from None
            return (user, key)
