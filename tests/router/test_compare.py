"""The comparison engine (router/compare.py): what it must find, what the rules make it ignore, calibration."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.compare import (
    Calibrator,
    Difference,
    PathError,
    Response,
    Rules,
    RulesError,
    compare,
    compare_bodies,
    compare_json,
    format_path,
    generalise_path,
    parse_path,
)


def product(i: int, **changes: Any) -> dict[str, Any]:
    return {"id": i, "name": f"Mug {i}", "price": f"{10 + i}.50", "stock": 5, "active": True,
            "category": {"id": 1, "slug": "kitchen"}, "tags": ["a", "b"],
            "updated_at": f"2024-05-01T12:00:{i:02d}Z", **changes}


def page(products: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"count": len(products), "results": products, **extra}


def paths(found: list[Difference]) -> list[str]:
    return [d.path for d in found]


# --- must find ------------------------------------------------------------------------------------------------

def test_a_changed_price_is_found_with_its_path_and_both_values() -> None:
    a = Response.json(page([product(1), product(2), product(3)]))
    b = Response.json(page([product(1), product(2, price="99.00"), product(3)]))
    assert compare(a, b) == [Difference("$.results[1].price", "12.50", "99.00", "value")]


def test_a_missing_field_and_an_extra_field() -> None:
    gone = product(2)
    del gone["stock"]
    found = compare(Response.json(page([product(1), product(2)])),
                    Response.json(page([product(1), {**gone, "colour": "red"}])))
    assert sorted((d.path, d.kind) for d in found) == [("$.results[1].colour", "extra"),
                                                        ("$.results[1].stock", "missing")]


def test_a_reordered_list_is_one_order_difference_when_order_matters() -> None:
    a = Response.json(page([product(1), product(2), product(3)]))
    b = Response.json(page([product(3), product(1), product(2)]))
    found = compare(a, b)
    assert [(d.path, d.kind) for d in found] == [("$.results", "order")]
    assert found[0].got == [2, 0, 1]


def test_a_reordered_list_is_equal_when_declared_unordered() -> None:
    a = Response.json(page([product(1), product(2), product(3)]))
    b = Response.json(page([product(3), product(1), product(2)]))
    assert compare(a, b, Rules(unordered_lists=("$.results",))) == []


def test_an_unordered_list_still_reports_a_changed_item_at_its_path() -> None:
    a = Response.json(page([product(1), product(2), product(3)]))
    b = Response.json(page([product(3), product(2, price="1.00"), product(1)]))
    found = compare(a, b, Rules(unordered_lists=("$.results",)))
    assert [(d.path, d.got) for d in found] == [("$.results[1].price", "1.00")]


def test_unordered_lists_are_multisets() -> None:
    rules = Rules(unordered_lists=("$.tags",))
    assert compare_json({"tags": ["a", "a", "b"]}, {"tags": ["a", "b", "a"]}, rules) == []
    found = compare_json({"tags": ["a", "a", "b"]}, {"tags": ["a", "b", "b"]}, rules)
    assert [d.kind for d in found] == ["value"]
    found = compare_json({"tags": ["a", "b"]}, {"tags": ["b"]}, rules)
    assert [(d.path, d.kind) for d in found] == [("$.tags[0]", "missing")]


def test_nested_unordered_lists_with_a_wildcard() -> None:
    rules = Rules(unordered_lists=("$.results[*].tags",))
    a = page([product(1, tags=["x", "y"]), product(2)])
    b = page([product(1, tags=["y", "x"]), product(2)])
    assert compare_json(a, b, rules) == []
    assert [d.kind for d in compare_json(a, b)] == ["order"]


def test_a_status_change() -> None:
    found = compare(Response.json({"ok": 1}), Response.json({"ok": 1}, status=500))
    assert found == [Difference("status", 200, 500, "status")]


def test_a_longer_or_shorter_list() -> None:
    assert [(d.path, d.kind) for d in compare_json([1, 2, 3], [1, 2])] == [("$[2]", "missing")]
    assert [(d.path, d.kind) for d in compare_json([1], [1, 2])] == [("$[1]", "extra")]


# --- normalisation --------------------------------------------------------------------------------------------

def test_key_order_and_whitespace_do_not_count() -> None:
    a = Response(200, [("Content-Type", "application/json")], b'{"a": 1, "b": [1, 2], "c": {"x": null}}')
    b = Response(200, [("content-type", "application/json")], b'{"c":{"x":null},"b":[1,2],"a":1}')
    assert compare(a, b) == []


def test_numbers_compare_by_value_but_decimal_strings_stay_strings() -> None:
    assert compare_json({"n": 1}, {"n": 1.0}) == []
    assert compare_json({"n": 1e2}, {"n": 100}) == []
    assert [d.kind for d in compare_json({"p": "12.50"}, {"p": "12.5"})] == ["value"]
    assert [d.kind for d in compare_json({"p": "12.50"}, {"p": 12.5})] == ["type"]


def test_booleans_are_not_numbers() -> None:
    assert [d.kind for d in compare_json({"a": True}, {"a": 1})] == ["type"]
    assert [d.kind for d in compare_json({"a": [0, {"b": False}]}, {"a": [0, {"b": 0}]})] == ["type"]
    assert [d.kind for d in compare_json({"a": None}, {"a": 0})] == ["type"]


def test_big_integers_beyond_64_bits() -> None:
    assert compare_bodies(b'{"n": 123456789012345678901234567890}', b'{"n":123456789012345678901234567890}') == []
    found = compare_bodies(b'{"n": 123456789012345678901234567890}', b'{"n": 123456789012345678901234567891}')
    assert paths(found) == ["$.n"]


def test_non_json_bodies_compare_as_bytes_with_an_excerpt() -> None:
    a = Response(200, [("content-type", "text/html")], b"<html>hello world</html>")
    b = Response(200, [("content-type", "text/html")], b"<html>hello there</html>")
    found = compare(a, b)
    assert len(found) == 1 and found[0].kind == "body" and found[0].path == "body@12"
    assert "world" in found[0].expected and "there" in found[0].got
    assert compare(a, a) == []


def test_json_against_not_json() -> None:
    found = compare(Response.json({"a": 1}), Response(200, [("content-type", "application/json")], b"oops"))
    assert [d.kind for d in found] == ["body"]


def test_headers_compared_are_the_selected_ones_only() -> None:
    a = Response(200, [(b"content-type", b"application/json; charset=utf-8"), (b"date", b"Mon")], b"{}")
    b = Response(200, [(b"Content-Type", b"application/json;charset=UTF-8"), (b"date", b"Tue")], b"{}")
    assert compare(a, b) == []
    c = Response(200, [("content-type", "text/plain")], b"{}")
    assert compare(a, c) == [Difference("header:content-type", "application/json;charset=utf-8", "text/plain",
                                        "header")]
    assert compare(a, c, Rules(ignore_headers=("Content-Type",))) == []
    assert paths(compare(a, b, Rules(compared_headers=("date",)))) == ["header:date"]


def test_a_missing_location_header() -> None:
    a = Response(302, [("location", "/next/")], b"")
    b = Response(302, [], b"")
    assert compare(a, b) == [Difference("header:location", "/next/", None, "header")]


# --- rules ----------------------------------------------------------------------------------------------------

def test_ignore_paths_with_wildcards_and_recursive_descent() -> None:
    a = page([product(1), product(2)], meta={"request_id": "r1"}, request_id="r1")
    b = page([product(1, updated_at="x"), product(2, updated_at="y")], meta={"request_id": "r2"}, request_id="r2")
    assert len(compare_json(a, b)) == 4
    rules = Rules(ignore_paths=("$.results[*].updated_at", "$..request_id"))
    assert compare_json(a, b, rules) == []
    b["results"][1]["price"] = "0.00"
    assert paths(compare_json(a, b, rules)) == ["$.results[1].price"]


def test_an_ignored_path_covers_everything_below_it_and_missing_keys() -> None:
    a = {"debug": {"sql": [1, 2], "t": 3}, "x": 1}
    b = {"x": 1, "debug": {"sql": [9]}}
    assert compare_json(a, b, Rules(ignore_paths=("$.debug",))) == []
    assert compare_json({"x": 1, "etag": "a"}, {"x": 1}, Rules(ignore_paths=("$.etag",))) == []


def test_an_index_rule_only_ignores_that_index() -> None:
    rules = Rules(ignore_paths=("$.results[0].updated_at",))
    a = page([product(1), product(2)])
    b = page([product(1, updated_at="x"), product(2, updated_at="y")])
    assert paths(compare_json(a, b, rules)) == ["$.results[1].updated_at"]


def test_odd_keys_are_quoted_in_paths_and_rules() -> None:
    found = compare_json({"a b": {"c.d": 1}}, {"a b": {"c.d": 2}})
    assert paths(found) == ['$["a b"]["c.d"]']
    assert compare_json({"a b": {"c.d": 1}}, {"a b": {"c.d": 2}}, Rules(ignore_paths=("$['a b']['c.d']",))) == []
    assert parse_path(found[0].path).segments() == ("a b", "c.d")


def test_rules_from_a_dict_and_yaml() -> None:
    rules = Rules.from_dict({"ignore": ["$..request_id"], "unordered": "$.tags", "ignore_headers": ["ETag"],
                             "headers": ["content-type", "cache-control"]})
    assert rules.ignore_paths == ("$..request_id",)
    assert rules.unordered_lists == ("$.tags",)
    assert rules.ignore_headers == ("etag",)
    assert rules.compared_headers == ("content-type", "cache-control")
    assert Rules.from_yaml("ignore: ['$.a']\n").ignore_paths == ("$.a",)
    assert Rules.from_dict(None) == Rules()
    assert Rules.from_dict(rules.as_dict()) == rules


def test_bad_rules_name_the_field() -> None:
    with pytest.raises(RulesError) as caught:
        Rules.from_dict({"ignore": ["$.ok", "results.price", 7], "unordered": ["$.a["], "colour": 1,
                         "ignore_headers": ["bad header"]}, where="routes.yaml: catalog")
    problems = caught.value.problems
    assert any(p.startswith("routes.yaml: catalog.ignore[1]: ") and "must start with '$'" in p for p in problems)
    assert any(p.startswith("routes.yaml: catalog.ignore[2]: ") for p in problems)
    assert any(p.startswith("routes.yaml: catalog.unordered[0]: ") and "never closed" in p for p in problems)
    assert any(p.startswith("routes.yaml: catalog.colour: unknown key") for p in problems)
    assert any(p.startswith("routes.yaml: catalog.ignore_headers[0]") for p in problems)
    with pytest.raises(RulesError, match="not valid YAML"):
        Rules.from_yaml("ignore: [")
    with pytest.raises(RulesError, match="expected a mapping"):
        Rules.from_dict(["$.a"])  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "results", "$.", "$[abc]", "$.a[", "$..", "$a"])
def test_bad_paths(text: str) -> None:
    with pytest.raises(PathError):
        parse_path(text)


def test_merged_rules() -> None:
    merged = Rules(ignore_paths=("$.a",)).merged(Rules(ignore_paths=("$.b", "$.a"), unordered_lists=("$.c",)))
    assert merged.ignore_paths == ("$.a", "$.b") and merged.unordered_lists == ("$.c",)


def test_too_many_differences_are_truncated() -> None:
    found = compare_json(list(range(100)), [x + 1 for x in range(100)], Rules(max_differences=10))
    assert len(found) == 11 and found[-1].kind == "truncated"


def test_deep_documents_do_not_hit_the_recursion_limit() -> None:
    a: Any = 1
    b: Any = 2
    for _ in range(600):  # deeper than orjson writes (255), as deep as orjson reads (1024) is not far off
        a, b = {"x": a}, {"x": b}
    found = compare_json(a, b)
    assert len(found) == 1 and found[0].path.count(".x") == 600


def test_difference_as_dict_and_str() -> None:
    difference = Difference("$.a", 1, 2, "value")
    assert difference.as_dict() == {"path": "$.a", "kind": "value", "expected": 1, "got": 2}
    assert str(difference) == "$.a: value: expected 1, got 2"


def test_anything_with_status_headers_and_body_compares() -> None:
    from router.addons.shadow import Exchange

    a = Exchange(200, [(b"content-type", b"application/json")], b'{"a":1}', 1.0)
    b = Exchange(200, [(b"content-type", b"application/json")], b'{"a":2}', 2.0)
    assert paths(compare(a, b)) == ["$.a"]


# --- calibration ----------------------------------------------------------------------------------------------

def noisy_answer(rng: random.Random) -> Response:
    stamp = f"2024-05-01T12:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(10**6)}Z"
    body = page([product(i, updated_at=stamp) for i in range(1, 6)], request_id=rng.getrandbits(64))
    return Response.json(body, headers=[("X-Request-Id", str(rng.getrandbits(64))), ("Date", stamp)])


def test_calibration_finds_a_timestamp_field_and_a_request_id() -> None:
    rng = random.Random(7)
    calibrator = Calibrator()
    for _ in range(10):
        calibrator.observe(noisy_answer(rng), noisy_answer(rng))
    found = {s.path: s for s in calibrator.suggestions()}
    assert set(found) >= {"$.results[*].updated_at", "$.request_id", "header:x-request-id", "header:date"}
    assert found["$.results[*].updated_at"].count == 10
    path, count, example = found["$.request_id"]
    assert (path, count, example.kind) == ("$.request_id", 10, "value")
    assert found["header:x-request-id"].rule == ("ignore_headers", "x-request-id")
    assert calibrator.observations == 10
    assert "$.count" not in found and not any("price" in p for p in found)


def test_calibration_never_applies_its_suggestions() -> None:
    rng = random.Random(1)
    rules = Rules()
    calibrator = Calibrator(rules)
    a, b = noisy_answer(rng), noisy_answer(rng)
    calibrator.observe(a, b)
    assert calibrator.rules is rules and rules.ignore_paths == ()
    assert compare(a, b)  # still different under the rules in use
    suggested = calibrator.suggested_rules()
    assert compare(a, b, suggested) == []


def test_calibration_respects_rules_already_in_place_and_suggests_recursive_keys() -> None:
    calibrator = Calibrator(Rules(ignore_paths=("$.results[*].updated_at",)))
    for n in range(3):
        calibrator.observe(Response.json({"results": [product(1, updated_at=n)], "a": {"trace": n}, "trace": n}),
                           Response.json({"results": [product(1)], "a": {"trace": -n - 1}, "trace": -n - 1}))
    found = {s.path: s.count for s in calibrator.suggestions()}
    assert found == {"$.a.trace": 3, "$.trace": 3, "$..trace": 3}
    assert [s.path for s in calibrator.suggestions(min_count=4)] == []


def test_generalise_and_format_paths() -> None:
    assert generalise_path("$.results[3].tags[0]") == "$.results[*].tags[*]"
    assert generalise_path("header:etag") == "header:etag"
    assert generalise_path("body@120") == "body"
    assert format_path(["a", 0, "b c"]) == '$.a[0]["b c"]'


# --- properties -----------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=25,
)


def reorder_keys(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: reorder_keys(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [reorder_keys(v, rng) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_a_document_equals_itself(value: Any) -> None:
    assert compare_json(value, copy.deepcopy(value)) == []
    body = orjson.dumps(value)
    assert compare(Response(200, [], body), Response(200, [], body)) == []


@settings(max_examples=300, deadline=None)
@given(json_values, st.integers(min_value=0, max_value=10**6))
def test_reordering_keys_changes_nothing(value: Any, seed: int) -> None:
    other = reorder_keys(value, random.Random(seed))
    assert compare(Response(200, [], orjson.dumps(value)), Response(200, [], orjson.dumps(other))) == []


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=5), json_values, min_size=1, max_size=5), st.data())
def test_changing_one_value_is_found_at_its_path(value: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(value)))
    other = dict(value)
    other[key] = {"changed": [value[key]]}
    found = compare_json(value, other)
    assert found and all(parse_path(d.path).segments()[0] == key for d in found)
    assert compare_json(value, other, Rules(ignore_paths=(format_path([key]),))) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values, max_size=6), st.integers(min_value=0, max_value=10**6))
def test_a_shuffled_list_is_equal_when_unordered(items: list[Any], seed: int) -> None:
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    assert compare_json({"l": items}, {"l": shuffled}, Rules(unordered_lists=("$.l",))) == []
