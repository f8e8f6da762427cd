"""The canary's pure parts: buckets, membership, and which key a request is sticky by."""

from __future__ import annotations

import asyncio

import pytest

from router.addons.canary import BUCKETS, Canary, bucket, in_canary
from router.config import parse_data
from router.control.state import TableHolder
from router.proxy.flow import Flow

KEYS = [f"session:{n:05d}-{n * 7919 % 10007}" for n in range(5000)]


def test_bucket_is_deterministic_and_in_range() -> None:
    buckets = [bucket("catalog", key) for key in KEYS]
    assert buckets == [bucket("catalog", key) for key in KEYS]
    assert all(0 <= b < BUCKETS for b in buckets)
    # 5,000 keys in 10,000 buckets: about 10,000 * (1 - e**-0.5) = 3,935 distinct ones if the hash is uniform
    assert len(set(buckets)) > 3800


def test_bucket_is_salted_by_backend() -> None:
    same = sum(bucket("catalog", key) == bucket("orders", key) for key in KEYS)
    assert same < 10  # two backends' cohorts are independent


def test_nobody_at_zero_and_everybody_at_a_hundred() -> None:
    assert not any(in_canary(0, "catalog", key) for key in KEYS)
    assert all(in_canary(100, "catalog", key) for key in KEYS)


@pytest.mark.parametrize("percent", [1, 10, 30, 50, 90])
def test_the_share_is_about_the_percentage(percent: float) -> None:
    share = sum(in_canary(percent, "catalog", key) for key in KEYS) / len(KEYS)
    assert abs(share - percent / 100) < 0.025


def test_fractional_percentages_count() -> None:
    # 0.5% is 50 buckets of 10,000: exactly the keys whose bucket is below 50.
    assert [in_canary(0.5, "catalog", k) for k in KEYS] == [bucket("catalog", k) < 50 for k in KEYS]


def test_raising_the_percentage_only_adds_people() -> None:
    previous: set[str] = set()
    for percent in (0, 1, 5, 10, 25, 50, 75, 99, 100):
        members = {key for key in KEYS if in_canary(percent, "catalog", key)}
        assert previous <= members, f"someone left the canary when it grew to {percent}%"
        previous = members
    assert previous == set(KEYS)


def _flow(holder: TableHolder, path: str, *, cookie: str | None = None, user_id: str | None = None,
          client: str = "10.0.0.1") -> Flow:
    table = holder.current.table
    headers = [(b"cookie", cookie.encode())] if cookie else []
    match = table.match("GET", path)
    flow = Flow(method="GET", path=path, query=b"", headers=headers, client=client, scheme="http", host="shop",
                request_id="r1", match=match, backend=match.backend, default_backend=table.default)
    flow.user_id = user_id
    return flow


def _holder(canary: float, *, session_cookie: str | None = None, key: list[str] | None = None) -> TableHolder:
    raw: dict[str, object] = {
        "default": "monolith",
        "backends": {"monolith": {"targets": "http://127.0.0.1:1"}, "catalog": {"targets": "http://127.0.0.1:2"}},
        "routes": {"reads": {"path": "/api/catalog/", "backend": "catalog", "canary": canary},
                   "plain": {"path": "/api/orders/", "backend": "catalog"}},
    }
    if session_cookie:
        raw["identity"] = {"resolve_url": "http://127.0.0.1:1/me/", "session_cookie": session_cookie}
    if key is not None:
        raw["canary"] = {"key": key}
    holder = TableHolder()
    holder.swap(parse_data(raw), origin="test")
    return holder


def test_sticky_key_prefers_user_then_session_then_client() -> None:
    canary = Canary(_holder(50))
    both = _flow(canary.tables, "/api/catalog/x", cookie="a=1; sessionid=s3ss", user_id="42")
    assert canary.sticky_key(both) == "user:42"
    session = _flow(canary.tables, "/api/catalog/x", cookie="a=1; sessionid=s3ss")
    assert canary.sticky_key(session) == "session:s3ss"
    anonymous = _flow(canary.tables, "/api/catalog/x", cookie="other=1", client="10.1.2.3")
    assert canary.sticky_key(anonymous) == "client:10.1.2.3"


def test_sticky_key_uses_the_configured_session_cookie() -> None:
    canary = Canary(_holder(50, session_cookie="shop_session"))
    flow = _flow(canary.tables, "/api/catalog/x", cookie="sessionid=wrong; shop_session=right")
    assert canary.sticky_key(flow) == "session:right"


@pytest.mark.parametrize(("percent", "expected"), [(0, "monolith"), (100, "catalog")])
def test_request_moves_the_rest_to_the_default(percent: float, expected: str) -> None:
    canary = Canary(_holder(percent))
    for n in range(50):
        flow = _flow(canary.tables, "/api/catalog/x", cookie=f"sessionid=s{n}")
        assert asyncio.run(canary.request(flow)) is None
        assert flow.backend == expected
        assert flow.in_canary is (percent == 100)


def test_request_decides_by_the_same_bucket_as_in_canary() -> None:
    canary = Canary(_holder(30))
    for n in range(200):
        flow = _flow(canary.tables, "/api/catalog/x", cookie=f"sessionid=s{n}")
        asyncio.run(canary.request(flow))
        assert flow.in_canary is in_canary(30, "catalog", f"session:s{n}")
        assert flow.backend == ("catalog" if flow.in_canary else "monolith")


def test_routes_without_a_canary_are_left_alone() -> None:
    canary = Canary(_holder(0))
    plain = _flow(canary.tables, "/api/orders/1")
    asyncio.run(canary.request(plain))
    assert (plain.backend, plain.in_canary) == ("catalog", None)
    unrouted = _flow(canary.tables, "/elsewhere")
    asyncio.run(canary.request(unrouted))
    assert (unrouted.backend, unrouted.in_canary) == ("monolith", None)


def test_a_configured_key_buckets_cookieless_clients_by_a_header_before_their_address() -> None:
    """Clients without a session (an app, a script behind one NAT address) are told apart by a device header."""
    canary = Canary(_holder(50, key=["user", "header:X-Device-Id", "cookie:sessionid", "client"]))
    device = _flow(canary.tables, "/api/catalog/x", client="10.9.9.9")
    device.headers.append((b"x-device-id", b"d-17"))
    assert canary.sticky_key(device) == "header:x-device-id:d-17"
    assert canary.sticky_key(_flow(canary.tables, "/api/catalog/x", cookie="sessionid=s1")) == "session:s1"
    assert canary.sticky_key(_flow(canary.tables, "/api/catalog/x", user_id="7")) == "user:7"
    assert canary.sticky_key(_flow(canary.tables, "/api/catalog/x", client="10.1.1.1")) == "client:10.1.1.1"
    # Sharing an address no longer puts everybody behind it on one side.
    sides = {in_canary(50, "catalog", canary.sticky_key(_with_device(canary, n))) for n in range(40)}
    assert sides == {True, False}


def _with_device(canary: Canary, n: int) -> Flow:
    flow = _flow(canary.tables, "/api/catalog/x", client="10.0.0.1")
    flow.headers.append((b"x-device-id", f"device-{n}".encode()))
    return flow


@pytest.mark.parametrize(("key", "problem"), [
    (["session"], "canary.key[0]: 'session' is not a canary key (user, cookie:NAME, header:NAME or client)"),
    (["cookie:bad cookie"], "canary.key[0]: 'cookie:bad cookie': 'bad cookie' is not a cookie name"),
    (["header:x-identity-token"], "canary.key[0]: 'header:x-identity-token': x-identity-token is removed before "
                                  "routing"),
    ([], "canary.key: "),
])
def test_a_bad_canary_key_is_refused_naming_it(key: list[str], problem: str) -> None:
    from router.exceptions import ConfigError

    with pytest.raises(ConfigError) as err:
        _holder(50, key=key)
    assert any(problem in p for p in err.value.problems), err.value.problems
