from django.contrib.auth import views as auth_views

from legacy_monolith.accounts.forms import EmailAuthenticationForm


class LoginPage(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm


class LogoutPage(auth_views.LogoutView):
    pass
