"""The response comparison engine's public face: two HTTP answers to one request, compared after normalisation.

Shared by the router's shadow (``router.addons.shadow``), ``strangler``'s replay and contract check and the
regression suite. The engine lives in ``router/parity/`` (one module per part, named below); import it from
here. Pure data and functions: no I/O, no event loop.

Public API (stable)::

    Response(status, headers, body)            one HTTP answer                       (parity/answers.py)
    Difference(path, expected, got, kind)      one difference; ``as_dict()`` is JSON-ready
    Rules(ignore_paths, ignore_headers, compared_headers, unordered_lists, max_differences)
    Rules.from_dict(data) / Rules.from_yaml(text) / Rules.load(path) / rules.merged(other)
    RulesSpec                                  the one rule model (routes.yaml, rules files) (parity/rules.py)
    compare(expected, got, rules=None) -> list[Difference]                            (parity/engine.py)
    compare_bodies(expected_body, got_body, rules=None, content_type=None) -> list[Difference]
    compare_json(expected_data, got_data, rules=None) -> list[Difference]
    Calibrator(rules=None).observe(a, b); .suggestions() -> list[Suggestion(path, count, example)]
                                                                                     (parity/calibration.py)
    parse_path(text) -> JSONPath                (raises PathError naming what is wrong) (parity/jsonpath.py)
    format_path(segments) -> str; generalise_path("$.results[3].price") -> "$.results[*].price"
    PathError, RulesError                                                            (parity/exceptions.py)

What counts as equal, and the kinds of differences: ``router/parity/engine.py``. Paths: ``router/parity/
jsonpath.py``. The rule keys (``ignore``, ``unordered``, ``headers``, ``ignore_headers``, ``max_differences``):
``router/parity/rules.py``.
"""

from __future__ import annotations

from router.parity.answers import Difference, HeaderPairs, Response, ResponseLike
from router.parity.calibration import Calibrator, Suggestion
from router.parity.engine import compare, compare_bodies, compare_json
from router.parity.exceptions import PathError, RulesError
from router.parity.jsonpath import JSONPath, Segment, format_path, generalise_path, parse_path
from router.parity.rules import (
    DEFAULT_COMPARED_HEADERS,
    DEFAULT_MAX_DIFFERENCES,
    Rules,
    RulesSpec,
    load_rules,
    rules_from_data,
    rules_from_yaml,
)

__all__ = [
    "DEFAULT_COMPARED_HEADERS", "DEFAULT_MAX_DIFFERENCES", "Calibrator", "Difference", "HeaderPairs", "JSONPath",
    "PathError", "Response", "ResponseLike", "Rules", "RulesError", "RulesSpec", "Segment", "Suggestion",
    "compare", "compare_bodies", "compare_json", "format_path", "generalise_path", "load_rules", "parse_path",
    "rules_from_data", "rules_from_yaml",
]
