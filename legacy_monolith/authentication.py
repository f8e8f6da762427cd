"""API authentication: DRF's token scheme, with keys that cannot exist refused before the database sees them, and,
once the accounts service owns the tokens, every key asked of the service (its answers kept a few seconds)."""

from __future__ import annotations

from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed

from legacy_monolith.accounts import gateway


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        # Keys are 40 hex characters; a NUL byte would make PostgreSQL fail the lookup (a 500, not a 401).
        if len(key) > 40 or not (key.isascii() and key.isalnum()):
            raise AuthenticationFailed("Invalid token.")
        accounts = gateway.authenticator()
        if isinstance(accounts, gateway.LocalAccounts):
            return super().authenticate_credentials(key)
        # After the accounts cutover the service issues and revokes tokens; this copy of them follows by the reverse
        # sync, behind by its lag (and for good once its follower stops). Asking the owner, each key is taken as it
        # is there: one issued a moment ago at once, one logged out within ACCOUNTS_TOKEN_CACHE_SECONDS. A key it
        # does not know is refused, as is one whose user is not active; a service that does not answer is a 503.
        user = accounts.token_user(key)
        if user is None:
            raise AuthenticationFailed("Invalid token.")
        if not user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return (user, key)
