"""Routes files: a good file becomes a RouteTable; a bad one is refused naming the file, field and value."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from router.config import AdminSpec, RouterConfig, load, parse, unreachable_routes
from router.exceptions import ConfigError, RouterError
from router.routing.table import SAFE_METHODS, Backend, Shadow

SRC = "routes.yaml"

BASE = """\
default: monolith
backends:
  monolith:
    targets: http://127.0.0.1:8000
  catalog:
    targets: [http://127.0.0.1:8101]
  orders:
    targets: [http://127.0.0.1:8103]
"""


def with_routes(routes: str, head: str = "") -> str:
    return head + BASE + "routes:\n" + textwrap.indent(textwrap.dedent(routes), "  ")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text, source=SRC)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def one_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# -- a good file ----------------------------------------------------------------------------------------

FULL = """\
version: 1
listen: 0.0.0.0:9090
max_body: 10MiB
default: monolith
admin:
  listen: 127.0.0.1:9091
  token_env: MY_TOKEN
backends:
  monolith:
    targets: http://127.0.0.1:8000
  catalog:
    targets:
      - http://127.0.0.1:8101/
      - https://catalog-2.internal:8443
    health: {path: /health/, interval: 0}
    timeouts: {connect: 0.5, read: 5}
    balance: least_busy
    circuit: {failures: 3, reset_after: 2.5}
routes:
  catalog:
    path: /api/catalog/
    backend: catalog
    canary: 10
    fallback: monolith
    shadow: monolith
  product:
    path: /api/catalog/products/{pk}/
    match: exact
    methods: [get, POST]
    header: {name: X-Beta, value: "1"}
    backend: catalog
    shadow: {backend: monolith, methods: [get], queue: 5}
    shadow_writes: true
"""


def test_full_file_loads() -> None:
    config = parse(FULL, source=SRC)
    assert isinstance(config, RouterConfig)
    assert config.source == SRC
    assert config.listen == "0.0.0.0:9090"
    assert config.max_body == 10 * 2**20
    assert config.admin == AdminSpec(listen="127.0.0.1:9091", token_env="MY_TOKEN")
    assert config.identity is None
    assert config.warnings == ()
    table = config.table
    assert table.default == "monolith"
    assert len(table.version) == 12
    assert table.backends["catalog"] == Backend(
        name="catalog", targets=("http://127.0.0.1:8101", "https://catalog-2.internal:8443"),
        health_path="/health/", health_interval=0.0, connect_timeout=0.5, read_timeout=5.0,
        balance="least_busy", circuit_failures=3, circuit_reset=2.5)
    assert table.backends["monolith"] == Backend(name="monolith", targets=("http://127.0.0.1:8000",))
    catalog = table.route("catalog")
    assert catalog is not None
    assert (catalog.pattern.kind, catalog.pattern.parts, catalog.methods, catalog.header) == \
        ("prefix", ("api", "catalog"), None, None)
    assert (catalog.canary, catalog.fallback, catalog.shadow_writes) == (10, "monolith", False)
    assert catalog.shadow == Shadow(backend="monolith", methods=SAFE_METHODS, queue=100)
    product = table.route("product")
    assert product is not None
    assert product.pattern.kind == "exact"
    assert product.methods == frozenset({"GET", "HEAD", "POST"})
    assert product.header == ("x-beta", "1")
    assert product.shadow == Shadow(backend="monolith", methods=frozenset({"GET", "HEAD"}), queue=5)
    assert product.shadow_writes is True
    assert [r.name for r in table.routes] == ["product", "catalog"]


def test_defaults_are_filled() -> None:
    config = parse(with_routes("""\
        catalog: {path: /api/catalog/, backend: catalog}
    """), source=SRC)
    assert config.listen == "127.0.0.1:8080"
    assert config.max_body == 100 * 2**20
    assert config.admin == AdminSpec(listen="127.0.0.1:8081", token_env="ROUTER_ADMIN_TOKEN")
    assert config.table.backends["catalog"] == Backend(
        name="catalog", targets=("http://127.0.0.1:8101",), health_path="/healthz", health_interval=5.0,
        connect_timeout=2.0, read_timeout=30.0, balance="round_robin", circuit_failures=5, circuit_reset=10.0)
    route = config.table.route("catalog")
    assert route is not None
    assert route.pattern.kind == "prefix"
    assert (route.methods, route.header, route.canary, route.fallback, route.shadow, route.shadow_writes) == \
        (None, None, None, None, None, False)


def test_routes_may_be_left_out() -> None:
    config = parse(BASE, source=SRC)
    assert config.table.routes == ()
    assert config.table.match("GET", "/x").backend == "monolith"


def test_table_matches_what_the_file_says() -> None:
    table = parse(FULL, source=SRC).table
    assert table.match("GET", "/api/catalog/products/3/", {"x-beta": "1"}).route_name == "product"
    assert table.match("GET", "/api/catalog/products/3/").route_name == "catalog"
    assert table.match("GET", "/api/catalogue").route_name == "default"


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        ("http://127.0.0.1:8101", ("http://127.0.0.1:8101",)),
        ("http://127.0.0.1:8101/", ("http://127.0.0.1:8101",)),
        ("[http://a:1, https://b]", ("http://a:1", "https://b")),
        ("['http://[::1]:8101']", ("http://[::1]:8101",)),
    ],
)
def test_targets_one_or_many(targets: str, expected: tuple[str, ...]) -> None:
    text = BASE.replace("targets: [http://127.0.0.1:8101]", f"targets: {targets}")
    assert parse(text, source=SRC).table.backends["catalog"].targets == expected


@pytest.mark.parametrize(
    ("value", "size"),
    [("10MiB", 10 * 2**20), ("500KB", 500_000), ("1048576", 1_048_576), ("0", 0), ("'7 B'", 7),
     ("1KiB", 1024), ("2MB", 2_000_000), ("3GB", 3 * 10**9), ("1GiB", 2**30), ("' 4 KB '", 4000), ("'12'", 12)],
)
def test_max_body_sizes(value: str, size: int) -> None:
    assert parse(f"max_body: {value}\n" + BASE, source=SRC).max_body == size


@pytest.mark.parametrize(
    ("methods", "expected"),
    [
        ("[GET]", {"GET", "HEAD"}),
        ("[get]", {"GET", "HEAD"}),
        ("[GET, HEAD]", {"GET", "HEAD"}),
        ("[HEAD]", {"HEAD"}),
        ("[POST]", {"POST"}),
        ("[post, Delete]", {"POST", "DELETE"}),
        ("[PROPFIND]", {"PROPFIND"}),
    ],
)
def test_methods_get_implies_head(methods: str, expected: set[str]) -> None:
    config = parse(with_routes(f"r: {{path: /api/, backend: catalog, methods: {methods}}}\n"), source=SRC)
    route = config.table.route("r")
    assert route is not None
    assert route.methods == frozenset(expected)
    assert config.table.match("HEAD", "/api/x").route_name == ("r" if "GET" in expected or "HEAD" in expected
                                                               else "default")


def test_route_path_params_and_non_ascii() -> None:
    config = parse(with_routes("""\
        product: {path: "/api/catalog/{pk}/images/{image_id}", match: exact, backend: catalog}
        cafe: {path: /café/, backend: orders}
        emoji: {path: /😀/, backend: orders}
    """), source=SRC)
    match = config.table.match("GET", "/api/catalog/5/images/9")
    assert (match.route_name, dict(match.params)) == ("product", {"pk": "5", "image_id": "9"})
    assert config.table.match("GET", "/café/menu").route_name == "cafe"
    assert config.table.match("GET", "/😀").route_name == "emoji"


def test_version_follows_the_text() -> None:
    a = parse(FULL, source=SRC).table.version
    assert parse(FULL, source="other.yaml").table.version == a
    assert parse(FULL.replace("canary: 10", "canary: 20"), source=SRC).table.version != a


def test_load_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(FULL, encoding="utf-8")
    config = load(path)
    assert config.source == str(path)
    assert config.table.version == parse(FULL).table.version
    assert load(str(path)).table.route("product") is not None


# -- bad files: one problem each -------------------------------------------------------------------------

def test_invalid_yaml_names_line_and_column() -> None:
    assert one_problem("default: monolith\nbackends: [a\n  b: c\n") == \
        "routes.yaml: line 3, column 4: not valid YAML: expected ',' or ']', but got ':' " \
        "(while parsing a flow sequence)"
    assert one_problem("default: monolith\n  backends: x\n") == \
        "routes.yaml: line 2, column 11: not valid YAML: mapping values are not allowed here"


@pytest.mark.parametrize("text", ["", "# nothing\n", "- a\n- b\n", "just a string\n", "42\n", "null\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    assert one_problem(text) == "routes.yaml: expected a mapping with 'backends', 'routes' and 'default' at the top"


def test_unknown_top_level_key() -> None:
    assert one_problem(BASE + "rotues: {}\n") == "routes.yaml: rotues: unknown key"


def test_unknown_route_key() -> None:
    assert one_problem(with_routes("catalog: {path: /api/catalog/, backend: catalog, canry: 10}\n")) == \
        "routes.yaml: routes.catalog.canry: unknown key"


def test_unknown_backend_key() -> None:
    text = BASE.replace("targets: [http://127.0.0.1:8101]", "targets: [http://127.0.0.1:8101]\n    timeout: 3")
    assert one_problem(text) == "routes.yaml: backends.catalog.timeout: unknown key"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE.replace("default: monolith\n", ""), "routes.yaml: default: required"),
        ("default: monolith\n", "routes.yaml: backends: required"),
        (with_routes("catalog: {backend: catalog}\n"), "routes.yaml: routes.catalog.path: required"),
        (with_routes("catalog: {path: /api/catalog/}\n"), "routes.yaml: routes.catalog.backend: required"),
        (BASE.replace("targets: [http://127.0.0.1:8101]", "health: {path: /h}"),
         "routes.yaml: backends.catalog.targets: required"),
        (with_routes("c: {path: /api/, backend: catalog, shadow: {queue: 3}}\n"),
         "routes.yaml: routes.c.shadow.backend: required"),
    ],
)
def test_missing_required_key(text: str, expected: str) -> None:
    assert one_problem(text) == expected


@pytest.mark.parametrize(
    ("canary", "expected"),
    [
        ("140", "140 is not a percentage (0-100)"),
        ("-1", "-1 is not a percentage (0-100)"),
        ("100.5", "100.5 is not a percentage (0-100)"),
        ("ten", "'ten' is not a percentage (0-100)"),
        ("'10'", "'10' is not a percentage (0-100)"),
        ("true", "True is not a percentage (0-100)"),
        ("false", "False is not a percentage (0-100)"),
        ("[10]", "[10] is not a percentage (0-100)"),
        (".nan", "nan is not a percentage (0-100)"),
    ],
)
def test_bad_canary(canary: str, expected: str) -> None:
    assert one_problem(with_routes(f"catalog: {{path: /api/catalog/, backend: catalog, canary: {canary}}}\n")) \
        == f"routes.yaml: routes.catalog.canary: {expected}"


@pytest.mark.parametrize("canary", ["0", "100", "12.5", "null"])
def test_good_canary(canary: str) -> None:
    config = parse(with_routes(f"catalog: {{path: /api/catalog/, backend: catalog, canary: {canary}}}\n"))
    route = config.table.route("catalog")
    assert route is not None
    assert route.canary == (None if canary == "null" else float(canary))


KNOWN = "(known: catalog, monolith, orders)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (with_routes("c: {path: /api/catalog/, backend: catalgo}\n"),
         f"routes.yaml: routes.c.backend: 'catalgo' is not a backend {KNOWN}"),
        (with_routes("c: {path: /api/catalog/, backend: catalog, fallback: monolth}\n"),
         f"routes.yaml: routes.c.fallback: 'monolth' is not a backend {KNOWN}"),
        (with_routes("c: {path: /api/catalog/, backend: catalog, shadow: ordres}\n"),
         f"routes.yaml: routes.c.shadow.backend: 'ordres' is not a backend {KNOWN}"),
        (BASE.replace("default: monolith", "default: legacy"),
         f"routes.yaml: default: 'legacy' is not a backend {KNOWN}"),
    ],
)
def test_unknown_backend(text: str, expected: str) -> None:
    assert one_problem(text) == expected


def test_fallback_to_own_backend() -> None:
    assert one_problem(with_routes("c: {path: /api/catalog/, backend: catalog, fallback: catalog}\n")) == \
        "routes.yaml: routes.c.fallback: 'catalog' is the route's own backend"


def test_shadow_to_own_backend() -> None:
    assert one_problem(with_routes("c: {path: /api/catalog/, backend: catalog, shadow: {backend: catalog}}\n")) \
        == "routes.yaml: routes.c.shadow.backend: 'catalog' already serves the route"


def test_canary_on_the_default_backend() -> None:
    assert one_problem(with_routes("c: {path: /api/catalog/, backend: monolith, canary: 10}\n")) == (
        "routes.yaml: routes.c.canary: the route's backend is the default ('monolith'), "
        "so a canary would split traffic between a backend and itself")


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("ftp://127.0.0.1:8000", "is not an http(s)://host[:port] URL"),
        ("127.0.0.1:8000", "is not an http(s)://host[:port] URL"),
        ("http://", "is not an http(s)://host[:port] URL"),
        ("http://127.0.0.1:8000/app", "must be scheme://host[:port] only (no path, query or credentials)"),
        ("http://127.0.0.1:8000?x=1", "must be scheme://host[:port] only (no path, query or credentials)"),
        ("http://127.0.0.1:8000#top", "must be scheme://host[:port] only (no path, query or credentials)"),
        ("http://user:pw@127.0.0.1:8000", "must be scheme://host[:port] only (no path, query or credentials)"),
        ("http://user@127.0.0.1:8000", "must be scheme://host[:port] only (no path, query or credentials)"),
        ("http://127.0.0.1:99999", "has an invalid port"),
        ("http://127.0.0.1:abc", "has an invalid port"),
    ],
)
def test_bad_target_url(target: str, reason: str) -> None:
    text = BASE.replace("targets: [http://127.0.0.1:8101]", f"targets: ['http://ok:1', '{target}']")
    assert one_problem(text) == f"routes.yaml: backends.catalog.targets: {target!r} {reason}"


def test_empty_targets() -> None:
    assert one_problem(BASE.replace("[http://127.0.0.1:8101]", "[]")) == \
        "routes.yaml: backends.catalog.targets: List should have at least 1 item after validation, not 0 (got [])"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("listen: '8080'", "listen: '8080' is not host:port"),
        ("listen: 'localhost:0'", "listen: 'localhost:0' is not host:port"),
        ("listen: 'localhost:65536'", "listen: 'localhost:65536' is not host:port"),
        ("listen: ':8080'", "listen: ':8080' is not host:port"),
        ("listen: 'localhost:http'", "listen: 'localhost:http' is not host:port"),
        ("listen: 8080", "listen: expected a string, got 8080"),
        ("admin: {listen: 'localhost:99999'}", "admin.listen: 'localhost:99999' is not host:port"),
    ],
)
def test_bad_listen(line: str, expected: str) -> None:
    assert one_problem(line + "\n" + BASE) == f"routes.yaml: {expected}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10 parsecs", "'10 parsecs' is not a size (e.g. 10MiB, 500KB, 1048576)"),
        ("10mib", "'10mib' is not a size (e.g. 10MiB, 500KB, 1048576)"),
        ("-1", "-1 is not a size"),
        ("1.5", "1.5 is not a size (e.g. 10MiB, 500KB, 1048576)"),
        ("true", "True is not a size (e.g. 10MiB, 500KB, 1048576)"),
    ],
)
def test_bad_max_body(value: str, expected: str) -> None:
    assert one_problem(f"max_body: {value}\n" + BASE) == f"routes.yaml: max_body: {expected}"


def test_bad_version() -> None:
    assert one_problem("version: 2\n" + BASE) == "routes.yaml: version: Input should be 1 (got 2)"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("api/catalog/", "'api/catalog/' must start with '/'"),
        ("/api//catalog/", "'/api//catalog/' is not normalised (it would be '/api/catalog/'); it could never match"),
        ("/api/./catalog", "'/api/./catalog' is not normalised (it would be '/api/catalog'); it could never match"),
        ("/api/../catalog", "'/api/../catalog' is not normalised (it would be '/catalog'); it could never match"),
        ("/api/catalog/..", "'/api/catalog/..' is not normalised (it would be '/api/'); it could never match"),
        ("/caf%C3%A9/", "'/caf%C3%A9/' is not normalised (it would be '/café/'); it could never match"),
        ("/a%2Fb/", "'/a%2Fb/': path has an encoded '/', '\\' or NUL, which backends read differently"),
        ("/a\\\\b/", "'/a\\\\b/': path contains a backslash, which some servers read as '/'"),
        ("/100%/", "'/100%/': path has a '%' that is not a valid escape"),
    ],
)
def test_bad_route_path(path: str, expected: str) -> None:
    assert one_problem(with_routes(f'c: {{path: "{path}", backend: catalog}}\n')) == \
        f"routes.yaml: routes.c.path: {expected}"


@pytest.mark.parametrize(
    "path",
    ["/api/{id", "/api/id}/", "/api/{1id}/", "/api/{}/", "/api/{a-b}/", "/api/x{id}/", "/api/{id}x/",
     "/api/{a}{b}/", "/api/{{id}}/"],
)
def test_bad_param_syntax(path: str) -> None:
    assert one_problem(with_routes(f'c: {{path: "{path}", backend: catalog}}\n')) == \
        f"routes.yaml: routes.c.path: {path!r}: parameters look like {{name}} and fill a whole segment"


def test_empty_methods() -> None:
    assert one_problem(with_routes("c: {path: /api/, backend: catalog, methods: []}\n")) == \
        "routes.yaml: routes.c.methods: an empty list matches nothing; leave 'methods' out to match every method"


@pytest.mark.parametrize(
    ("methods", "expected"),
    [
        ("[GET, 'G T']", "routes.c.methods: 'G T' is not an HTTP method"),
        ("[GET, '']", "routes.c.methods: '' is not an HTTP method"),
        ("['GET/1']", "routes.c.methods: 'GET/1' is not an HTTP method"),
        ("[GET, 1]", "routes.c.methods[1]: expected a string, got 1"),
        ("GET", "routes.c.methods: expected a list, got 'GET'"),
    ],
)
def test_bad_methods(methods: str, expected: str) -> None:
    assert one_problem(with_routes(f"c: {{path: /api/, backend: catalog, methods: {methods}}}\n")) == \
        f"routes.yaml: {expected}"


@pytest.mark.parametrize("name", ["X Bad", "X-Bad:", "", "X(Bad)", "Ünicode"])
def test_bad_header_name(name: str) -> None:
    assert one_problem(with_routes(f"c: {{path: /api/, backend: catalog, header: {{name: '{name}'}}}}\n")) == \
        f"routes.yaml: routes.c.header.name: {name!r} is not a valid header name"


def test_header_name_is_lower_cased() -> None:
    route = parse(with_routes("c: {path: /api/, backend: catalog, header: {name: X-Beta}}\n")).table.route("c")
    assert route is not None
    assert route.header == ("x-beta", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (with_routes("c: {path: /api/, backend: catalog, match: regex}\n"),
         "routes.c.match: Input should be 'prefix' or 'exact' (got 'regex')"),
        (BASE.replace("backends:\n", "backends:\n  bad name: {targets: 'http://h'}\n"),
         "backends: 'bad name' is not a name (letters, digits, '-', '_')"),
        (with_routes("'bad name': {path: /x/, backend: catalog}\n"),
         "routes: 'bad name' is not a name (letters, digits, '-', '_')"),
        (BASE.replace("[http://127.0.0.1:8101]", "[http://127.0.0.1:8101]\n    health: {path: healthz}"),
         "backends.catalog.health.path: 'healthz' must start with '/'"),
        (BASE.replace("[http://127.0.0.1:8101]", "[http://127.0.0.1:8101]\n    timeouts: {connect: 0}"),
         "backends.catalog.timeouts.connect: Input should be greater than 0 (got 0)"),
        (BASE.replace("[http://127.0.0.1:8101]", "[http://127.0.0.1:8101]\n    balance: random"),
         "backends.catalog.balance: Input should be 'round_robin' or 'least_busy' (got 'random')"),
        ("default: monolith\nbackends: {}\n", "backends: at least one backend is needed"),
    ],
)
def test_other_schema_errors(text: str, expected: str) -> None:
    assert one_problem(text) == f"routes.yaml: {expected}"


# -- ambiguity -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ("a: {path: /api/catalog/, backend: catalog}\nb: {path: /api/catalog/, backend: orders}\n",
         "routes.b: as specific as routes.a and both match the same requests (/api/catalog/ vs /api/catalog/)"),
        ("b: {path: /api/catalog, backend: catalog}\na: {path: /api/catalog/, backend: orders}\n",
         "routes.b: as specific as routes.a and both match the same requests (/api/catalog/ vs /api/catalog)"),
        ("a: {path: /api/catalog/, backend: catalog, methods: [GET]}\n"
         "b: {path: /api/catalog/, backend: orders, methods: [HEAD, POST]}\n",
         "routes.b: as specific as routes.a and both match the same requests (/api/catalog/ vs /api/catalog/)"),
        ("a: {path: '/api/{x}/', backend: catalog}\nb: {path: '/api/{y}/', backend: orders}\n",
         "routes.b: as specific as routes.a and both match the same requests (/api/{x}/ vs /api/{y}/)"),
        ("a: {path: /api/c/, backend: catalog, header: {name: X-A, value: '1'}}\n"
         "b: {path: /api/c/, backend: orders, header: {name: X-A, value: '1'}}\n",
         "routes.b: as specific as routes.a and both match the same requests (/api/c/ vs /api/c/)"),
        # a request can carry both headers, or the header with the one value: both routes match it
        ("a: {path: /api/c/, backend: catalog, header: {name: X-A}}\n"
         "b: {path: /api/c/, backend: orders, header: {name: X-B}}\n",
         "routes.b: as specific as routes.a and both match the same requests (/api/c/ vs /api/c/)"),
        ("a: {path: /api/c/, backend: catalog, header: {name: X-A}}\n"
         "b: {path: /api/c/, backend: orders, header: {name: X-A, value: '1'}}\n",
         "routes.b: as specific as routes.a and both match the same requests (/api/c/ vs /api/c/)"),
        ("a: {path: /api/c/, backend: catalog, header: {name: X-A, value: '1'}}\n"
         "b: {path: /api/c/, backend: orders, header: {name: X-B, value: '1'}}\n",
         "routes.b: as specific as routes.a and both match the same requests (/api/c/ vs /api/c/)"),
        ("a: {path: /x, match: exact, backend: catalog}\nb: {path: /x, match: exact, backend: orders}\n",
         "routes.b: as specific as routes.a and both match the same requests (/x vs /x)"),
    ],
)
def test_equally_specific_overlapping_routes(routes: str, expected: str) -> None:
    assert one_problem(with_routes(routes)) == (
        f"routes.yaml: {expected}; make one narrower (methods, header or path)")


@pytest.mark.parametrize(
    "routes",
    [
        # same path, disjoint methods
        "a: {path: /api/orders/, backend: orders, methods: [GET]}\n"
        "b: {path: /api/orders/, backend: monolith, methods: [POST, PUT]}\n",
        # same path, one header with different values
        "a: {path: /api/c/, backend: catalog, header: {name: X-Cohort, value: old}}\n"
        "b: {path: /api/c/, backend: orders, header: {name: x-cohort, value: new}}\n",
        # different specificity: the more specific wins, no ambiguity
        "a: {path: /api/c/, backend: catalog}\nb: {path: /api/c/, backend: orders, methods: [GET]}\n",
        "a: {path: /api/c/, backend: catalog}\nb: {path: /api/c/, backend: orders, header: {name: X-A}}\n",
        "a: {path: /api/c/, backend: catalog}\nb: {path: /api/c/, match: exact, backend: orders}\n",
        "a: {path: '/api/{x}/', backend: catalog}\nb: {path: /api/c/, backend: orders}\n",
        # same specificity, but no path can match both
        "a: {path: /api/c/, backend: catalog}\nb: {path: /api/d/, backend: orders}\n",
        "a: {path: '/api/c/{x}', backend: catalog}\nb: {path: '/api/d/{x}', backend: orders}\n",
        "a: {path: /x, match: exact, backend: catalog}\nb: {path: /x/, match: exact, backend: orders}\n",
    ],
)
def test_routes_that_do_not_overlap_are_fine(routes: str) -> None:
    config = parse(with_routes(routes), source=SRC)
    assert {r.name for r in config.table.routes} == {"a", "b"}


def test_disjoint_methods_route_by_method() -> None:
    table = parse(with_routes("""\
        a: {path: /api/orders/, backend: orders, methods: [GET]}
        b: {path: /api/orders/, backend: monolith, methods: [POST]}
    """)).table
    assert [table.match(m, "/api/orders/1").route_name for m in ["GET", "HEAD", "POST", "PUT"]] == \
        ["a", "a", "b", "default"]


# -- several problems at once -------------------------------------------------------------------------------

def test_all_schema_problems_at_once() -> None:
    text = with_routes("""\
        a: {path: /api/a/, backend: catalog, canary: 140}
        b: {path: api/b/, backend: catalog, methods: []}
        c: {path: /api/c/, backend: catalog, colour: red}
    """, head="listen: nowhere\n")
    assert problems(text) == [
        "routes.yaml: listen: 'nowhere' is not host:port",
        "routes.yaml: routes.a.canary: 140 is not a percentage (0-100)",
        "routes.yaml: routes.b.path: 'api/b/' must start with '/'",
        "routes.yaml: routes.b.methods: an empty list matches nothing; leave 'methods' out to match every method",
        "routes.yaml: routes.c.colour: unknown key",
    ]


def test_all_cross_check_problems_at_once() -> None:
    text = with_routes("""\
        a: {path: /api/a/, backend: nope, fallback: gone}
        b: {path: /api/b/, backend: catalog, fallback: catalog, shadow: catalog}
        c: {path: /api/c/, backend: monolith, canary: 5}
    """).replace("default: monolith", "default: legacy")
    assert problems(text) == [
        f"routes.yaml: default: 'legacy' is not a backend {KNOWN}",
        f"routes.yaml: routes.a.backend: 'nope' is not a backend {KNOWN}",
        f"routes.yaml: routes.a.fallback: 'gone' is not a backend {KNOWN}",
        "routes.yaml: routes.b.shadow.backend: 'catalog' already serves the route",
        "routes.yaml: routes.b.fallback: 'catalog' is the route's own backend",
    ]


def test_several_ambiguities_at_once() -> None:
    text = with_routes("""\
        a: {path: /api/a/, backend: catalog}
        a2: {path: /api/a/, backend: orders}
        b: {path: /api/b/, backend: catalog}
        b2: {path: /api/b/, backend: orders}
    """)
    assert sorted(problems(text)) == [
        "routes.yaml: routes.a2: as specific as routes.a and both match the same requests (/api/a/ vs /api/a/); "
        "make one narrower (methods, header or path)",
        "routes.yaml: routes.b2: as specific as routes.b and both match the same requests (/api/b/ vs /api/b/); "
        "make one narrower (methods, header or path)",
    ]


# -- load() --------------------------------------------------------------------------------------------

def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems == [f"{path}: no such file"]


def test_load_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(BASE.encode() + b"# caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems == [
        f"{path}: not UTF-8: byte 0xe9 at offset {len(BASE) + 5} (line {BASE.count(chr(10)) + 1}); "
        "save the file as UTF-8"]


def test_load_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert caught.value.problems == [f"{tmp_path}: cannot read: [Errno 21] Is a directory: '{tmp_path}'"]


def test_load_names_the_file_in_problems(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(with_routes("c: {path: /api/, backend: catalog, canary: 140}\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems == [f"{path}: routes.c.canary: 140 is not a percentage (0-100)"]


def test_config_error_is_a_router_error() -> None:
    with pytest.raises(RouterError):
        parse("[]")


# -- warnings ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("header", "lower"),
    [("Connection", "connection"), ("TE", "te"), ("Upgrade", "upgrade"), ("X-User-Id", "x-user-id"),
     ("X-Identity-Token", "x-identity-token"), ("Remote-User", "remote-user")],
)
def test_route_waiting_on_a_stripped_header_warns(header: str, lower: str) -> None:
    config = parse(with_routes(f"c: {{path: /api/, backend: catalog, header: {{name: {header}, value: '1'}}}}\n"),
                   source=SRC)
    assert config.warnings == (
        f"routes.yaml: routes.c.header: {lower!r} is removed before routing (hop-by-hop or identity header), "
        "so this route can never match",)
    assert unreachable_routes(config.table) == [w.removeprefix("routes.yaml: ") for w in config.warnings]


def test_ordinary_header_does_not_warn() -> None:
    config = parse(with_routes("c: {path: /api/, backend: catalog, header: {name: X-Beta}}\n"), source=SRC)
    assert config.warnings == ()
