from django.contrib.auth import views as auth_views

from legacy_monolith.accounts.forms import EmailAuthenticationForm


class LoginPage(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.retry_after is not None:  # the login throttle's refusal: 429 with Retry-After, as the API's
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        elif form.unavailable:  # the accounts service (remote mode) did not answer: nothing was done
            response.status_code = 503
            response["Retry-After"] = "1"
        return response


class LogoutPage(auth_views.LogoutView):
    pass
