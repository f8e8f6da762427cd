from django.contrib.auth.forms import AuthenticationForm

from legacy_monolith.accounts.services import normalise_email


class EmailAuthenticationForm(AuthenticationForm):
    """Users log in with their email address, which is also their username."""

    def clean_username(self):
        return normalise_email(self.cleaned_data["username"])
