"""RouteTable.match(): the most specific route wins, whatever the order of the routes."""

from __future__ import annotations

import random

import pytest

from router.exceptions import PathRejected
from router.routing.paths import normalise
from router.routing.table import Backend, Match, Pattern, Route, RouteTable

BACKENDS = {name: Backend(name=name, targets=(f"http://127.0.0.1:{port}",))
            for name, port in [("monolith", 8000), ("catalog", 8101), ("cart", 8102), ("orders", 8103),
                               ("beta", 8110)]}


def route(name: str, path: str, backend: str, *, kind: str = "prefix", methods: set[str] | None = None,
          header: tuple[str, str | None] | None = None) -> Route:
    assert kind in ("prefix", "exact")
    return Route(name=name, pattern=Pattern.parse(path, "exact" if kind == "exact" else "prefix"),
                 backend=backend, methods=frozenset(methods) if methods is not None else None, header=header)


def table(*routes: Route, default: str = "monolith") -> RouteTable:
    return RouteTable(backends=BACKENDS, routes=routes, default=default)


def winner(t: RouteTable, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> str:
    return t.match(method, path, headers).route_name


# -- patterns -------------------------------------------------------------------------------------------

def test_pattern_parse() -> None:
    p = Pattern.parse("/api/catalog/{id}/", "prefix")
    assert p == Pattern(text="/api/catalog/{id}/", kind="prefix", parts=("api", "catalog", "{id}"),
                        trailing_slash=True)
    assert Pattern.parse("/", "exact").parts == ()
    assert Pattern.parse("/a", "exact").trailing_slash is False


def test_is_param() -> None:
    assert Pattern.is_param("{id}") is True
    assert Pattern.is_param("id") is False
    assert Pattern.is_param("{id") is False
    assert Pattern.is_param("id}") is False


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/catalog/", "catalog"),
        ("/api/catalog", "catalog"),
        ("/api/catalog/products/", "catalog"),
        ("/api/catalog/products/42/reviews", "catalog"),
        ("/api/catalogue", "default"),
        ("/api/catalogue/", "default"),
        ("/api/catalog-v2/", "default"),
        ("/api/catalo", "default"),
        ("/api/", "default"),
        ("/api", "default"),
        ("/", "default"),
        ("/API/catalog/", "default"),  # paths are case-sensitive
        ("/x/api/catalog/", "default"),
    ],
)
def test_prefix_is_segment_wise(path: str, expected: str) -> None:
    t = table(route("catalog", "/api/catalog/", "catalog"))
    assert winner(t, path) == expected


def test_default_backend_when_nothing_matches() -> None:
    t = table(route("catalog", "/api/catalog/", "catalog"), default="monolith")
    m = t.match("GET", "/api/orders/1/")
    assert m == Match(route=None, backend="monolith", params={})
    assert m.route_name == "default"
    assert table(default="orders").match("POST", "/anything").backend == "orders"


def test_match_result_names_route_backend_and_params() -> None:
    r = route("product", "/api/catalog/products/{pk}/", "catalog")
    m = table(r).match("GET", "/api/catalog/products/42/")
    assert m.route is r
    assert m.backend == "catalog"
    assert m.route_name == "product"
    assert dict(m.params) == {"pk": "42"}


def test_root_prefix_matches_everything() -> None:
    t = table(route("all", "/", "catalog"))
    for path in ["/", "/a", "/a/b/c/", "/api/catalogue"]:
        assert t.match("GET", path).backend == "catalog"


# -- exact routes and trailing slashes -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/health", "health"),
        ("/api/health/", "default"),
        ("/api/health/x", "default"),
        ("/api", "default"),
        ("/api/items/", "items"),
        ("/api/items", "default"),
        ("/api/items/1/", "default"),
        ("/", "root"),
        ("/index", "default"),
    ],
)
def test_exact_routes_respect_the_trailing_slash(path: str, expected: str) -> None:
    t = table(route("health", "/api/health", "catalog", kind="exact"),
              route("items", "/api/items/", "catalog", kind="exact"),
              route("root", "/", "catalog", kind="exact"))
    assert winner(t, path) == expected


# -- specificity ----------------------------------------------------------------------------------------

def test_exact_beats_prefix() -> None:
    t = table(route("prefix", "/api/catalog/featured/", "catalog"),
              route("exact", "/api/catalog/featured/", "orders", kind="exact"))
    assert winner(t, "/api/catalog/featured/") == "exact"
    assert winner(t, "/api/catalog/featured/1/") == "prefix"


def test_exact_with_param_beats_longer_prefix_it_overlaps() -> None:
    t = table(route("exact", "/api/{section}/featured", "orders", kind="exact"),
              route("prefix", "/api/catalog/", "catalog"))
    assert winner(t, "/api/catalog/featured") == "exact"
    assert winner(t, "/api/catalog/other") == "prefix"


def test_more_segments_beat_fewer() -> None:
    t = table(route("api", "/api/", "monolith"),
              route("catalog", "/api/catalog/", "catalog"),
              route("reviews", "/api/catalog/reviews/", "orders"))
    assert winner(t, "/api/x") == "api"
    assert winner(t, "/api/catalog/1") == "catalog"
    assert winner(t, "/api/catalog/reviews/1") == "reviews"


def test_more_segments_win_even_when_they_are_params() -> None:
    t = table(route("literal", "/api/catalog/", "catalog"), route("param", "/api/{x}/{y}/", "orders"))
    assert winner(t, "/api/catalog/") == "literal"
    assert winner(t, "/api/catalog/1/") == "param"


def test_literal_beats_param_at_the_first_differing_segment() -> None:
    t = table(route("param-first", "/api/{kind}/special/", "orders"),
              route("literal-first", "/api/catalog/{id}/", "catalog"))
    # Both have three segments; they differ first at segment 2, where only one is literal.
    assert winner(t, "/api/catalog/special/") == "literal-first"
    assert winner(t, "/api/orders/special/") == "param-first"
    assert winner(t, "/api/catalog/7/") == "literal-first"


def test_literal_beats_param_same_position() -> None:
    t = table(route("param", "/api/catalog/{id}/", "catalog", kind="exact"),
              route("literal", "/api/catalog/featured/", "orders", kind="exact"))
    assert winner(t, "/api/catalog/featured/") == "literal"
    assert winner(t, "/api/catalog/12/") == "param"


def test_methods_restriction_beats_none() -> None:
    t = table(route("any", "/api/orders/", "monolith"),
              route("reads", "/api/orders/", "orders", methods={"GET", "HEAD"}))
    assert winner(t, "/api/orders/1", "GET") == "reads"
    assert winner(t, "/api/orders/1", "HEAD") == "reads"
    assert winner(t, "/api/orders/1", "POST") == "any"
    assert winner(t, "/api/orders/1", "get") == "any"  # methods are case-sensitive


def test_path_specificity_comes_before_methods() -> None:
    t = table(route("short-get", "/api/", "orders", methods={"GET"}),
              route("long-any", "/api/catalog/", "catalog"))
    assert winner(t, "/api/catalog/1", "GET") == "long-any"


def test_header_beats_none() -> None:
    t = table(route("plain", "/api/catalog/", "catalog"),
              route("beta", "/api/catalog/", "beta", header=("x-beta", None)))
    assert winner(t, "/api/catalog/", headers={"x-beta": "yes"}) == "beta"
    assert winner(t, "/api/catalog/", headers={"x-beta": ""}) == "beta"  # present, even empty
    assert winner(t, "/api/catalog/", headers={}) == "plain"
    assert winner(t, "/api/catalog/") == "plain"


def test_header_with_value() -> None:
    t = table(route("plain", "/api/catalog/", "catalog"),
              route("beta", "/api/catalog/", "beta", header=("x-cohort", "beta")))
    assert winner(t, "/api/catalog/", headers={"x-cohort": "beta"}) == "beta"
    assert winner(t, "/api/catalog/", headers={"x-cohort": "Beta"}) == "plain"
    assert winner(t, "/api/catalog/", headers={"x-cohort": "beta2"}) == "plain"
    assert winner(t, "/api/catalog/", headers={"x-other": "beta"}) == "plain"


def test_header_only_route_falls_to_default() -> None:
    t = table(route("beta", "/api/catalog/", "beta", header=("x-beta", "1")))
    assert t.match("GET", "/api/catalog/", {"x-beta": "0"}) == Match(route=None, backend="monolith")


def test_methods_beat_header() -> None:
    # Rule 4 compares methods before headers.
    t = table(route("header", "/api/", "beta", header=("x-beta", None)),
              route("methods", "/api/", "orders", methods={"GET"}))
    assert winner(t, "/api/x", "GET", {"x-beta": "1"}) == "methods"
    assert winner(t, "/api/x", "POST", {"x-beta": "1"}) == "header"


def test_routes_are_ordered_most_specific_first() -> None:
    t = table(route("a", "/a/", "catalog"),
              route("a-exact", "/a/", "catalog", kind="exact"),
              route("ab", "/a/b/", "catalog"),
              route("a-param", "/a/{x}/", "catalog"),
              route("a-get", "/a/", "catalog", methods={"GET"}))
    assert [r.name for r in t.routes] == ["a-exact", "ab", "a-param", "a-get", "a"]
    assert t.route("ab") is not None
    assert t.route("ab").name == "ab"  # type: ignore[union-attr]
    assert t.route("missing") is None


# -- order independence ---------------------------------------------------------------------------------

ROUTES = [
    route("api", "/api/", "monolith", methods={"POST"}),
    route("catalog", "/api/catalog/", "catalog"),
    route("catalog-reads", "/api/catalog/", "catalog", methods={"GET", "HEAD"}),
    route("catalog-beta", "/api/catalog/", "beta", methods={"GET", "HEAD"}, header=("x-beta", "1")),
    route("product", "/api/catalog/products/{pk}/", "catalog"),
    route("featured", "/api/catalog/products/featured/", "orders"),
    route("featured-exact", "/api/catalog/products/featured/", "cart", kind="exact"),
    route("any-reviews", "/api/{section}/products/{pk}/reviews/", "orders"),
    route("cart", "/api/cart/", "cart"),
    route("cart-item", "/api/cart/items/{id}", "cart", kind="exact"),
    route("orders-get", "/api/orders/", "orders", methods={"GET"}),
    route("orders-post", "/api/orders/", "monolith", methods={"POST"}),
]

CASES = [
    ("GET", "/api/catalog/", {}, "catalog-reads"),
    ("POST", "/api/catalog/", {}, "catalog"),
    ("GET", "/api/catalog/", {"x-beta": "1"}, "catalog-beta"),
    ("GET", "/api/catalog/", {"x-beta": "2"}, "catalog-reads"),
    ("POST", "/api/catalog/", {"x-beta": "1"}, "catalog"),
    ("GET", "/api/catalog/products/9/", {}, "product"),
    ("GET", "/api/catalog/products/9/reviews/", {}, "any-reviews"),  # 5 segments beat 4
    ("GET", "/api/catalog/products/9/images/", {}, "product"),
    ("GET", "/api/shop/products/9/reviews/", {}, "any-reviews"),
    ("GET", "/api/catalog/products/featured/", {}, "featured-exact"),
    ("GET", "/api/catalog/products/featured/x", {}, "featured"),
    ("GET", "/api/catalog/products/featured", {}, "featured"),
    ("DELETE", "/api/cart/items/3", {}, "cart-item"),
    ("DELETE", "/api/cart/items/3/", {}, "cart"),
    ("GET", "/api/orders/1/", {}, "orders-get"),
    ("HEAD", "/api/orders/1/", {}, "default"),
    ("POST", "/api/orders/", {}, "orders-post"),
    ("PUT", "/api/orders/", {}, "default"),
    ("POST", "/api/shipping/", {}, "api"),
    ("GET", "/api/shipping/", {}, "default"),
    ("GET", "/", {}, "default"),
]


@pytest.mark.parametrize(("method", "path", "headers", "expected"), CASES)
def test_winner(method: str, path: str, headers: dict[str, str], expected: str) -> None:
    assert winner(table(*ROUTES), path, method, headers) == expected


def test_order_does_not_matter() -> None:
    rng = random.Random(20261126)
    reference = table(*ROUTES)
    expected = [winner(reference, path, method, headers) for method, path, headers, _ in CASES]
    assert expected == [case[3] for case in CASES]
    for _ in range(200):
        shuffled = list(ROUTES)
        rng.shuffle(shuffled)
        t = table(*shuffled)
        assert [winner(t, path, method, headers) for method, path, headers, _ in CASES] == expected


def test_reversed_order_same_winner() -> None:
    t = table(*reversed(ROUTES))
    assert [winner(t, path, method, headers) for method, path, headers, _ in CASES] == [c[3] for c in CASES]


def test_specificity_order_of_routes_does_not_depend_on_input_order() -> None:
    # Equally specific routes that cannot overlap may sit in either order; the specificities may not.
    rng = random.Random(7)
    reference = [r.specificity() for r in table(*ROUTES).routes]
    assert reference == sorted(reference, reverse=True)
    for _ in range(50):
        shuffled = list(ROUTES)
        rng.shuffle(shuffled)
        assert [r.specificity() for r in table(*shuffled).routes] == reference


# -- parameters ----------------------------------------------------------------------------------------

def test_params_are_captured() -> None:
    t = table(route("review", "/api/{section}/products/{pk}/reviews/{rid}", "orders", kind="exact"))
    m = t.match("GET", "/api/catalog/products/42/reviews/7")
    assert dict(m.params) == {"section": "catalog", "pk": "42", "rid": "7"}


def test_params_captured_by_prefix_route_ignore_the_rest() -> None:
    t = table(route("product", "/api/catalog/{pk}/", "catalog"))
    assert dict(t.match("GET", "/api/catalog/42/images/1").params) == {"pk": "42"}


def test_params_are_decoded_values() -> None:
    t = table(route("product", "/api/catalog/{slug}/", "catalog"))
    assert dict(t.match("GET", normalise("/api/catalog/caf%C3%A9%20noir/")).params) == {"slug": "café noir"}


def test_param_needs_a_segment() -> None:
    t = table(route("product", "/api/catalog/{pk}/", "catalog"))
    assert winner(t, "/api/catalog/") == "default"


# -- methods --------------------------------------------------------------------------------------------

def test_methods() -> None:
    t = table(route("writes", "/api/cart/", "cart", methods={"POST", "PUT", "PATCH", "DELETE"}))
    assert [winner(t, "/api/cart/", m) for m in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]] \
        == ["default", "default", "writes", "writes", "writes", "writes", "default"]


def test_head_goes_with_get_when_both_listed() -> None:
    t = table(route("reads", "/api/cart/", "cart", methods={"GET", "HEAD"}))
    assert winner(t, "/api/cart/", "HEAD") == "reads"
    assert winner(t, "/api/cart/", "GET") == "reads"
    assert winner(t, "/api/cart/", "POST") == "default"


# -- path tricks ----------------------------------------------------------------------------------------

TRICKS = [
    "/api/catalog/../orders/",
    "/api/catalog/../orders",
    "/api/catalog/%2e%2e/orders/",
    "/api/catalog/%2E%2e/orders/",
    "/api/catalog/%2e%2E/orders/",
    "/api/catalog/.%2e/orders/",
    "/api/catalog/%2e./orders/",
    "/api//catalog/../orders",
    "/api//catalog//..//orders//",
    "/api/catalog/./../orders/",
    "/api/catalog/products/../../orders/",
    "/api/catalog/x/y/../../../orders/1",
    "/api/catalog/..",
    "/api/catalog/%2e%2e",
    "/api/catalog/../../../../api/orders/",
]
REFUSED_TRICKS = [
    "/api/catalog/..%2forders/",
    "/api/catalog/..%2Forders/",
    "/api/catalog%2f..%2forders",
    "/api/catalog/..%5corders/",
    "/api/catalog/..%5Corders/",
    "/api/catalog/..\\orders/",
    "/api/catalog/%00/../orders/",
    "/api/catalog/%/../orders/",
    "/api/catalog/%ff/../orders/",
    "/api/catalog/%0a/../orders/",
]


@pytest.fixture
def catalog_table() -> RouteTable:
    return table(route("catalog", "/api/catalog/", "catalog"), default="monolith")


@pytest.mark.parametrize("raw", TRICKS)
def test_path_tricks_never_reach_the_catalog(catalog_table: RouteTable, raw: str) -> None:
    for method in ["GET", "POST", "DELETE"]:
        m = catalog_table.match(method, normalise(raw))
        assert m.route is None
        assert m.backend == "monolith"


@pytest.mark.parametrize("raw", REFUSED_TRICKS)
def test_ambiguous_path_tricks_are_refused(raw: str) -> None:
    with pytest.raises(PathRejected):
        normalise(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "/api/orders/../catalog/",
        "/api/orders/%2e%2e/catalog/1",
        "/api//catalog/",
        "/api/./catalog",
        "/api/catalog/%252e%252e/orders/",  # '%2e%2e' is a literal segment name, still under catalog
    ],
)
def test_paths_that_really_are_the_catalog_do_reach_it(catalog_table: RouteTable, raw: str) -> None:
    assert catalog_table.match("GET", normalise(raw)).backend == "catalog"


def test_orders_tricks_reach_orders_route_only() -> None:
    t = table(route("catalog", "/api/catalog/", "catalog"), route("orders", "/api/orders/", "orders"))
    for raw in TRICKS:
        assert t.match("GET", normalise(raw)).route_name in {"orders", "default"}, raw
    assert t.match("GET", normalise("/api/catalog/%2e%2e/orders/1")).route_name == "orders"
