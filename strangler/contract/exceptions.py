"""The contract check's own error: what stopped it from running (not a difference it found)."""

from __future__ import annotations


class ContractError(Exception):
    """The check could not run; the message names what is missing or refused and, where it can, the fix."""
