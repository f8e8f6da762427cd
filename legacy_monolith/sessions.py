"""The session engine: Django's database sessions, refusing cookie values that cannot be a session key.

Django makes keys of 32 characters from ``[a-z0-9]`` but looks up any cookie value of 8 characters or more. A
crafted one (``sessionid="abcdefgh\\000"`` unquotes to a NUL byte, which PostgreSQL cannot take) then fails
the query: a 500 on every page and API call. Here such a value simply means no session.
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key):
        return bool(super()._validate_session_key(key)) and len(key) <= 40 and key.isascii() and key.isalnum()
