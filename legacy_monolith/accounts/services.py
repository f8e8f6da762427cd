"""Writes of accounts: registration, login/logout (session and API token), profile, address book."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout, password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ValidationError

from legacy_monolith.accounts.models import Address


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


def user_login(request, *, email: str, password: str) -> tuple[User, str]:
    """Logs in for both worlds: a session (pages, the browser) and an API token (scripts, the router)."""
    user = authenticate(request, username=normalise_email(email), password=password)
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
    for name, value in fields.items():
        setattr(address, name, value)
    if address.is_default:
        Address.objects.filter(user=address.user, is_default=True).exclude(pk=address.pk).update(is_default=False)
    elif not Address.objects.filter(user=address.user).exclude(pk=address.pk).exists():
        address.is_default = True  # the only address is the default one
    address.save()
    return address


def address_delete(address: Address) -> None:
    address.delete()
