"""The login throttle (``legacy_monolith/accounts/throttle.py``): repeated failed logins for one account, or from
one client, are refused with 429 and ``Retry-After``, through the API and the login page alike, right password
or not; the window slides; a success forgets the account's failures; the client is the router's
``X-Forwarded-For`` only when the router is the peer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from legacy_monolith.accounts import throttle
from legacy_monolith.accounts.models import LoginFailure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashes(settings):
    """Dozens of logins: a cheap hasher (the throttle does not care how a password is checked)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN = "/api/accounts/login/"
PAGE = "/accounts/login/"


def login(email: str, password: str, *, client_ip: str = "203.0.113.7", peer: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=peer).post(LOGIN, {"email": email, "password": password},
                                         content_type="application/json", HTTP_X_FORWARDED_FOR=client_ip)


def test_five_failures_refuse_the_account_even_with_its_password(customer):
    for _ in range(throttle.PER_ACCOUNT):
        assert login(customer.email, "wrong").status_code == 400
    refused = login(customer.email, PASSWORD)
    assert refused.status_code == 429
    retry = int(refused["Retry-After"])
    assert 1 <= retry <= throttle.WINDOW.total_seconds()
    assert refused.json() == {"detail": f"Too many failed logins. Try again in {retry} seconds.", "code": "throttled"}
    # Another account from the same client is not affected (the client's limit is higher).
    assert login("someone@example.com", "wrong").status_code == 400


def test_the_window_slides_and_a_success_forgets_the_accounts_failures(customer):
    for _ in range(throttle.PER_ACCOUNT):
        login(customer.email, "wrong")
    LoginFailure.objects.update(at=timezone.now() - throttle.WINDOW - timedelta(seconds=1))
    assert login(customer.email, PASSWORD).status_code == 200
    assert not LoginFailure.objects.filter(email=customer.email).exists()
    for _ in range(throttle.PER_ACCOUNT - 1):
        login(customer.email, "wrong")
    assert login(customer.email, PASSWORD).status_code == 200   # four failures: not yet


def test_retry_after_is_when_enough_failures_have_left_the_window(customer):
    now = timezone.now()
    for minutes in (4, 3, 2, 1, 0):   # the oldest counted failure leaves in a minute
        LoginFailure.objects.create(email=customer.email, client="198.51.100.1", at=now - timedelta(minutes=minutes))
    with pytest.raises(throttle.LoginThrottled) as refused:
        throttle.check(customer.email, "198.51.100.2", now=now)
    assert refused.value.retry_after == 60


def test_one_client_failing_on_many_accounts_is_refused(customer):
    for n in range(throttle.PER_CLIENT):
        assert login(f"guess{n}@example.com", "wrong", client_ip="198.51.100.9").status_code == 400
    assert login(customer.email, PASSWORD, client_ip="198.51.100.9").status_code == 429
    assert login(customer.email, PASSWORD, client_ip="198.51.100.10").status_code == 200


@override_settings(TRUSTED_PROXIES=frozenset({"10.0.0.1"}))
def test_x_forwarded_for_counts_only_from_a_trusted_proxy(customer):
    """A client that is not the router cannot pick the address it is counted under."""
    for n in range(throttle.PER_CLIENT):
        login(f"guess{n}@example.com", "wrong", client_ip=f"192.0.2.{n}", peer="198.51.100.50")
    assert login(customer.email, PASSWORD, client_ip="192.0.2.200", peer="198.51.100.50").status_code == 429
    assert login(customer.email, PASSWORD, client_ip="192.0.2.200", peer="10.0.0.1").status_code == 200


def test_the_login_page_is_throttled_the_same_way(customer):
    page = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.8")
    for _ in range(throttle.PER_ACCOUNT):
        assert page.post(PAGE, {"username": customer.email, "password": "wrong"}).status_code == 200
    refused = page.post(PAGE, {"username": customer.email, "password": PASSWORD})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "Too many failed logins" in refused.content.decode()
    assert "_auth_user_id" not in page.session
    # The API counts the page's failures too: one table for both ways in.
    assert login(customer.email, PASSWORD).status_code == 429
