"""Routes files as a careless operator writes them (issue 11): each broken file is refused naming the file,
the line or the key, and the value (truncated), quickly, and never by an exception other than ConfigError."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from router import config as config_module
from router.config import MAX_BYTES, MAX_PROBLEM, MAX_PROBLEMS, MAX_ROUTES, load, parse, parse_bytes
from router.exceptions import ConfigError

SRC = "routes.yaml"

GOOD = """\
default: monolith
backends:
  monolith:
    targets: [http://127.0.0.1:8000]
  catalog:
    targets: [http://127.0.0.1:8101]
    timeouts: {connect: 1, read: 10}
routes:
  catalog:
    path: /api/catalog/
    backend: catalog
  orders:
    path: /api/orders/
    backend: monolith
identity:
  resolve_url: http://127.0.0.1:8000/api/accounts/me/
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text, source=SRC)
    return caught.value.problems


def one_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def test_the_good_file_loads() -> None:
    assert parse(GOOD, source=SRC).table.route("catalog") is not None


# -- duplicates ------------------------------------------------------------------------------------------------

def test_a_duplicate_route_name_is_refused_naming_both_lines() -> None:
    # The incident: a second "catalog" block pasted below silently replaced the first on a hot reload.
    text = GOOD.replace("identity:", "  catalog:\n    path: /api/catalog/\n    backend: monolith\nidentity:")
    assert one_problem(text) == (
        "routes.yaml: line 15, column 3: routes.catalog: route 'catalog' is defined twice (first at line 9); "
        "YAML would silently keep only the second")


def test_a_duplicate_backend_name_is_refused() -> None:
    text = GOOD.replace("routes:", "  monolith: {targets: [http://127.0.0.1:9000]}\nroutes:")
    assert one_problem(text) == (
        "routes.yaml: line 8, column 3: backends.monolith: backend 'monolith' is defined twice (first at line 3); "
        "YAML would silently keep only the second")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("    backend: catalog\n", "    backend: catalog\n    backend: monolith\n"),
         "line 12, column 5: routes.catalog.backend: duplicate key 'backend' (first at line 11)"),
        (GOOD + "default: catalog\n",
         "line 17, column 1: default: duplicate key 'default' (first at line 1)"),
        (GOOD.replace("{connect: 1, read: 10}", "{connect: 1, read: 10, connect: 5}"),
         "line 7, column 38: backends.catalog.timeouts.connect: duplicate key 'connect' (first at line 7)"),
        (GOOD.replace("[http://127.0.0.1:8000]", "[{a: 1, a: 2}]"),
         "line 4, column 22: backends.monolith.targets[0].a: duplicate key 'a' (first at line 4)"),
        # equal once read, written differently: still one key
        (GOOD.replace("routes:\n", "routes:\n  1: {path: /one/, backend: catalog}\n"
                                   "  0x1: {path: /two/, backend: catalog}\n"),
         "line 10, column 3: routes.0x1: route '0x1' is defined twice (first at line 9); "
         "YAML would silently keep only the second"),
    ],
)
def test_any_duplicate_key_is_refused_with_its_path_and_lines(text: str, expected: str) -> None:
    assert one_problem(text) == f"routes.yaml: {expected}"


# -- what would hang or crash the reader -----------------------------------------------------------------------

ALIAS_BOMB = GOOD + textwrap.dedent("""\
    bomb:
      a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
      h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
      i: [*h, *h, *h, *h, *h, *h, *h, *h, *h]
    """)


def test_an_alias_bomb_is_refused_at_its_first_alias_in_milliseconds() -> None:
    started = time.perf_counter()
    problem = one_problem(ALIAS_BOMB)
    assert time.perf_counter() - started < 0.5
    assert problem.startswith("routes.yaml: line 19, column 10: alias *a: aliases are not allowed in this file")
    assert "lol" not in problem  # nothing expanded, nothing echoed
    assert len(problem) <= MAX_PROBLEM


def test_any_alias_is_refused_even_a_harmless_one() -> None:
    text = GOOD.replace("targets: [http://127.0.0.1:8000]", "targets: &t [http://127.0.0.1:8000]").replace(
        "targets: [http://127.0.0.1:8101]", "targets: *t")
    assert "alias *t: aliases are not allowed" in one_problem(text)


@pytest.mark.parametrize("depth", [65, 200, 100_000])
def test_deep_nesting_is_refused_without_a_recursion_error(depth: int) -> None:
    text = GOOD + "deep: " + "[" * depth + "]" * depth + "\n"
    assert one_problem(text) == "routes.yaml: line 17, column 70: nested deeper than 64 levels"


def test_deep_block_nesting_is_refused_too() -> None:
    text = GOOD + "".join(f"{'  ' * level}k{level}:\n" for level in range(200))
    assert "nested deeper than 64 levels" in one_problem(text)


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(GOOD + "# " + "x" * 2_000_000 + "\n")
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert time.perf_counter() - started < 0.5
    assert caught.value.problems == [
        f"{path}: larger than {MAX_BYTES:,} bytes; a config file this big is a mistake"]
    assert config_module.read(path) == path.read_bytes()[:MAX_BYTES + 1]  # never reads more than that


def test_text_over_the_size_limit_is_refused_by_parse_too() -> None:
    assert one_problem(GOOD + "# " + "é" * (MAX_BYTES // 2) + "\n") == \
        f"routes.yaml: larger than {MAX_BYTES:,} bytes; a config file this big is a mistake"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (GOOD.encode() + b"# caf\xe9\n", f"not UTF-8: byte 0xe9 at offset {len(GOOD) + 5} (line 17)"),
        (b"\xff\xfe" + GOOD.encode("utf-16-le"), "not UTF-8: byte 0xff at offset 0 (line 1)"),
        (GOOD.encode() + b"x: \x00\n", "line 17: character #x0000 is not allowed in YAML"),
    ],
)
def test_bytes_that_are_not_utf8_text_are_refused_with_the_line(data: bytes, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_bytes(data, source=SRC)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{SRC}: {expected}")


def test_a_byte_order_mark_is_fine() -> None:
    assert parse_bytes(b"\xef\xbb\xbf" + GOOD.encode(), source=SRC).table.route("orders") is not None


# -- strict types ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("{connect: 1, read: 10}", "{connect: true, read: 10}",
         "backends.catalog.timeouts.connect: expected a number, got True"),
        ("{connect: 1, read: 10}", "{connect: 1, read: false}",
         "backends.catalog.timeouts.read: expected a number, got False"),
        ("{connect: 1, read: 10}", "{connect: '1', read: 10}",
         "backends.catalog.timeouts.connect: expected a number, got '1'"),
        ("{connect: 1, read: 10}", "{connect: .nan, read: 10}",
         "backends.catalog.timeouts.connect: expected a finite number, got nan"),
        ("[http://127.0.0.1:8101]\n", "[http://127.0.0.1:8101]\n    health: {interval: yes}\n",
         "backends.catalog.health.interval: expected a number, got True"),
        ("[http://127.0.0.1:8101]\n", "[http://127.0.0.1:8101]\n    circuit: {failures: true}\n",
         "backends.catalog.circuit.failures: expected an integer, got True"),
        ("[http://127.0.0.1:8101]\n", "[http://127.0.0.1:8101]\n    circuit: {failures: 2.5}\n",
         "backends.catalog.circuit.failures: expected an integer, got 2.5"),
        ("[http://127.0.0.1:8101]\n", "[http://127.0.0.1:8101]\n    circuit: {reset_after: on}\n",
         "backends.catalog.circuit.reset_after: expected a number, got True"),
        ("    backend: catalog\n", "    backend: catalog\n    canary: true\n",
         "routes.catalog.canary: True is not a percentage (0-100)"),
        ("    backend: catalog\n", "    backend: catalog\n    shadow: {backend: monolith, queue: true}\n",
         "routes.catalog.shadow.queue: expected an integer, got True"),
        ("    backend: catalog\n", "    backend: catalog\n    shadow: {backend: monolith, rate: false}\n",
         "routes.catalog.shadow.rate: expected a number, got False"),
        ("    backend: catalog\n", "    backend: catalog\n    shadow_writes: 'yes'\n",
         "routes.catalog.shadow_writes: expected true or false, got 'yes'"),
        ("    backend: catalog\n", "    backend: catalog\n    shadow_writes: 1\n",
         "routes.catalog.shadow_writes: expected true or false, got 1"),
        ("    backend: catalog\n", "    backend: 7\n", "routes.catalog.backend: expected a string, got 7"),
        ("    backend: catalog\n", "    backend: catalog\n    header: {name: X-Beta, value: 1}\n",
         "routes.catalog.header.value: expected a string, got 1"),
        ("resolve_url: http://127.0.0.1:8000/api/accounts/me/",
         "resolve_url: http://127.0.0.1:8000/api/accounts/me/\n  cache_seconds: true",
         "identity.cache_seconds: expected a number, got True"),
        ("resolve_url: http://127.0.0.1:8000/api/accounts/me/",
         "resolve_url: http://127.0.0.1:8000/api/accounts/me/\n  token_ttl: false",
         "identity.token_ttl: expected a number, got False"),
        ("default: monolith\n", "default: monolith\nparity: {max_rows: true}\n",
         "parity.max_rows: expected an integer, got True"),
        ("default: monolith\n", "default: monolith\nparity: {max_age_days: true}\n",
         "parity.max_age_days: expected a number, got True"),
        ("default: monolith\n", "default: monolith\nversion: true\n", "version: True is not a version (expected 1)"),
        ("default: monolith\n", "default: monolith\nadmin: {token_env: 12}\n",
         "admin.token_env: expected a string, got 12"),
        ("default: monolith\n", "default: monolith\nadmin: {token_env: 'MY TOKEN'}\n",
         "admin.token_env: 'MY TOKEN' is not an environment variable name (letters, digits, '_')"),
        ("default: monolith\n", "default: monolith\nadmin: [127.0.0.1:1]\n",
         "admin: expected a mapping, got ['127.0.0.1:1']"),
        ("routes:\n", "routes:\n  7: {path: /seven/, backend: catalog}\n",
         "routes: 7 is not a name (expected a string)"),
    ],
)
def test_types_are_strict(old: str, new: str, expected: str) -> None:
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    assert one_problem(text) == f"routes.yaml: {expected}"


def test_whole_numbers_are_still_seconds() -> None:
    catalog = parse(GOOD, source=SRC).table.backends["catalog"]
    assert (catalog.connect_timeout, catalog.read_timeout) == (1.0, 10.0)


@pytest.mark.parametrize(
    "url",
    ["not a url", "127.0.0.1:8000/api/accounts/me/", "ftp://127.0.0.1/me/", "http://", "http:///me/",
     "http://exa mple/me/", "http://127.0.0.1:99999/me/", "http://[::1/me/", "http://host\t/me/",
     "http://ho$t/me/"],
)
def test_a_resolve_url_must_be_http_with_a_host(url: str) -> None:
    """(A path is allowed too, and a bad one refused: tests/router/test_identity.py.)"""
    text = GOOD.replace("http://127.0.0.1:8000/api/accounts/me/", f'"{url}"')
    assert one_problem(text) == (
        f"routes.yaml: identity.resolve_url: {url!r} is neither an http(s) URL with a host nor a path "
        "(e.g. http://127.0.0.1:8000/me/ or /me/)")


@pytest.mark.parametrize("url", ["http://user:pw@127.0.0.1/me/", "http://127.0.0.1/me/#top"])
def test_a_resolve_url_has_no_credentials_or_fragment(url: str) -> None:
    text = GOOD.replace("http://127.0.0.1:8000/api/accounts/me/", f'"{url}"')
    assert "no credentials or fragment here" in one_problem(text)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/api/accounts/me/", "https://accounts.internal/me?format=json",
            "http://[::1]:8000/me/", "http://localhost/"])
def test_good_resolve_urls(url: str) -> None:
    config = parse(GOOD.replace("http://127.0.0.1:8000/api/accounts/me/", f'"{url}"'), source=SRC)
    assert config.identity is not None and config.identity.resolve_url == url


@pytest.mark.parametrize("target", ["http://exa mple:80", "http://ho$t:80", "http://[::1", "http://h\\t:1"])
def test_odd_target_hosts_are_refused(target: str) -> None:
    text = GOOD.replace("[http://127.0.0.1:8101]", f"[{target!r}]")
    assert one_problem(text).endswith("is not an http(s)://host[:port] URL")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("session_cookie: 'a b'", "identity.session_cookie: 'a b' is not a cookie name"),
        ("secret_env: 'not-a-var'", "identity.secret_env: 'not-a-var' is not an environment variable name"),
    ],
)
def test_identity_names(line: str, expected: str) -> None:
    text = GOOD + f"  {line}\n"
    assert one_problem(text).startswith(f"routes.yaml: {expected}")


def test_a_health_path_with_a_space_is_refused() -> None:
    text = GOOD.replace("{connect: 1, read: 10}", "{connect: 1, read: 10}\n    health: {path: '/health z'}")
    assert one_problem(text).startswith("routes.yaml: backends.catalog.health.path: '/health z' is not a request path")


# -- nothing is printed back whole ------------------------------------------------------------------------------

def test_a_huge_value_is_shown_truncated() -> None:
    huge = "x" * 500_000
    problem = one_problem(GOOD.replace("http://127.0.0.1:8000/api/accounts/me/", huge))
    assert problem.startswith("routes.yaml: identity.resolve_url: 'xxxxx")
    assert len(problem) < 200


def test_a_huge_list_where_a_mapping_is_meant_is_shown_truncated() -> None:
    problem = one_problem(GOOD.replace("identity:\n  resolve_url: http://127.0.0.1:8000/api/accounts/me/\n",
                                       "identity: [" + ", ".join(["1"] * 100_000) + "]\n"))
    assert problem.startswith("routes.yaml: identity: expected a mapping, got [1, 1, 1")
    assert len(problem) < 150


def test_a_huge_key_is_shown_truncated() -> None:
    problem = one_problem(GOOD.replace("  orders:", "  " + "o" * 1000 + ":"))
    assert len(problem) <= MAX_PROBLEM


def test_thousands_of_problems_are_listed_up_to_a_limit() -> None:
    routes = "".join(f"  r{i}: {{path: /r{i}/, backend: catalog, canary: 200}}\n" for i in range(500))
    found = problems(GOOD.replace("routes:\n", "routes:\n" + routes))
    assert len(found) == MAX_PROBLEMS + 1
    assert found[-1] == f"routes.yaml: ... and {500 - MAX_PROBLEMS} more problems"


# -- bounded work -----------------------------------------------------------------------------------------------

def test_too_many_routes_are_refused() -> None:
    routes = "".join(f"  r{i}: {{path: /r{i}/, backend: catalog}}\n" for i in range(MAX_ROUTES + 1))
    assert one_problem(GOOD.replace("routes:\n", "routes:\n" + routes)) == \
        f"routes.yaml: routes: at most {MAX_ROUTES} entries, got {MAX_ROUTES + 3}"


def test_a_table_at_the_route_limit_is_checked_quickly() -> None:
    routes = "".join(f"  r{i}: {{path: /r{i}/, backend: catalog}}\n" for i in range(MAX_ROUTES - 2))
    started = time.perf_counter()
    config = parse(GOOD.replace("routes:\n", "routes:\n" + routes), source=SRC)
    assert time.perf_counter() - started < 2.0
    assert len(config.table.routes) == MAX_ROUTES


def test_ambiguities_are_found_among_many_routes() -> None:
    routes = "".join(f"  r{i}: {{path: '/r/{{x}}/{i}/', backend: catalog}}\n" for i in range(300))
    routes += "  clash: {path: '/r/{y}/7/', backend: monolith}\n"
    assert one_problem(GOOD.replace("routes:\n", "routes:\n" + routes)) == (
        "routes.yaml: routes.r7: as specific as routes.clash and both match the same requests "
        "(/r/{y}/7/ vs /r/{x}/7/); make one narrower (methods, header or path)")
