"""The limits on request heads as settings: defaults, the environment variables that change them, and the
errors that name a bad one. (What the limits do to requests is tested against a real router process in
tests/router/e2e/test_http_conformance.py.)"""

from __future__ import annotations

import pytest

from router.http.limits import HttpLimits
from router.http.protocol import VALID_HOST, RouterHttpProtocol


def test_the_defaults() -> None:
    limits = HttpLimits.from_env({})
    assert limits == HttpLimits(max_line=8192, max_head=65536, max_headers=100, head_timeout=5.0, keep_alive=5)


def test_the_environment_overrides_each_limit() -> None:
    limits = HttpLimits.from_env({"ROUTER_MAX_HEADER_LINE": "16KiB", "ROUTER_MAX_HEADER_BYTES": "131072",
                                  "ROUTER_MAX_HEADERS": "50", "ROUTER_HEAD_TIMEOUT": "2.5",
                                  "ROUTER_KEEP_ALIVE_TIMEOUT": "30", "ROUTER_UNRELATED": "x"})
    assert limits == HttpLimits(max_line=16384, max_head=131072, max_headers=50, head_timeout=2.5, keep_alive=30)


def test_an_empty_variable_means_the_default() -> None:
    assert HttpLimits.from_env({"ROUTER_HEAD_TIMEOUT": " "}) == HttpLimits()


@pytest.mark.parametrize(("env", "message"), [
    ({"ROUTER_MAX_HEADER_LINE": "8 kilobytes"}, "ROUTER_MAX_HEADER_LINE: '8 kilobytes' is not a size"),
    ({"ROUTER_MAX_HEADERS": "1.5"}, "ROUTER_MAX_HEADERS: '1.5' is not a whole number"),
    ({"ROUTER_HEAD_TIMEOUT": "soon"}, "ROUTER_HEAD_TIMEOUT: 'soon' is not a number of seconds"),
    ({"ROUTER_HEAD_TIMEOUT": "0"}, "ROUTER_HEAD_TIMEOUT: 0.0 is not between 0 (excluded) and 600 seconds"),
    ({"ROUTER_HEAD_TIMEOUT": "nan"}, "ROUTER_HEAD_TIMEOUT: nan is not between"),
    ({"ROUTER_MAX_HEADER_LINE": "100KiB"}, "ROUTER_MAX_HEADER_LINE: 102400 must be 256 bytes or more and at most "
                                           "ROUTER_MAX_HEADER_BYTES (65536)"),
    ({"ROUTER_MAX_HEADERS": "0"}, "ROUTER_MAX_HEADERS: 0 is not between 1 and 10000"),
    ({"ROUTER_KEEP_ALIVE_TIMEOUT": "0"}, "ROUTER_KEEP_ALIVE_TIMEOUT: 0 is not between 1 and 3600 seconds"),
])
def test_a_bad_value_is_refused_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        HttpLimits.from_env(env)


def test_a_configured_protocol_carries_its_limits_and_leaves_the_base_alone() -> None:
    limits = HttpLimits(max_headers=7)
    configured = RouterHttpProtocol.configured(limits)
    assert issubclass(configured, RouterHttpProtocol)
    assert configured.limits is limits
    assert RouterHttpProtocol.limits == HttpLimits()


@pytest.mark.parametrize("host", [b"shop.example", b"shop.example:8080", b"127.0.0.1", b"[::1]:80", b"a_b.local"])
def test_valid_hosts(host: bytes) -> None:
    assert VALID_HOST.match(host)


@pytest.mark.parametrize("host", [b"", b"a b", b"a/b", b"a@b", b"a,b", b"a:", b"a:1x", b"[::1", b"a%2eb", b"a\\b",
                                  b"a:123456", b"a\x00b", b"a.example\n"])
def test_invalid_hosts(host: bytes) -> None:
    assert not VALID_HOST.match(host)
