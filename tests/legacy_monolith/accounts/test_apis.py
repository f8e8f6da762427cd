"""The accounts API: registration, login/logout, ``me`` and the address book."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from legacy_monolith.accounts.models import Address
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

REGISTER = "/api/accounts/register/"
LOGIN = "/api/accounts/login/"
LOGOUT = "/api/accounts/logout/"
ME = "/api/accounts/me/"
ADDRESSES = "/api/accounts/addresses/"

NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}
NOT_FOUND = {"detail": "No Address matches the given query."}


def address_body(**overrides) -> dict:
    body = {"full_name": "Alice Example", "line1": "1 Main Street", "city": "Berlin", "postal_code": "10115",
            "country": "de"}
    body.update(overrides)
    return body


@pytest.fixture
def make_address():
    def make(user: User, **fields) -> Address:
        values = {"full_name": "Someone", "line1": "2 Side Street", "city": "Paris", "postal_code": "75001",
                  "country": "FR"}
        values.update(fields)
        return Address.objects.create(user=user, **values)

    return make


# --- register ---------------------------------------------------------------------------------------------------


def test_register_creates_user_and_returns_token(api):
    response = api.post(REGISTER, {"email": "New.User@Example.COM", "password": PASSWORD, "first_name": "New",
                                   "last_name": "User"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "user"}
    user = User.objects.get(username="new.user@example.com")
    assert body["token"] == Token.objects.get(user=user).key
    assert body["user"]["id"] == user.pk
    assert body["user"]["email"] == "new.user@example.com"
    assert body["user"]["first_name"] == "New"
    assert body["user"]["last_name"] == "User"
    assert body["user"]["is_staff"] is False
    assert set(body["user"]) == {"id", "email", "first_name", "last_name", "is_staff", "date_joined"}
    assert user.check_password(PASSWORD)
    assert "password" not in body["user"]


def test_register_token_authenticates(api):
    token = api.post(REGISTER, {"email": "t@example.com", "password": PASSWORD}, format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.get(ME)
    assert response.status_code == 200
    assert response.json()["email"] == "t@example.com"
    assert response.json()["first_name"] == ""


def test_register_duplicate_email_case_insensitive(api, customer):
    response = api.post(REGISTER, {"email": "ALICE@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.json() == {"email": ["A user with this email already exists."]}
    assert User.objects.filter(username__iexact="alice@example.com").count() == 1


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "This password is too short. It must contain at least 8 characters."),
        ("12345678901", "This password is entirely numeric."),
        ("password123", "This password is too common."),
    ],
)
def test_register_rejects_weak_password(api, password, message):
    response = api.post(REGISTER, {"email": "weak@example.com", "password": password}, format="json")
    assert response.status_code == 400
    assert message in response.json()["password"]
    assert not User.objects.filter(username="weak@example.com").exists()


def test_register_rejects_password_similar_to_email(api):
    response = api.post(REGISTER, {"email": "verylongname@example.com", "password": "verylongname"}, format="json")
    assert response.status_code == 400
    assert response.json()["password"] == ["The password is too similar to the username."]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"email": ["This field is required."], "password": ["This field is required."]}),
        ({"email": "not-an-email", "password": PASSWORD}, {"email": ["Enter a valid email address."]}),
        ({"email": "", "password": PASSWORD}, {"email": ["This field may not be blank."]}),
        ({"email": "a@example.com", "password": ""}, {"password": ["This field may not be blank."]}),
        ({"email": "a@example.com", "password": "x" * 129},
         {"password": ["Ensure this field has no more than 128 characters."]}),
        ({"email": "a" * 140 + "@example.com", "password": PASSWORD},
         {"email": ["Ensure this field has no more than 150 characters."]}),
        ({"email": "a@example.com", "password": PASSWORD, "first_name": "x" * 151},
         {"first_name": ["Ensure this field has no more than 150 characters."]}),
        ({"email": "a@example.com", "password": PASSWORD, "last_name": None},
         {"last_name": ["This field may not be null."]}),
    ],
)
def test_register_validation_errors(api, body, errors):
    response = api.post(REGISTER, body, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert User.objects.count() == 0


def test_register_ignores_stale_session_cookie_csrf(customer):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer)
    response = client.post(REGISTER, {"email": "csrf@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 201


def test_register_cannot_make_staff(api):
    response = api.post(REGISTER, {"email": "s@example.com", "password": PASSWORD, "is_staff": True},
                        format="json")
    assert response.status_code == 201
    assert response.json()["user"]["is_staff"] is False
    assert User.objects.get(username="s@example.com").is_staff is False


# --- login / logout -----------------------------------------------------------------------------------------------


def test_login_returns_token_and_user(api, customer):
    response = api.post(LOGIN, {"email": " Alice@Example.com ", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["token"] == Token.objects.get(user=customer).key
    assert body["user"]["id"] == customer.pk
    assert body["user"]["email"] == "alice@example.com"
    assert body["user"]["first_name"] == "Alice"


def test_login_twice_returns_same_token(api, customer):
    first = api.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD}, format="json").json()["token"]
    second = api.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD}, format="json").json()["token"]
    assert first == second
    assert Token.objects.filter(user=customer).count() == 1


def test_login_also_opens_a_session(api, customer):
    api.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD}, format="json")
    assert "sessionid" in api.cookies
    response = api.get(ME)  # no token header: the session cookie alone
    assert response.status_code == 200
    assert response.json()["id"] == customer.pk


@pytest.mark.parametrize(
    ("email", "password"),
    [("alice@example.com", "wrong-password"), ("nobody@example.com", PASSWORD), ("alice", PASSWORD)],
)
def test_login_bad_credentials(api, customer, email, password):
    response = api.post(LOGIN, {"email": email, "password": password}, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not Token.objects.filter(user=customer).exists()


def test_login_inactive_user_refused(api, customer):
    customer.is_active = False
    customer.save()
    response = api.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}


def test_login_missing_fields(api):
    response = api.post(LOGIN, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"email": ["This field is required."], "password": ["This field is required."]}


def test_login_form_encoded(api, customer):
    response = api.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD})  # multipart
    assert response.status_code == 200
    assert response.json()["user"]["id"] == customer.pk


def test_logout_deletes_token(api, customer, client_for):
    client = client_for(customer)
    token_key = Token.objects.get(user=customer).key
    response = client.post(LOGOUT)
    assert response.status_code == 204
    assert response.content == b""
    assert not Token.objects.filter(key=token_key).exists()
    after = client.get(ME)
    assert after.status_code == 401
    assert after.json() == {"detail": "Invalid token."}


def test_logout_ends_session(api, customer):
    api.post(LOGIN, {"email": "alice@example.com", "password": PASSWORD}, format="json")
    assert api.get(ME).status_code == 200
    assert api.post(LOGOUT).status_code == 204
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


def test_logout_anonymous_401(api):
    response = api.post(LOGOUT)
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert response["WWW-Authenticate"] == "Token"


def test_logout_leaves_other_users_tokens(customer, other_customer, client_for):
    client_for(other_customer)
    assert client_for(customer).post(LOGOUT).status_code == 204
    assert Token.objects.filter(user=other_customer).exists()


# --- me -----------------------------------------------------------------------------------------------------------


def test_me_anonymous_401(api):
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert response["WWW-Authenticate"] == "Token"


def test_me_bad_token_401(api):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_me_returns_caller(customer, client_for):
    response = client_for(customer).get(ME)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == customer.pk
    assert body["email"] == "alice@example.com"
    assert body["first_name"] == "Alice"
    assert body["is_staff"] is False


def test_me_staff_flag(staff, client_for):
    assert client_for(staff).get(ME).json()["is_staff"] is True


def test_me_patch_updates_names(customer, client_for):
    response = client_for(customer).patch(ME, {"first_name": "Alicia", "last_name": "Smith"}, format="json")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Alicia"
    assert response.json()["last_name"] == "Smith"
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("Alicia", "Smith")


def test_me_patch_ignores_read_only_fields(customer, client_for):
    response = client_for(customer).patch(
        ME, {"email": "evil@example.com", "is_staff": True, "id": 999, "first_name": "A"}, format="json"
    )
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.email == "alice@example.com"
    assert customer.username == "alice@example.com"
    assert customer.is_staff is False
    assert response.json()["id"] == customer.pk
    assert response.json()["is_staff"] is False


def test_me_patch_empty_body_changes_nothing(customer, client_for):
    response = client_for(customer).patch(ME, {}, format="json")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Alice"


def test_me_patch_too_long(customer, client_for):
    response = client_for(customer).patch(ME, {"first_name": "x" * 151}, format="json")
    assert response.status_code == 400
    assert response.json() == {"first_name": ["Ensure this field has no more than 150 characters."]}
    customer.refresh_from_db()
    assert customer.first_name == "Alice"


def test_me_patch_anonymous_401(api):
    response = api.patch(ME, {"first_name": "X"}, format="json")
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


@pytest.mark.parametrize("method", ["put", "delete", "post"])
def test_me_other_methods_405(customer, client_for, method):
    response = getattr(client_for(customer), method)(ME, {}, format="json")
    assert response.status_code == 405
    assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}


# --- addresses ------------------------------------------------------------------------------------------------------


def test_addresses_anonymous_401(api):
    for response in (api.get(ADDRESSES), api.post(ADDRESSES, address_body(), format="json")):
        assert response.status_code == 401
        assert response.json() == NOT_AUTHENTICATED


def test_address_create_first_is_default(customer, client_for):
    response = client_for(customer).post(ADDRESSES, address_body(), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["is_default"] is True
    assert body["country"] == "DE"  # upper-cased
    assert body["line2"] == ""
    assert body["phone"] == ""
    assert set(body) == {"id", "full_name", "line1", "line2", "city", "postal_code", "country", "phone",
                         "is_default", "created_at"}
    address = Address.objects.get(pk=body["id"])
    assert address.user == customer
    assert address.country == "DE"


def test_address_create_ignores_user_in_body(customer, other_customer, client_for):
    response = client_for(customer).post(ADDRESSES, address_body(user=other_customer.pk), format="json")
    assert response.status_code == 201
    assert Address.objects.get(pk=response.json()["id"]).user == customer


def test_address_second_not_default_by_default(customer, client_for, make_address):
    first = make_address(customer, is_default=True)
    response = client_for(customer).post(ADDRESSES, address_body(), format="json")
    assert response.status_code == 201
    assert response.json()["is_default"] is False
    first.refresh_from_db()
    assert first.is_default is True


def test_address_new_default_clears_old(customer, other_customer, client_for, make_address):
    first = make_address(customer, is_default=True)
    others = make_address(other_customer, is_default=True)
    response = client_for(customer).post(ADDRESSES, address_body(is_default=True), format="json")
    assert response.status_code == 201
    assert response.json()["is_default"] is True
    first.refresh_from_db()
    others.refresh_from_db()
    assert first.is_default is False
    assert others.is_default is True  # another user's default is not touched
    assert Address.objects.filter(user=customer, is_default=True).count() == 1


def test_address_patch_to_default_switches(customer, client_for, make_address):
    first = make_address(customer, is_default=True)
    second = make_address(customer)
    response = client_for(customer).patch(f"{ADDRESSES}{second.pk}/", {"is_default": True}, format="json")
    assert response.status_code == 200
    assert response.json()["is_default"] is True
    first.refresh_from_db()
    assert first.is_default is False
    assert list(Address.objects.filter(user=customer, is_default=True)) == [second]


def test_address_only_one_stays_default(customer, client_for, make_address):
    only = make_address(customer, is_default=True)
    response = client_for(customer).patch(f"{ADDRESSES}{only.pk}/", {"is_default": False}, format="json")
    assert response.status_code == 200
    assert response.json()["is_default"] is True


def test_address_list_only_own_in_id_order(customer, other_customer, client_for, make_address):
    a = make_address(customer, city="A")
    make_address(other_customer, city="X")
    b = make_address(customer, city="B")
    response = client_for(customer).get(ADDRESSES)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)  # not paginated
    assert [item["id"] for item in body] == [a.pk, b.pk]
    assert [item["city"] for item in body] == ["A", "B"]


def test_address_retrieve_own(customer, client_for, make_address):
    address = make_address(customer, city="Lyon")
    response = client_for(customer).get(f"{ADDRESSES}{address.pk}/")
    assert response.status_code == 200
    assert response.json()["city"] == "Lyon"


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_someone_elses_address_is_404(customer, other_customer, client_for, make_address, method):
    address = make_address(other_customer, city="Oslo")
    body = address_body(city="Hacked") if method != "get" else None
    response = getattr(client_for(customer), method)(f"{ADDRESSES}{address.pk}/", body, format="json")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    address.refresh_from_db()
    assert address.city == "Oslo"


def test_address_missing_is_404(customer, client_for):
    response = client_for(customer).get(f"{ADDRESSES}424242/")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_address_put_replaces(customer, client_for, make_address):
    address = make_address(customer, line2="Flat 3")
    response = client_for(customer).put(f"{ADDRESSES}{address.pk}/", address_body(city="Hamburg"), format="json")
    assert response.status_code == 200
    address.refresh_from_db()
    assert address.city == "Hamburg"
    assert address.country == "DE"
    assert address.line2 == "Flat 3"  # not sent: the model default does not overwrite on update


def test_address_delete(customer, client_for, make_address):
    address = make_address(customer)
    response = client_for(customer).delete(f"{ADDRESSES}{address.pk}/")
    assert response.status_code == 204
    assert not Address.objects.filter(pk=address.pk).exists()


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"country": "Germany"}, {"country": ["Ensure this field has no more than 2 characters.",
                                              "Use a two-letter country code (ISO 3166-1)."]}),
        ({"country": "D1"}, {"country": ["Use a two-letter country code (ISO 3166-1)."]}),
        ({"country": ""}, {"country": ["This field may not be blank."]}),
        ({"full_name": "x" * 121}, {"full_name": ["Ensure this field has no more than 120 characters."]}),
        ({"postal_code": "1" * 21}, {"postal_code": ["Ensure this field has no more than 20 characters."]}),
        ({"phone": "1" * 31}, {"phone": ["Ensure this field has no more than 30 characters."]}),
        ({"city": None}, {"city": ["This field may not be null."]}),
        ({"is_default": "perhaps"}, {"is_default": ["Must be a valid boolean."]}),
    ],
)
def test_address_validation(customer, client_for, overrides, errors):
    response = client_for(customer).post(ADDRESSES, address_body(**overrides), format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert not Address.objects.exists()


def test_address_required_fields(customer, client_for):
    response = client_for(customer).post(ADDRESSES, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {name: ["This field is required."]
                               for name in ("full_name", "line1", "city", "postal_code", "country")}
