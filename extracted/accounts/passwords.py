"""Password hashes as the monolith's Django stores them, checked and made without Django.

The accounts service takes over ``auth_user`` with its ``password`` column as it is, so every user's existing
password must keep working: this module verifies each format Django 5.2's default ``PASSWORD_HASHERS`` write
(the monolith's settings list exactly those), makes new hashes with the preferred one, and tells when a stored
hash is due for a re-hash on login, as ``django.contrib.auth.hashers`` does. The algorithms are ported from
Django's ``django/contrib/auth/hashers.py`` (5.2) and proven against Django itself by
``tests/extracted/accounts/test_passwords.py``.

Formats (``algorithm$...``), each what Django's hasher of that name writes:

- ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>``: the preferred one, what :func:`hash_password` makes;
- ``pbkdf2_sha1$<iterations>$<salt>$<base64 hash>``;
- ``argon2$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>`` (and the argon2i/argon2d varieties, with or without
  the version, that older Djangos wrote: argon2-cffi reads the variety and version from the hash);
- ``bcrypt_sha256$$2b$<rounds>$<salt and hash>`` (bcrypt of the hex SHA-256 of the password);
- ``scrypt$<n>$<salt>$<r>$<p>$<base64 hash>``.

Anything else (an unusable password, ``!`` and random characters, as ``set_unusable_password()`` stores; the
unsalted MD5/SHA1 and the other hashers Django ships but the monolith's settings do not list; a malformed
value) never verifies: the answer is False, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import secrets
from collections.abc import Callable

import argon2
import bcrypt

# Django 5.2's PBKDF2PasswordHasher.iterations. Django raises it in most feature releases; it must equal the
# monolith's, or logins here and there would disagree on which stored hashes are due for an upgrade (and each
# side would re-hash what the other just wrote).
PBKDF2_ITERATIONS = 1_000_000

PREFERRED_ALGORITHM = "pbkdf2_sha256"

# What django.contrib.auth.hashers.make_password(None) stores: "!" and 40 random characters.
UNUSABLE_PASSWORD_PREFIX = "!"  # noqa: S105 (a marker, not a password)
_UNUSABLE_PASSWORD_SUFFIX_LENGTH = 40

# django.utils.crypto.RANDOM_STRING_CHARS: the alphabet of Django's salts.
_SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# BasePasswordHasher.salt_entropy: a salt with less entropy than this (22 characters of _SALT_CHARS) is re-hashed.
_SALT_ENTROPY = 128

# Scrypt's and bcrypt's fixed parts as Django's ScryptPasswordHasher and BCryptSHA256PasswordHasher have them.
_SCRYPT_WORK_FACTOR = 2**14
_SCRYPT_BLOCK_SIZE = 8
_SCRYPT_PARALLELISM = 5
_SCRYPT_MAXMEM = 0  # OpenSSL's own limit (32 MiB), as Django leaves it
_SCRYPT_DKLEN = 64

# What a malformed encoding or an unencodable password raises on the way through the algorithms (an int that is
# not one, a bad base64 or bcrypt salt, a lone surrogate, an iteration count hashlib refuses, argon2's own
# errors). Django lets them out of check_password(); this module's contract is False instead.
_MALFORMED = (ValueError, TypeError, OverflowError, argon2.exceptions.Argon2Error)


def hash_password(password: str, *, salt: str | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """The encoding to store for ``password``: Django's ``make_password(password, salt)`` with the preferred
    hasher, PBKDF2-HMAC-SHA256 at Django 5.2's iteration count, a 22-character random salt unless one is given.

    ``iterations`` is there for tests that compare with a Django hasher configured with the same count; the
    service keeps the default. A salt containing ``$`` is refused with ValueError, as Django refuses it.
    """
    if iterations < 1:
        raise ValueError("iterations must be at least 1.")
    return _PBKDF2(PREFERRED_ALGORITHM, "sha256", iterations).encode(password, salt or _random_salt())


def verify(password: str, encoded: str, *, iterations: int = PBKDF2_ITERATIONS) -> bool:
    """Whether ``password`` is the one ``encoded`` was made from: Django's ``check_password(password, encoded)``.

    Like Django, it spends about as long on an unusable or unknown encoding as on a real one (it hashes a random
    password with the preferred hasher), and on a wrong password for an older PBKDF2 hash it makes up the
    iterations the hash lacks, so the time taken does not tell which users exist or how old their hashes are.
    ``iterations`` is the preferred hasher's count, for tests only.
    """
    is_correct, _ = _verify_password(password, encoded, iterations)
    return is_correct


def verify_and_upgrade(password: str, encoded: str, *, iterations: int = PBKDF2_ITERATIONS) -> tuple[bool, str | None]:
    """``(ok, new_encoding)``: Django's ``check_password(password, encoded, setter)`` on login. ``new_encoding``
    is the password re-hashed with the preferred hasher, to store in place of ``encoded``, exactly when Django
    would call the setter (the password is right and :func:`needs_upgrade` says so); otherwise None.
    """
    is_correct, must_update = _verify_password(password, encoded, iterations)
    if is_correct and must_update:
        return True, hash_password(password, iterations=iterations)
    return is_correct, None


def needs_upgrade(encoded: str, *, iterations: int = PBKDF2_ITERATIONS) -> bool:
    """Whether Django would re-hash ``encoded`` on a successful login (the second answer of its
    ``verify_password``): when its algorithm is not the preferred one, whatever its parameters (Django asks only
    the preferred hasher's ``must_update``), or when it is PBKDF2-SHA256 with another iteration count than the
    preferred one (fewer or more) or a salt of less than 128 bits. False for what never verifies: an unusable
    password, an unknown or malformed encoding.
    """
    if encoded.startswith(UNUSABLE_PASSWORD_PREFIX):
        return False
    algorithm = _algorithm(encoded)
    if algorithm != PREFERRED_ALGORITHM:
        return algorithm in _OTHER_VERIFIERS
    try:
        return _PBKDF2(PREFERRED_ALGORITHM, "sha256", iterations).must_update(encoded)
    except _MALFORMED:
        return False


def _verify_password(password: str, encoded: str, iterations: int) -> tuple[bool, bool]:
    """Django's ``verify_password``: (is the password right, must it be re-hashed), with its timing padding."""
    preferred = _PBKDF2(PREFERRED_ALGORITHM, "sha256", iterations)
    algorithm = _algorithm(encoded)
    hasher_changed = algorithm != preferred.algorithm
    # The preferred algorithm's hashes go through the preferred hasher itself, as in Django's registry of one
    # hasher per algorithm (its iteration count stands in for an encoded count of 0).
    verifier = _OTHER_VERIFIERS.get(algorithm) if hasher_changed else preferred.verify
    if encoded.startswith(UNUSABLE_PASSWORD_PREFIX) or verifier is None:
        # As Django: run the preferred hasher once, so that an unusable password or an unknown hasher takes
        # about as long as a wrong password (the timing would tell whether a user exists, Django's #20760).
        preferred.encode(_random_string(_UNUSABLE_PASSWORD_SUFFIX_LENGTH), _random_salt())
        return False, False
    try:
        must_update = hasher_changed or preferred.must_update(encoded)
        is_correct = verifier(password, encoded)
        if not is_correct and not hasher_changed and must_update:
            # Close the timing gap between the hash's work factor and the preferred one (Django's
            # harden_runtime; Argon2's and scrypt's are no-ops, bcrypt's runs only when bcrypt is preferred).
            preferred.harden_runtime(password, encoded)
    except _MALFORMED:
        return False, False
    return is_correct, must_update


def _algorithm(encoded: str) -> str:
    # Django's identify_hasher also names the unsalted MD5 and SHA1 shapes (32 hex digits, "md5$$...",
    # "sha1$$..."); none of them is a hasher the monolith lists, so they are unknown here as there.
    return encoded.split("$", 1)[0]


def _random_salt() -> str:
    """Django's BasePasswordHasher.salt(): enough characters of its alphabet for 128 bits (22)."""
    return _random_string(math.ceil(_SALT_ENTROPY / math.log2(len(_SALT_CHARS))))


def _random_string(length: int) -> str:
    """Django's get_random_string()."""
    return "".join(secrets.choice(_SALT_CHARS) for _ in range(length))


def _must_update_salt(salt: str) -> bool:
    """Django's must_update_salt(): each character of a salt counts as log2(62) bits."""
    return len(salt) * math.log2(len(_SALT_CHARS)) < _SALT_ENTROPY


def _check_salt(salt: str) -> None:
    """Django's BasePasswordHasher._check_encode_args() on the salt: the encodings are $-separated."""
    if not salt or "$" in salt:
        raise ValueError("salt must be provided and cannot contain $.")


def _equal(encoded: str, candidate: str) -> bool:
    """Django's constant_time_compare(): the time taken does not depend on where the two first differ."""
    return secrets.compare_digest(encoded.encode(), candidate.encode())


class _PBKDF2:
    """Django's PBKDF2PasswordHasher (``sha256``) and PBKDF2SHA1PasswordHasher (``sha1``)."""

    def __init__(self, algorithm: str, digest: str, iterations: int) -> None:
        self.algorithm = algorithm
        self.digest = digest
        self.iterations = iterations

    def encode(self, password: str, salt: str, iterations: int | None = None) -> str:
        _check_salt(salt)
        # Django's `iterations or self.iterations`: an encoded count of 0 means the hasher's own.
        iterations = iterations or self.iterations
        raw = hashlib.pbkdf2_hmac(self.digest, password.encode(), salt.encode(), iterations)
        hash_ = base64.b64encode(raw).decode("ascii").strip()
        return f"{self.algorithm}${iterations:d}${salt}${hash_}"

    def decode(self, encoded: str) -> tuple[int, str]:
        """(iterations, salt); ValueError where Django's decode fails (its assert included)."""
        algorithm, iterations, salt, _ = encoded.split("$", 3)
        if algorithm != self.algorithm:
            raise ValueError(f"not a {self.algorithm} encoding")
        return int(iterations), salt

    def verify(self, password: str, encoded: str) -> bool:
        iterations, salt = self.decode(encoded)
        return _equal(encoded, self.encode(password, salt, iterations))

    def must_update(self, encoded: str) -> bool:
        iterations, salt = self.decode(encoded)
        return iterations != self.iterations or _must_update_salt(salt)

    def harden_runtime(self, password: str, encoded: str) -> None:
        iterations, salt = self.decode(encoded)
        extra_iterations = self.iterations - iterations
        if extra_iterations > 0:
            self.encode(password, salt, extra_iterations)


def _verify_pbkdf2_sha1(password: str, encoded: str) -> bool:
    # PBKDF2SHA1PasswordHasher inherits PBKDF2PasswordHasher's iterations (Django 5.2's count).
    return _PBKDF2("pbkdf2_sha1", "sha1", PBKDF2_ITERATIONS).verify(password, encoded)


def _verify_argon2(password: str, encoded: str) -> bool:
    """Django's Argon2PasswordHasher.verify(): argon2-cffi checks the hash, reading its variety (argon2id,
    argon2i, argon2d), version and costs from it."""
    algorithm, rest = encoded.split("$", 1)
    if algorithm != "argon2":
        raise ValueError("not an argon2 encoding")
    try:
        return argon2.PasswordHasher().verify("$" + rest, password)
    except argon2.exceptions.VerificationError:
        return False


def _encode_bcrypt_sha256(password: str, salt: bytes) -> str:
    # SHA-256 first, hex-encoded, so that bcrypt's 72-byte limit does not truncate long passwords (Django #20138).
    prehashed = binascii.hexlify(hashlib.sha256(password.encode()).digest())
    return "bcrypt_sha256$" + bcrypt.hashpw(prehashed, salt).decode("ascii")


def _verify_bcrypt_sha256(password: str, encoded: str) -> bool:
    """Django's BCryptSHA256PasswordHasher.verify(): bcrypt again with the stored hash as the salt (bcrypt reads
    its version, rounds and salt from it), then compare the whole encodings."""
    algorithm, data = encoded.split("$", 1)
    if algorithm != "bcrypt_sha256":
        raise ValueError("not a bcrypt_sha256 encoding")
    return _equal(encoded, _encode_bcrypt_sha256(password, data.encode("ascii")))


def _encode_scrypt(password: str, salt: str, n: int, r: int, p: int) -> str:
    _check_salt(salt)
    # Django's `n or self.work_factor` and so on: a 0 in the encoding means the hasher's default.
    n = n or _SCRYPT_WORK_FACTOR
    r = r or _SCRYPT_BLOCK_SIZE
    p = p or _SCRYPT_PARALLELISM
    raw = hashlib.scrypt(
        password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=_SCRYPT_DKLEN
    )
    hash_ = base64.b64encode(raw).decode("ascii").strip()
    return f"scrypt${n:d}${salt}${r:d}${p:d}${hash_}"


def _verify_scrypt(password: str, encoded: str) -> bool:
    """Django's ScryptPasswordHasher.verify(): scrypt again with the encoding's salt and costs, then compare."""
    algorithm, work_factor, salt, block_size, parallelism, _ = encoded.split("$", 6)
    if algorithm != "scrypt":
        raise ValueError("not a scrypt encoding")
    return _equal(encoded, _encode_scrypt(password, salt, int(work_factor), int(block_size), int(parallelism)))


# The rest of the monolith's PASSWORD_HASHERS (Django 5.2's default list) by algorithm name, after the preferred
# pbkdf2_sha256 (a _PBKDF2 made with the preferred iteration count).
_OTHER_VERIFIERS: dict[str, Callable[[str, str], bool]] = {
    "pbkdf2_sha1": _verify_pbkdf2_sha1,
    "argon2": _verify_argon2,
    "bcrypt_sha256": _verify_bcrypt_sha256,
    "scrypt": _verify_scrypt,
}
