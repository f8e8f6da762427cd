"""The accounts plan end to end, as real processes under concurrent traffic: monolith (gunicorn), router, the
accounts service, the plan's sync follower, and `manage.py strangler run|rollback` driving them (its prepared
``accounts_gateway`` hook switching the monolith's login page inside the cutover's freeze).

Two kinds of load run throughout: the shop's traffic (scripts/traffic.py: browsing, carts, checkouts, whose callers
the router's identity bridge resolves through ``/api/accounts/me/``, so at whoever owns the accounts) and the login
ledger (scripts/ledger/logins.py: token holders who log in, use and keep address books, and log out; page visitors
with session cookies; a registrant), recording what each was told. The plan runs to its cutover, is rolled back,
runs to its cutover again (the plan has no decommission yet: the monolith keeps reading its copy of the users).
Held to (issue 16's "Done means"):

- no failed request apart from the write-freeze 503s; the four tables verified equal at each cutover;
- a token and a session cookie issued before the cutover work after it and after the rollback;
- a password changed at the service works on the monolith's login page after the cutover and after the rollback
  (the rollback keeps every password and token issued on the service);
- a logged-out token refused through the router within the documented bound (the ledger's check);
- the login throttle answers 429 with Retry-After at the service, as the monolith does;
- every token, session, registration and address book as the ledger's record says, through the router and at the
  owner.

SQLite only: its stack is SQLite whatever the suite's database (scripts/test.sh leaves the minutes-long plan runs
to the SQLite pass).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from scripts.ledger.logins import PASSWORD, LoginLedger
from scripts.stack import Ports, Stack
from scripts.traffic import Traffic
from tests.e2e.plan_runs import gateway_mode, run, settle
from tests.support.plans import smaller_gates

pytestmark = pytest.mark.slow
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TABLES = {"users", "addresses", "tokens", "login_failures"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("accounts-migration") / "var", ports=Ports.free())
    try:
        running.setup_monolith("--products", "60", "--users", "14", "--orders", "5")
        running.start_monolith()
        running.start_router()
        yield running
    finally:
        running.stop()


def run_to(stack: Stack, traffic: Traffic, ledger: LoginLedger, steps: tuple[str, ...]) -> None:
    for step in steps:
        traffic.step = ledger.step = step
        outcome = run(stack, "run", str(stack.accounts_plan_path), "--to", step, "--yes")
        assert outcome["ok"] and outcome["at"] == step, outcome
        print(f"accounts {step}: {[(s['step'], s['seconds']) for s in outcome['steps']]}")


def backends(stack: Stack) -> set[str]:
    live = run(stack, "status", str(stack.accounts_plan_path))["live"]["routes"]
    return {live[name]["backend"] for name in ("accounts-reads", "accounts-writes")}


def api_login(base: str, email: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{base}/api/accounts/login/", json={"email": email, "password": password}, timeout=30)


def page_login(base: str, email: str, password: str) -> tuple[httpx.Client, httpx.Response]:
    """The monolith's login page, as a browser posts it: the client (holding the cookies) and the post's answer."""
    http = httpx.Client(base_url=base, timeout=30)
    form = http.get("/accounts/login/")
    found = CSRF.search(form.text)
    assert form.status_code == 200 and found is not None, form.text[:300]
    answer = http.post("/accounts/login/", data={"username": email, "password": password,
                                                 "csrfmiddlewaretoken": found.group(1)})
    return http, answer


def me(base: str, *, token: str | None = None, client: httpx.Client | None = None) -> httpx.Response:
    if client is not None:
        return client.get("/api/accounts/me/")
    return httpx.get(f"{base}/api/accounts/me/", headers={"Authorization": f"Token {token}"}, timeout=30)


def assert_ledger(ledger: LoginLedger, *bases: str) -> None:
    for base in bases:
        report = ledger.check(base)
        print(f"login ledger at {base}: {report.counts}; {report.tokens} live tokens, {report.sessions} sessions, "
              f"{report.registered} registered, {report.addresses} addresses; revoked after {report.revocations}")
        assert report.ok, report.problems[:10]


def assert_credentials(stack: Stack, early: tuple[str, int], kept: tuple[httpx.Client, int], changed: str,
                       new_password: str) -> None:
    """What must survive every move: the token and the session issued before anything moved, and the password
    changed at the service (on the login page and through the API; the old one refused)."""
    token, user = early
    assert (me(stack.router_url, token=token).status_code, me(stack.router_url, token=token).json()["id"]) == \
        (200, user)
    client, session_user = kept
    answer = me(stack.router_url, client=client)
    assert (answer.status_code, answer.json().get("id")) == (200, session_user), answer.text[:300]
    page, posted = page_login(stack.router_url, changed, new_password)
    assert posted.status_code == 302, posted.text[:300]
    assert me(stack.router_url, client=page).json()["email"] == changed
    page.close()
    assert api_login(stack.router_url, changed, new_password).status_code == 200
    _, refused = page_login(stack.router_url, changed, PASSWORD)
    assert refused.status_code == 200 and "correct" in refused.text, refused.text[:300]   # the form, again


def test_the_accounts_move_under_traffic_come_back_and_move_for_good(stack: Stack) -> None:
    plan = str(stack.accounts_plan_path)
    smaller_gates(stack.accounts_plan_path)   # its gates run twice
    run(stack, "run", plan, "--to", "verify", "--yes")
    stack.start_accounts_service()
    stack.start_follower(stack.accounts_plan_path, "accounts-follower")

    # Issued before anything moves: a token, and a session through the login page (both kept to the end).
    early = api_login(stack.router_url, "customer11@example.com").json()
    early_token = (early["token"], int(early["user"]["id"]))
    kept_client, posted = page_login(stack.router_url, "customer12@example.com", PASSWORD)
    assert posted.status_code == 302, posted.text[:300]
    kept = (kept_client, int(me(stack.router_url, client=kept_client).json()["id"]))

    traffic = Traffic(stack.router_url, workers=2)
    ledger = LoginLedger(stack.router_url, users=[f"customer{n}@example.com" for n in (6, 7, 8)],
                         page_users=["customer9@example.com", "customer10@example.com"], pause=0.1,
                         logout_every=40, login_every=6.0)
    traffic.start()
    ledger.start()
    changed, new_password = "customer13@example.com", "a-new-Passw0rd-for-13"
    try:
        run_to(stack, traffic, ledger, ("contract", "shadow", "cutover"))
        traffic.step = ledger.step = "after-cutover"
        status = run(stack, "status", plan)
        print("cutover figures:", {k: v for k, v in status["figures"]["cutover"].items() if k != "verify"})
        verify = status["figures"]["cutover"]["verify"]
        assert verify["ok"] and {t["target"] for t in verify["tables"]} == TABLES, verify
        assert backends(stack) == {"accounts"}
        assert gateway_mode(stack, "accounts") == "remote"

        # A password changed at the service (its token kept), then the login page and the API with it.
        token = api_login(stack.router_url, changed).json()["token"]
        answer = httpx.post(f"{stack.router_url}/api/accounts/password/", timeout=30,
                            headers={"Authorization": f"Token {token}"},
                            json={"old_password": PASSWORD, "new_password": new_password})
        assert answer.status_code == 204, answer.text
        assert me(stack.router_url, token=token).status_code == 200
        assert_credentials(stack, early_token, kept, changed, new_password)
        # The throttle at the service: the sixth try of a wrong password within its window is 429.
        tries = [api_login(stack.router_url, "customer14@example.com", "wrong").status_code for _ in range(6)]
        assert tries == [400] * 5 + [429], tries
        settle(lambda: ledger.counts["acknowledged"] >= 20)
        written = ledger.counts["acknowledged"]
        settle(lambda: ledger.counts["acknowledged"] >= written + 15)

        # Back to the monolith, with every password and token issued at the service.
        traffic.step = ledger.step = "rollback"
        outcome = run(stack, "rollback", plan, "--to", "verify")
        assert outcome["ok"] and outcome["at"] == "verify", outcome
        traffic.step = ledger.step = "after-rollback"
        assert gateway_mode(stack, "accounts") == "local"
        assert backends(stack) == {"monolith"}
        assert_credentials(stack, early_token, kept, changed, new_password)
        assert api_login(stack.router_url, "customer14@example.com", "wrong").status_code == 429  # still counted
        written = ledger.counts["acknowledged"]
        settle(lambda: ledger.counts["acknowledged"] >= written + 15)
        ledger.stop()
        assert_ledger(ledger, stack.router_url, stack.monolith_http)
        ledger.start()

        # And out again (no decommission: the monolith still reads its copy of the users; the plan says why).
        run_to(stack, traffic, ledger, ("contract", "shadow", "cutover"))
        traffic.step = ledger.step = "after-second-cutover"
        assert gateway_mode(stack, "accounts") == "remote"
        assert_credentials(stack, early_token, kept, changed, new_password)
        written = ledger.counts["acknowledged"]
        settle(lambda: ledger.counts["acknowledged"] >= written + 15)
    finally:
        ledger.stop()
        traffic.stop()

    print(f"traffic: {dict(traffic.tally.by_step)}")
    assert traffic.tally.total("failed") == 0, traffic.tally.failures[:10]
    assert_ledger(ledger, stack.router_url, stack.accounts_http)
    report = ledger.check()
    assert report.counts["acknowledged"] > 40 and report.counts["ambiguous"] == 0, report.counts
    assert report.revocations, "no token was logged out under the ledger"
    ledger.close()
    kept_client.close()
