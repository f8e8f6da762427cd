"""What the parity commands read from the environment (here, not in ``replay``: naming it must not import
mitmproxy, which only the ``parity`` extra brings)."""

from __future__ import annotations

AUTH_TOKEN_ENV = "STRANGLER_REPLAY_AUTH_TOKEN"  # noqa: S105 - the variable's name, not a secret
