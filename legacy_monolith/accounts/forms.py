from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from legacy_monolith.accounts.services import authenticate_throttled, normalise_email
from legacy_monolith.exceptions import TooManyLogins


class EmailAuthenticationForm(AuthenticationForm):
    """Users log in with their email address, which is also their username; behind the same login throttle as
    the API (``accounts/throttle.py``): a refused login is the form's error, and the page answers 429."""

    retry_after: int | None = None

    def clean_username(self):
        return normalise_email(self.cleaned_data["username"])

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = authenticate_throttled(self.request, email=username, password=password)
            except TooManyLogins as exc:
                self.retry_after = int(exc.headers["Retry-After"])
                raise ValidationError(exc.detail, code="throttled") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
