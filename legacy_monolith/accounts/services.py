"""Writes of accounts: registration, login/logout (session and API token), the password, profile, address book."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout, password_validation, update_session_auth_hash
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound, ValidationError

from legacy_monolith.accounts import throttle
from legacy_monolith.accounts.models import Address
from legacy_monolith.exceptions import TooManyLogins


def normalise_email(email: str) -> str:
    return email.strip().lower()


def user_register(*, email: str, password: str, first_name: str = "", last_name: str = "") -> User:
    email = normalise_email(email)
    candidate = User(username=email, email=email, first_name=first_name, last_name=last_name)
    try:
        password_validation.validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from exc
    if User.objects.filter(username=email).exists():
        raise ValidationError({"email": ["A user with this email already exists."]})
    # The hash (PBKDF2, 1,000,000 iterations: half a CPU-second, seconds on a loaded machine) outside any
    # transaction: on SQLite a transaction begins IMMEDIATE and holds the database's one write lock, and every other
    # writer (checkouts, the sync, a cutover hook's switch) queued behind the hashing.
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError as exc:  # lost a race with an identical registration (the unique username)
        raise ValidationError({"email": ["A user with this email already exists."]}) from exc
    return candidate


def authenticate_throttled(request, *, email: str, password: str) -> User | None:
    """Django's ``authenticate`` behind the login throttle: refused (:class:`TooManyLogins`) while the account or
    the client has failed too often lately; each failure counted, a success forgetting the account's."""
    email, client = normalise_email(email), throttle.client_of(request)
    try:
        throttle.check(email, client)
    except throttle.LoginThrottled as exc:
        raise TooManyLogins(exc.message, exc.retry_after) from None
    user = authenticate(request, username=email, password=password)
    if user is None:
        throttle.failed(email, client)
    else:
        throttle.succeeded(email)
    return user


def user_login(request, *, email: str, password: str) -> tuple[User, str]:
    """Logs in for both worlds: a session (pages, the browser) and an API token (scripts, the router)."""
    user = authenticate_throttled(request, email=email, password=password)
    if user is None:
        # DRF's own obtain_auth_token answers bad credentials this way (400, non_field_errors).
        raise ValidationError({"non_field_errors": ["Unable to log in with provided credentials."]})
    login(request, user)
    token, _ = Token.objects.get_or_create(user=user)
    return user, token.key


def user_logout(request) -> None:
    if request.user.is_authenticated:
        Token.objects.filter(user=request.user).delete()
    logout(request)


# Django's PasswordChangeForm's message for a wrong old password.
OLD_PASSWORD_INCORRECT = "Your old password was entered incorrectly. Please enter it again."  # noqa: S105


def user_password_change(request, *, old_password: str, new_password: str) -> User:
    """The caller changes their password, as Django's ``PasswordChangeView`` does it; 400 with the fields' errors
    (``old_password``: wrong; ``new_password``: the configured validators' messages for this user), both at once
    as Django's form gives them.

    **The login throttle applies** (a decision: Django's view counts nothing). Whoever holds a session or a token
    (a stolen cookie, a laptop left open) could otherwise guess the account's password here without limit, a
    second door to the secret the login throttle guards. So, as a login: a throttled account or client is refused
    (429) before the old password is even checked, right or not; a wrong old password is a failed login for the
    account (the user's normalised username, which is their email) and the client; a right one forgets the
    account's failures. The counts are the login's own rows: failures here and at the login add up.

    **Sessions**: the user's other sessions end, as Django's do: their auth hash, made from the old password hash,
    no longer matches (each is flushed on its next request). The session that made the change (a caller the
    session authenticated) stays logged in under a new key (``update_session_auth_hash``: Set-Cookie). A caller
    authenticated by token has no such session: every session of the user ends, one whose cookie it also sent
    included.

    **The API token is kept** (DRF's ``Token`` is not rotated by a password change, and docs/accounts_decision.md
    decides nothing else): a client that wants it gone logs out, which deletes it.
    """
    user = request.user
    account, client = normalise_email(user.get_username()), throttle.client_of(request)
    try:
        throttle.check(account, client)
    except throttle.LoginThrottled as exc:
        raise TooManyLogins(exc.message, exc.retry_after) from None
    errors: dict[str, list[str]] = {}
    # Django's check_password: a right password whose hash is due for an upgrade is re-hashed and saved (its setter).
    if user.check_password(old_password):
        throttle.succeeded(account)
    else:
        # Counted outside any transaction: the 400 below must not roll it back.
        throttle.failed(account, client)
        errors["old_password"] = [OLD_PASSWORD_INCORRECT]
    try:
        password_validation.validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        errors["new_password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    if isinstance(request.successful_authenticator, SessionAuthentication):
        update_session_auth_hash(request, user)
    return user


def user_update(user: User, **fields) -> User:
    for name, value in fields.items():
        setattr(user, name, value)
    user.save(update_fields=list(fields))
    return user


@transaction.atomic
def address_save(address: Address, **fields) -> Address:
    """Creates or changes an address; ``fields`` are what the request sent. One address of a user is the
    default: making one the default clears the others, and a user's only address is the default."""
    # The flags are read after the lock: a stale flag read before it (say, by an edit of the city while another
    # address became the default) would otherwise leave two defaults, or none.
    _lock_address_book(address.user_id)
    flags = dict(Address.objects.filter(user_id=address.user_id).values_list("pk", "is_default"))
    creating = address.pk is None
    if not creating and address.pk not in flags:
        raise NotFound("No Address matches the given query.")  # deleted meanwhile; save() would re-insert it
    for name, value in fields.items():
        setattr(address, name, value)
    if not creating and "is_default" not in fields:
        address.is_default = flags[address.pk]
    changed = set(fields)
    others_default = [pk for pk, default in flags.items() if default and pk != address.pk]
    if address.is_default:
        Address.objects.filter(pk__in=others_default).update(is_default=False)
    elif len(flags) == (0 if creating else 1):
        address.is_default = True  # the only address is the default one
        changed.add("is_default")
    if creating:
        address.save()
    else:
        # Only what the request changed: the rest of the row as read before the lock may be stale.
        address.save(update_fields=sorted(changed))
    return address


@transaction.atomic
def address_delete(address: Address) -> None:
    _lock_address_book(address.user_id)
    address.delete()


def _lock_address_book(user_id: int) -> None:
    """The rule of one default address spans rows: the writes of one user's address book take turns on the
    user's row (SQLite's writers take turns anyway)."""
    User.objects.select_for_update().filter(pk=user_id).first()
