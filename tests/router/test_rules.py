"""The one rule model (router/parity/rules.py): a route's shadow, the file's parity.rules and a replay's rules
file read the same keys the same way, and refuse the same mistakes with the same words."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from router.compare import Rules, RulesError, load_rules
from router.config import parse
from router.exceptions import ConfigError

CORPUS_RULES = Path(__file__).resolve().parents[1] / "parity" / "corpus" / "rules.yaml"


def routes(shadow: str, parity: str = "{}") -> str:
    return textwrap.dedent(f"""\
        default: m
        backends: {{m: {{targets: "http://m.test"}}, c: {{targets: "http://c.test"}}}}
        parity: {{rules: {parity}}}
        routes:
          r: {{path: /r/, backend: m, shadow: {{backend: c, {shadow}}}}}
        """)


def shadow_rules(shadow: str, parity: str = "{}") -> Rules:
    found = parse(routes(shadow, parity)).table.routes[0].shadow
    assert found is not None
    return found.rules


RULES = ('ignore: ["$..request_id", "$.results[*].updated_at"], unordered: ["$.tags"], '
         'headers: [Content-Type, ETag], ignore_headers: [date], max_differences: 7')


def test_a_route_and_a_rules_file_read_the_same_keys_the_same_way() -> None:
    from_file = Rules.from_yaml("{" + RULES + "}")
    assert shadow_rules(RULES) == from_file
    assert from_file == Rules(ignore_paths=("$..request_id", "$.results[*].updated_at"), unordered_lists=("$.tags",),
                              compared_headers=("content-type", "etag"), ignore_headers=("date",), max_differences=7)
    assert Rules.from_dict(from_file.as_dict()) == from_file


def test_long_names_and_single_strings_are_accepted_everywhere() -> None:
    text = 'ignore_paths: "$.a", unordered_lists: ["$.b"], compared_headers: etag'
    expected = Rules(ignore_paths=("$.a",), unordered_lists=("$.b",), compared_headers=("etag",))
    assert Rules.from_yaml("{" + text + "}") == expected
    assert shadow_rules(text) == expected


def test_a_route_adds_to_the_files_rules() -> None:
    common = '{ignore: ["$.a"], max_differences: 5}'
    rules = shadow_rules('ignore: ["$.b"]', common)
    assert rules.ignore_paths == ("$.a", "$.b")
    assert rules.max_differences == 5  # the file's, as the route gives none
    assert rules.compared_headers == ("content-type", "location")
    assert shadow_rules("max_differences: 9", common).max_differences == 9
    assert shadow_rules("headers: [etag]", '{headers: [allow]}').compared_headers == ("etag",)  # exactly the route's


@pytest.mark.parametrize(("rule", "problem"), [
    ('ignore: ["results.price"]', "ignore[0]: 'results.price' is not a JSON path: it must start with '$'"),
    ('unordered: ["$.a", 7]', "unordered[1]: expected a string, got 7"),
    ('headers: ["bad header"]', "headers[0]: 'bad header' is not a valid header name"),
    ("max_differences: 0", "max_differences: 0 is not a positive integer"),
    ('ignore_text: ["ok", "csrf[("]', "ignore_text[1]: 'csrf[(' is not a regular expression: "),
    ("colour: red", "colour: unknown key"),
])
def test_a_bad_rule_is_refused_in_the_same_words_everywhere(rule: str, problem: str) -> None:
    with pytest.raises(ConfigError) as in_routes:
        parse(routes(rule), source="routes.yaml")
    assert any(p.startswith(f"routes.yaml: routes.r.shadow.{problem}") for p in in_routes.value.problems)
    with pytest.raises(ConfigError) as in_parity:
        parse(routes("", "{" + rule + "}"), source="routes.yaml")
    assert any(p.startswith(f"routes.yaml: parity.rules.{problem}") for p in in_parity.value.problems)
    with pytest.raises(RulesError) as in_file:
        Rules.from_yaml("{" + rule + "}", where="rules.yaml")
    [only] = in_file.value.problems
    assert only.startswith(f"rules.yaml.{problem}")


def test_the_corpus_rules_file_still_loads() -> None:
    rules = load_rules(CORPUS_RULES)
    assert rules.compared_headers == ("content-type", "location", "allow", "www-authenticate")
    assert rules.ignore_headers == ("date", "x-request-id", "server")
    assert rules.ignore_paths == ()


PAGE = (b'<html><form><input type="hidden" name="csrfmiddlewaretoken" value="%s">'
        b"<p>Rendered at %s</p><h1>Kettle</h1></form></html>")


def test_noise_in_html_pages_is_ignored_by_regular_expressions_and_the_rest_still_counts() -> None:
    """A rendered page carries a fresh CSRF token and time on every answer: ignore_text blanks them on both sides
    (in a routes file's shadow, the file's parity.rules and a replay rules file alike)."""
    from router.compare import Response, compare

    def page(token: bytes, at: bytes, title: bytes = b"Kettle") -> Response:
        return Response(200, [("content-type", "text/html; charset=utf-8")],
                        (PAGE % (token, at)).replace(b"Kettle", title))

    rules_text = '{ignore_text: [\'value="[0-9a-zA-Z]{32}"\', "Rendered at [^<]*"]}'
    for rules in (Rules.from_yaml(rules_text), shadow_rules(rules_text[1:-1])):
        a, b = page(b"A" * 32, b"12:00:01"), page(b"b" * 32, b"12:00:02")
        assert compare(a, b) != []            # without the rules: a difference on every answer
        assert compare(a, b, rules) == []
        [changed] = compare(a, page(b"c" * 32, b"12:00:03", b"Teapot"), rules)
        assert changed.kind == "body" and "Teapot" in str(changed.got)
