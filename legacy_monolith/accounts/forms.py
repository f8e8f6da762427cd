from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from legacy_monolith.accounts.gateway import authenticator
from legacy_monolith.accounts.services import normalise_email
from legacy_monolith.exceptions import AccountsUnavailable, TooManyLogins


class EmailAuthenticationForm(AuthenticationForm):
    """Users log in with their email address, which is also their username; behind the same login throttle as
    the API (``accounts/throttle.py``): a refused login is the form's error, and the page answers 429. The
    password is checked where the accounts live (``accounts/gateway.py``)."""

    retry_after: int | None = None
    unavailable = False

    def clean_username(self):
        return normalise_email(self.cleaned_data["username"])

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = authenticator().authenticate(self.request, email=username, password=password)
            except TooManyLogins as exc:
                self.retry_after = int(exc.headers["Retry-After"])
                raise ValidationError(exc.detail, code="throttled") from None
            except AccountsUnavailable:
                self.unavailable = True
                raise ValidationError("Logging in is not possible for a moment; try again shortly.",
                                      code="unavailable") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
