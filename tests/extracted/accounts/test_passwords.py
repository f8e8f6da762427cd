"""The accounts service's password hashes against Django's own hashers (the test process has Django; the
service does not).

Hashes Django makes with each of the monolith's five hashers verify with the service, wrong passwords do not;
hashes the service makes verify with Django; the service re-hashes on login exactly when Django calls the
setter, and spends the same hashing work as Django on wrong passwords, unusable and unknown encodings (the
timing padding). The property tests run the hashers with low costs, Django's configured the same way (a PBKDF2
hasher subclass of FAST iterations as the preferred one; the argon2, bcrypt and scrypt hashes are made cheap and
carry their costs in the encoding); a few fixed cases run at the real costs, 1,000,000 PBKDF2 iterations
included.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import argon2
import bcrypt
import pytest
from django.contrib.auth.hashers import (
    Argon2PasswordHasher,
    BasePasswordHasher,
    BCryptSHA256PasswordHasher,
    PBKDF2PasswordHasher,
    PBKDF2SHA1PasswordHasher,
    ScryptPasswordHasher,
    check_password,
    get_hasher,
    identify_hasher,
    make_password,
)
from django.test import override_settings
from hypothesis import assume, given
from hypothesis import strategies as st

from extracted.accounts import passwords

FAST = 1_000  # the preferred PBKDF2 hasher's iterations in the property tests, on both sides


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = FAST


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 64
    parallelism = 1


class CheapArgon2iPasswordHasher(CheapArgon2PasswordHasher):
    """What Django before 3.2 wrote: argon2i."""

    def params(self) -> argon2.Parameters:
        params = super().params()
        params.type = argon2.low_level.Type.I
        return params


class CheapArgon2dPasswordHasher(CheapArgon2PasswordHasher):
    def params(self) -> argon2.Parameters:
        params = super().params()
        params.type = argon2.low_level.Type.D
        return params


class CheapBCryptSHA256PasswordHasher(BCryptSHA256PasswordHasher):
    rounds = 4


class CheapScryptPasswordHasher(ScryptPasswordHasher):
    work_factor = 2**4
    block_size = 2
    parallelism = 1


_HERE = "tests.extracted.accounts.test_passwords"
# The monolith's PASSWORD_HASHERS (Django 5.2's default list) with the preferred one at FAST iterations.
FAST_HASHERS = [
    f"{_HERE}.FastPBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# Passwords Django and the service must agree on: empty, non-ASCII, a NUL, spaces, very long.
PASSWORDS = ["", "correct horse", "pässwörd", "密码🔑", "nul\x00byte", "  spaced  ", "$dollar$", "a" * 10_000]
# Salts Django accepts (non-empty, no "$"), odd characters and a too short one included.
SALTS = ["x", "sälz", "salt with spaces", "🧂🧂", ":;,'\"\\", "a" * 21, "Abc0123456789xyzABC012", "a" * 40]

passwords_ = st.text(max_size=40)
# Any characters Django accepts in a salt: not "$", not lone surrogates (UTF-8 cannot encode them).
salts = st.text(alphabet=st.characters(exclude_characters="$", exclude_categories=["Cs"]), min_size=1, max_size=30)


def _make(hasher: BasePasswordHasher, password: str, salt: str | None = None, **kwargs: Any) -> str:
    """Django's hasher.encode with its own kind of salt unless one is given."""
    return str(hasher.encode(password, salt or hasher.salt(), **kwargs))


def make_cheap(algorithm: str, password: str, salt: str | None = None) -> str:
    """A hash Django makes with the named hasher at a low cost (the costs are in the encoding)."""
    if algorithm == "pbkdf2_sha256":
        return _make(FastPBKDF2PasswordHasher(), password, salt)
    if algorithm == "pbkdf2_sha1":
        return _make(PBKDF2SHA1PasswordHasher(), password, salt, iterations=FAST)
    if algorithm == "argon2":
        # argon2 wants 8 bytes of salt at least; Django's own salts are 22 characters.
        return _make(CheapArgon2PasswordHasher(), password, salt if salt and len(salt.encode()) >= 8 else None)
    if algorithm == "argon2i":
        return _make(CheapArgon2iPasswordHasher(), password)
    if algorithm == "argon2d":
        return _make(CheapArgon2dPasswordHasher(), password)
    if algorithm == "bcrypt_sha256":
        return _make(CheapBCryptSHA256PasswordHasher(), password)  # a bcrypt salt, not any string
    if algorithm == "bcrypt_sha256_2a":
        return _make(CheapBCryptSHA256PasswordHasher(), password, bcrypt.gensalt(4, prefix=b"2a"))
    assert algorithm == "scrypt"
    return _make(CheapScryptPasswordHasher(), password, salt)


ALGORITHMS = ["pbkdf2_sha256", "pbkdf2_sha1", "argon2", "argon2i", "argon2d", "bcrypt_sha256", "bcrypt_sha256_2a"]
ALGORITHMS.append("scrypt")


def django_login(password: str, encoded: str) -> tuple[bool, str | None]:
    """Django's check_password with a setter, as a login runs it: (ok, what the setter would store). Where Django
    raises (a malformed encoding it half recognises), the login fails: (False, None)."""
    stored: list[str] = []
    try:
        ok = check_password(password, encoded, setter=lambda raw: stored.append(make_password(raw)))
    except (ValueError, TypeError, AssertionError, OverflowError):
        return False, None
    return ok, (stored[0] if stored else None)


def django_needs_upgrade(encoded: str) -> bool:
    """The second answer of Django's verify_password: another algorithm than the preferred one, or the preferred
    hasher's must_update."""
    if encoded.startswith("!"):
        return False
    try:
        hasher = identify_hasher(encoded)
        preferred = get_hasher()
        return bool(hasher.algorithm != preferred.algorithm or preferred.must_update(encoded))
    except (ValueError, TypeError, AssertionError, OverflowError):
        return False


@contextmanager
def fast_preferred() -> Iterator[None]:
    with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        yield


def assert_login_agrees(password: str, encoded: str) -> tuple[bool, str | None]:
    """The service's login and Django's agree on (ok, whether to store a new hash), and a new hash is the
    preferred one at the preferred count and verifies with Django."""
    with fast_preferred():
        expected_ok, expected_new = django_login(password, encoded)
        ok, new = passwords.verify_and_upgrade(password, encoded, iterations=FAST)
        assert (ok, new is not None) == (expected_ok, expected_new is not None), (password, encoded)
        assert passwords.verify(password, encoded, iterations=FAST) is expected_ok
        assert passwords.needs_upgrade(encoded, iterations=FAST) is django_needs_upgrade(encoded)
        if new is not None:
            assert check_password(password, new)
            assert identify_hasher(new).algorithm == "pbkdf2_sha256"
            assert FastPBKDF2PasswordHasher().decode(new)["iterations"] == FAST
            assert not FastPBKDF2PasswordHasher().must_update(new)
    return ok, new


# --- Django's hashes verify with the service ---------------------------------------------------------------


@pytest.mark.slow  # about a second: 100 examples, a few hashers each
@given(algorithm=st.sampled_from(ALGORITHMS), password=passwords_, wrong=passwords_, salt=st.none() | salts)
def test_django_hashes_verify_and_wrong_passwords_do_not(
    algorithm: str, password: str, wrong: str, salt: str | None
) -> None:
    if wrong.rstrip("\x00") == password.rstrip("\x00"):
        # Not only NULs more or less: HMAC pads a short key with zeros, so PBKDF2 takes "pw" and "pw\x00" for one
        # password (test_trailing_nuls_are_one_password_for_pbkdf2_in_django_too).
        wrong = password + "x"
    encoded = make_cheap(algorithm, password, salt)
    ok, new = assert_login_agrees(password, encoded)
    assert ok
    # Every hash but the preferred one at the preferred count and a long enough salt is upgraded.
    assert (new is None) == (algorithm == "pbkdf2_sha256" and (salt is None or len(salt) >= 22))
    assert assert_login_agrees(wrong, encoded) == (False, None)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("password", PASSWORDS, ids=lambda password: repr(password[:12]))
def test_fixed_passwords_with_each_hasher(algorithm: str, password: str) -> None:
    encoded = make_cheap(algorithm, password)
    assert assert_login_agrees(password, encoded)[0]
    assert not assert_login_agrees(password + "x", encoded)[0]
    assert not assert_login_agrees(password.upper() + "X", encoded)[0]


@pytest.mark.parametrize("salt", SALTS)
@pytest.mark.parametrize("algorithm", ["pbkdf2_sha256", "pbkdf2_sha1", "argon2", "scrypt"])
def test_salts_with_odd_characters(algorithm: str, salt: str) -> None:
    encoded = make_cheap(algorithm, "pässwörd", salt)
    assert assert_login_agrees("pässwörd", encoded)[0]
    assert not assert_login_agrees("passwörd", encoded)[0]


@given(
    iterations=st.sampled_from([1, 2, FAST - 1, FAST, FAST + 1, 3_000]),
    salt=salts,
    password=passwords_,
    digest=st.sampled_from(["sha256", "sha1"]),
)
def test_pbkdf2_iterations_and_salts_decide_the_upgrade_as_django(
    iterations: int, salt: str, password: str, digest: str
) -> None:
    hasher = FastPBKDF2PasswordHasher() if digest == "sha256" else PBKDF2SHA1PasswordHasher()
    encoded = hasher.encode(password, salt, iterations)
    ok, new = assert_login_agrees(password, encoded)
    assert ok
    with fast_preferred():
        assert passwords.needs_upgrade(encoded, iterations=FAST) is (
            digest == "sha1" or iterations != FAST or len(salt) < 22
        )
    assert assert_login_agrees(password + "!", encoded) == (False, None)


def test_trailing_nuls_are_one_password_for_pbkdf2_in_django_too() -> None:
    """HMAC pads a key shorter than its block (64 bytes) with zeros: Django's PBKDF2 hashes (and scrypt's, which
    runs PBKDF2-HMAC-SHA256 inside) accept a password with NULs added or taken at its end, and so do the
    service's, as they must to agree with Django. Argon2 and bcrypt_sha256 tell them apart."""
    for algorithm in ("pbkdf2_sha256", "pbkdf2_sha1", "scrypt"):
        encoded = make_cheap(algorithm, "pw")
        for variant in ("pw\x00", "pw\x00\x00\x00"):
            assert check_password(variant, encoded)
            assert assert_login_agrees(variant, encoded)[0]
        assert assert_login_agrees("pw\x00x", encoded) == (False, None)
    for algorithm in ("argon2", "bcrypt_sha256"):
        assert assert_login_agrees("pw\x00", make_cheap(algorithm, "pw")) == (False, None)


def test_argon2_hashes_of_older_djangos() -> None:
    """Django's own test vectors: argon2i without a version (Django 1.10) and with v=19 (Django 1.11)."""
    without_version = (
        "argon2$argon2i$m=8,t=1,p=1$c29tZXNhbHQ$gwQOXSNhxiOxPOA0+PY10P9QFO"
        "4NAYysnqRt1GSQLE55m+2GYDt9FEjPMHhP2Cuf0nOEXXMocVrsJAtNSsKyfg"
    )
    with_version = "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q"
    for encoded in (without_version, with_version):
        assert check_password("secret", encoded)  # Django's own answer first
        assert assert_login_agrees("secret", encoded)[0]
        assert not assert_login_agrees("wrong", encoded)[0]


# --- the service's hashes verify with Django ---------------------------------------------------------------


@given(password=passwords_, salt=st.none() | salts)
def test_service_hashes_are_djangos(password: str, salt: str | None) -> None:
    encoded = passwords.hash_password(password, salt=salt, iterations=FAST)
    if salt is not None:
        assert encoded == FastPBKDF2PasswordHasher().encode(password, salt)  # byte for byte
    with fast_preferred():
        assert check_password(password, encoded)
        assert not check_password(password + "x", encoded)
        assert identify_hasher(encoded).algorithm == "pbkdf2_sha256"
        decoded = FastPBKDF2PasswordHasher().decode(encoded)
        assert decoded["iterations"] == FAST
        if salt is None:  # the service's own salts are Django's kind: 22 characters of its alphabet
            assert len(decoded["salt"]) == 22 and decoded["salt"].isalnum() and decoded["salt"].isascii()
            assert not FastPBKDF2PasswordHasher().must_update(encoded)
    assert passwords.verify(password, encoded, iterations=FAST)


def test_a_salt_django_refuses_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot contain"):
        PBKDF2PasswordHasher().encode("pw", "a$b")
    with pytest.raises(ValueError, match="cannot contain"):
        passwords.hash_password("pw", salt="a$b")


# --- the real costs (the monolith's stored hashes) ----------------------------------------------------------


def test_the_real_iteration_count_is_djangos() -> None:
    assert passwords.PBKDF2_ITERATIONS == PBKDF2PasswordHasher.iterations == 1_000_000


@pytest.mark.slow
def test_service_hash_at_the_real_count_verifies_with_django() -> None:
    encoded = passwords.hash_password("correct horse battery staple")
    assert encoded.startswith("pbkdf2_sha256$1000000$")
    assert check_password("correct horse battery staple", encoded)  # the monolith's settings: 1,000,000
    assert not passwords.needs_upgrade(encoded)
    assert not get_hasher().must_update(encoded)


@pytest.mark.slow
def test_djangos_hash_at_the_real_count_verifies_with_the_service() -> None:
    encoded = make_password("pässwörd 密码")  # the monolith's settings: 1,000,000 iterations
    assert passwords.verify_and_upgrade("pässwörd 密码", encoded) == (True, None)
    assert not passwords.needs_upgrade(encoded)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["argon2", "bcrypt_sha256", "scrypt"])
def test_djangos_default_costs_verify(algorithm: str) -> None:
    """The monolith's other hashers at Django 5.2's default costs (argon2id 100 MiB, t=2, p=8; bcrypt 12 rounds;
    scrypt 2**14, r=8, p=5), as its stored hashes have them: they verify and are due for an upgrade."""
    encoded = make_password("hunter2 hunter2", hasher=algorithm)
    assert check_password("hunter2 hunter2", encoded)
    assert passwords.needs_upgrade(encoded) and django_needs_upgrade(encoded)
    with fast_preferred():
        ok, new = passwords.verify_and_upgrade("hunter2 hunter2", encoded, iterations=FAST)
        assert ok and new is not None and check_password("hunter2 hunter2", new)
        assert passwords.verify("hunter2 hunter3", encoded, iterations=FAST) is False


@pytest.mark.slow
def test_an_upgrade_is_to_the_real_count() -> None:
    encoded = make_cheap("argon2", "hunter2 hunter2")
    ok, new = passwords.verify_and_upgrade("hunter2 hunter2", encoded)
    assert ok and new is not None and new.startswith("pbkdf2_sha256$1000000$")
    assert check_password("hunter2 hunter2", new)  # the monolith's settings
    assert not get_hasher().must_update(new)


# --- what never verifies ------------------------------------------------------------------------------------

MALFORMED = [
    "",
    "!",
    make_password(None),  # set_unusable_password()
    "!" + make_cheap("pbkdf2_sha256", "pw"),
    "plain text",
    "5f4dcc3b5aa765d61d8327deb882cf99",  # unsalted MD5 of "password": a hasher the settings do not list
    "md5$$5f4dcc3b5aa765d61d8327deb882cf99",
    "sha1$$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
    "md5$salt$hash",
    "default$1000$salt$hash",
    "pbkdf2_sha256",
    "pbkdf2_sha256$",
    "pbkdf2_sha256$1000",
    "pbkdf2_sha256$1000$salt",
    "pbkdf2_sha256$1000$$hash",
    "pbkdf2_sha256$abc$salt$hash",
    "pbkdf2_sha256$-5$salt$hash",
    "pbkdf2_sha256$0$salt$hash",
    "pbkdf2_sha256$99999999999999999999$salt$hash",
    "pbkdf2_sha256$ 1000$salt$hash",
    "pbkdf2_sha1$1000$salt$",
    "PBKDF2_SHA256$1000$salt$hash",
    "argon2",
    "argon2$",
    "argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
    "argon2$argon2x$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
    "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Qé",
    "bcrypt_sha256$",
    "bcrypt_sha256$$2b$04$",
    "bcrypt_sha256$$2b$04$tooshort",
    "bcrypt_sha256$$2b$99$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz01234",
    "bcrypt_sha256$$2b$04$ñbcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz01234",
    "bcrypt$$2b$04$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz01234",  # bcrypt without SHA-256: not listed
    "scrypt$16384$salt$8$5",
    "scrypt$16384$salt$8$5$hash$extra",
    "scrypt$3$salt$1$1$hash",
    "scrypt$16$$1$1$hash",
    "scrypt$x$salt$1$1$hash",
    "scrypt$1048576$salt$8$1$hash",  # 1 GiB: beyond OpenSSL's memory limit
    make_cheap("pbkdf2_sha256", "pw")[:-2],  # a truncated hash
    make_cheap("scrypt", "pw").replace("scrypt$16$", "scrypt$32$"),  # costs changed
]


# By position: some of them hold random salts, and every pytest-xdist worker must collect the same test ids.
@pytest.mark.parametrize("encoded", MALFORMED, ids=[f"malformed-{n}" for n in range(len(MALFORMED))])
def test_unusable_unknown_and_malformed_encodings_never_verify(encoded: str) -> None:
    for password in ("pw", "", "password", "hash"):
        assert assert_login_agrees(password, encoded) == (False, None)


@given(
    prefix=st.sampled_from(["", "!", "pbkdf2_sha256$", "pbkdf2_sha1$", "argon2$", "argon2$argon2id$"])
    | st.sampled_from(["bcrypt_sha256$", "bcrypt_sha256$$2b$04$", "scrypt$", "scrypt$16$"]),
    rest=st.text(max_size=60),
    password=passwords_,
)
def test_garbage_never_verifies_nor_raises(prefix: str, rest: str, password: str) -> None:
    encoded = prefix + rest
    # Long digit runs could ask for hours of PBKDF2 or gigabytes of scrypt, in Django as here.
    assume(not any(run.isdigit() for run in _digit_runs(encoded, 6)))
    assert assert_login_agrees(password, encoded) == (False, None)


def _digit_runs(text: str, length: int) -> Iterator[str]:
    return (text[i : i + length] for i in range(len(text) - length + 1))


def test_lone_surrogates_never_verify_nor_raise() -> None:
    encoded = make_cheap("pbkdf2_sha256", "pw")
    assert passwords.verify("\ud800", encoded, iterations=FAST) is False
    assert passwords.verify_and_upgrade("pw\udfff", make_cheap("argon2", "pw"), iterations=FAST) == (False, None)
    assert passwords.verify("pw", encoded[:-3] + "\ud800==", iterations=FAST) is False


# --- the same hashing work as Django's (the timing padding) -------------------------------------------------


@pytest.fixture
def pbkdf2_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every PBKDF2 run, Django's and the service's alike (both call hashlib.pbkdf2_hmac): (digest, iterations)."""
    runs: list[tuple[str, int]] = []
    real: Callable[..., bytes] = hashlib.pbkdf2_hmac

    def spy(hash_name: str, password: bytes, salt: bytes, iterations: int, dklen: int | None = None) -> bytes:
        runs.append((hash_name, iterations))
        return real(hash_name, password, salt, iterations, dklen)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", spy)
    return runs


@pytest.mark.parametrize(
    ("password", "encoded"),
    [
        pytest.param("pw", "!" + "x" * 40, id="unusable"),
        pytest.param("pw", "md5$salt$hash", id="unknown hasher"),
        pytest.param("wrong", PBKDF2PasswordHasher().encode("pw", "a" * 22, 300), id="wrong, fewer iterations"),
        pytest.param("wrong", PBKDF2PasswordHasher().encode("pw", "a" * 22, 3_000), id="wrong, more iterations"),
        pytest.param("wrong", PBKDF2PasswordHasher().encode("pw", "a" * 5, FAST), id="wrong, short salt"),
        pytest.param("wrong", PBKDF2PasswordHasher().encode("pw", "a" * 22, FAST), id="wrong, current"),
        pytest.param("pw", PBKDF2PasswordHasher().encode("pw", "a" * 22, 300), id="right, upgraded"),
        pytest.param("wrong", PBKDF2SHA1PasswordHasher().encode("pw", "a" * 22, 300), id="wrong, sha1"),
    ],
)
def test_the_hashing_work_is_djangos(pbkdf2_runs: list[tuple[str, int]], password: str, encoded: str) -> None:
    with fast_preferred():
        django_login(password, encoded)
        djangos = list(pbkdf2_runs)
        pbkdf2_runs.clear()
        passwords.verify_and_upgrade(password, encoded, iterations=FAST)
    assert pbkdf2_runs == djangos
    assert djangos  # something ran in each case
