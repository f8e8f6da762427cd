"""Writes of accounts: registration, login/logout (session and API token), profile, address book."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout, password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound, ValidationError

from legacy_monolith.accounts import throttle
from legacy_monolith.accounts.models import Address
from legacy_monolith.exceptions import TooManyLogins


def normalise_email(email: str) -> str:
    return email.strip().lower()


@transaction.atomic
def user_register(*, email: str, password: str, first_name: str = "", last_name: str = "") -> User:
    email = normalise_email(email)
    candidate = User(username=email, email=email, first_name=first_name, last_name=last_name)
    try:
        password_validation.validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from exc
    if User.objects.filter(username=email).exists():
        raise ValidationError({"email": ["A user with this email already exists."]})
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError as exc:  # lost a race with an identical registration
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
