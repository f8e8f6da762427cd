"""Django's ``EmailValidator`` (5.2), as DRF's ``EmailField`` runs it on registration: a port, its regular
expressions copied as they are, so that an address one side takes the other takes too (held against Django itself
in the tests).

An address is refused (``Enter a valid email address.``) when it is empty, has no ``@``, or is over 320
characters; when its local part (before the last ``@``) is neither a dot-atom nor a quoted string; or when its
domain is neither ``localhost``, a host name with a top-level domain (Unicode letters allowed: Django's ``ul``), nor
an IPv4 or IPv6 literal in brackets.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

MESSAGE: Final = "Enter a valid email address."
_UL: Final = "\u00a1-\uffff"  # Django's "Unicode letters" range
_HOSTNAME: Final = r"[a-z" + _UL + r"0-9](?:[a-z" + _UL + r"0-9-]{0,61}[a-z" + _UL + r"0-9])?"
_DOMAIN: Final = r"(?:\.(?!-)[a-z" + _UL + r"0-9-]{1,63}(?<!-))*"
_TLD_NO_FQDN: Final = r"\.(?!-)(?:[a-z" + _UL + "-]{2,63}|xn--[a-z0-9]{1,59})(?<!-)"
USER_REGEX: Final = re.compile(
    # dot-atom
    r"(^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*\Z"
    # quoted-string
    r'|^"([\001-\010\013\014\016-\037!#-\[\]-\177]|\\[\001-\011\013\014\016-\177])'
    r'*"\Z)',
    re.IGNORECASE,
)
DOMAIN_REGEX: Final = re.compile(r"^" + _HOSTNAME + _DOMAIN + _TLD_NO_FQDN + r"\Z", re.IGNORECASE)
LITERAL_REGEX: Final = re.compile(r"\[([A-F0-9:.]+)\]\Z", re.IGNORECASE)
DOMAIN_ALLOWLIST: Final = ("localhost",)
MAX_IPV6_ADDRESS_LENGTH: Final = 39  # Django's utils.ipv6


def valid_email(value: str) -> bool:
    """Whether Django's ``validate_email`` takes ``value``."""
    if not value or "@" not in value or len(value) > 320:
        return False
    user_part, domain_part = value.rsplit("@", 1)
    if not USER_REGEX.match(user_part):
        return False
    return domain_part in DOMAIN_ALLOWLIST or _valid_domain_part(domain_part)


def _valid_domain_part(domain_part: str) -> bool:
    if DOMAIN_REGEX.match(domain_part):
        return True
    literal = LITERAL_REGEX.match(domain_part)
    return literal is not None and _valid_ip(literal[1])


def _valid_ip(value: str) -> bool:
    """Django's ``validate_ipv46_address``: IPv4 (``ipaddress``'s rules), else IPv6 (at most 39 characters)."""
    try:
        ipaddress.IPv4Address(value)
        return True
    except ValueError:
        pass
    if len(value) > MAX_IPV6_ADDRESS_LENGTH:
        return False
    try:
        ipaddress.IPv6Address(int(ipaddress.IPv6Address(value)))
    except (TypeError, ValueError):
        return False
    return True
