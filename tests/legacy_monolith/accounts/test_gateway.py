"""The accounts gateway (``legacy_monolith/accounts/gateway.py``): the login page checks passwords where the
accounts live. Local: the monolith's tables, ``last_login`` stamped. Remote: the accounts service's internal
authenticate; a service that does not answer is a 503 page (nothing done, no session), never a local fallback;
the settings and the command refuse what cannot work. The remote side against the real service is held by the
accounts service's tests."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from legacy_monolith import switches
from legacy_monolith.accounts import gateway
from legacy_monolith.accounts.gateway import user_from
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
PAGE = "/accounts/login/"


@pytest.fixture(autouse=True)
def _fast_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def remote(settings):
    settings.ACCOUNTS_SERVICE_URL = "http://127.0.0.1:9"   # nothing listens: the service is down
    settings.ACCOUNTS_SERVICE_TOKEN = "accounts-token-for-tests"
    switches.set_switch(gateway.SWITCH, True)
    yield
    switches.set_switch(gateway.SWITCH, False)


def test_local_logins_open_a_session_and_stamp_last_login(customer):
    page = Client()
    assert page.post(PAGE, {"username": customer.email, "password": PASSWORD}).status_code == 302
    assert page.session["_auth_user_id"] == str(customer.pk)
    customer.refresh_from_db()
    assert customer.last_login is not None


def test_remote_with_the_service_down_is_a_503_page_and_no_session(customer, remote):
    page = Client()
    refused = page.post(PAGE, {"username": customer.email, "password": PASSWORD})
    assert refused.status_code == 503 and refused["Retry-After"] == "1"
    assert "Logging in is not possible for a moment" in refused.content.decode()
    assert "_auth_user_id" not in page.session
    customer.refresh_from_db()
    assert customer.last_login is None   # nothing stamped here either: remote mode leaves the copy alone


def test_the_services_user_becomes_what_login_puts_in_the_session(customer):
    user = user_from({"id": customer.pk, "password": customer.password, "email": customer.email,
                      "username": customer.email, "is_active": True, "is_staff": False,
                      "last_login": "2026-12-05T07:00:00Z", "date_joined": "2026-01-01T00:00:00Z"})
    assert (user.pk, user.get_session_auth_hash()) == (customer.pk, customer.get_session_auth_hash())
    assert user.last_login is not None and user.last_login.year == 2026 and not user._state.adding


def test_the_command_refuses_remote_without_settings_or_a_service(settings):
    settings.ACCOUNTS_SERVICE_TOKEN = ""
    with pytest.raises(CommandError, match="ACCOUNTS_SERVICE_TOKEN is not set"):
        call_command("accounts_gateway", "remote", "--no-wait")
    settings.ACCOUNTS_SERVICE_TOKEN = "accounts-token-for-tests"
    settings.ACCOUNTS_SERVICE_URL = "http://127.0.0.1:9"
    with pytest.raises(CommandError, match="did not answer"):
        call_command("accounts_gateway", "remote", "--no-wait")
    assert not switches.is_enabled(gateway.SWITCH)
