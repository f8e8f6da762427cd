"""Calibration: learning which paths differ on their own, to suggest them as ignore rules.

Feed ``Calibrator.observe`` pairs of answers to the SAME request from the SAME implementation (the monolith
twice); whatever differs there is noise. ``suggestions()`` lists the generalised paths with counts;
``suggested_rules()`` is them as ``Rules`` for a person to review. Nothing is ever applied silently.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from router.parity.answers import Difference, ResponseLike, header_text
from router.parity.engine import compare
from router.parity.jsonpath import descend_path, generalise_path, last_key
from router.parity.rules import Rules


@dataclass(frozen=True)
class Suggestion:
    """A suggested ignore rule: ``path`` is a JSON path for ``ignore`` or ``header:<name>`` for
    ``ignore_headers``; ``count`` how many observed pairs differed there; ``example`` one such difference.
    Unpacks as ``path, count, example``."""

    path: str
    count: int
    example: Difference

    def __iter__(self) -> Iterator[Any]:
        return iter((self.path, self.count, self.example))

    @property
    def rule(self) -> tuple[str, str]:
        """("ignore", "$.x") or ("ignore_headers", "etag"): where the suggestion would go in the rules."""
        if self.path.startswith("header:"):
            return "ignore_headers", self.path.removeprefix("header:")
        return "ignore", self.path


NOISY_HEADERS_NEVER_COMPARED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


class Calibrator:
    """Learns noise: feed it pairs of answers to the SAME request from the SAME implementation (the monolith
    twice, or two of its instances); whatever differs there differs on its own. Paths are generalised over
    list indices (``$.results[*].updated_at``); a key that is noisy under several parents is also suggested
    as ``$..key``. Suggestions are only suggestions: nothing is applied unless a person puts it in the rules.

    By default every header is observed (except framing ones), so ``date``, ``etag`` or ``x-request-id``
    show up; ``rules`` (e.g. what is already ignored) apply first."""

    def __init__(self, rules: Rules | None = None, *, all_headers: bool = True) -> None:
        self.rules = rules or Rules()
        self.all_headers = all_headers
        self.observations = 0
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, Difference] = {}

    def observe(self, a: ResponseLike, b: ResponseLike) -> list[Difference]:
        rules = self.rules
        if self.all_headers:
            names = {header_text(n).lower() for n, _ in [*a.headers, *b.headers]} - NOISY_HEADERS_NEVER_COMPARED
            rules = replace(rules, compared_headers=tuple(sorted(names)), max_differences=10_000)
        differences = compare(a, b, rules)
        self.observations += 1
        seen: set[str] = set()
        for difference in differences:
            if difference.kind == "truncated":
                continue
            general = generalise_path(difference.path)
            if general not in seen:
                seen.add(general)
                self.counts[general] += 1
                self.examples.setdefault(general, difference)
        return differences

    def suggestions(self, min_count: int = 1) -> list[Suggestion]:
        out = [Suggestion(path, count, self.examples[path]) for path, count in self.counts.items()
               if count >= min_count]
        by_key: dict[str, list[Suggestion]] = defaultdict(list)
        for suggestion in out:
            if suggestion.path.startswith("$"):
                last = last_key(suggestion.path)
                if last is not None:
                    by_key[last].append(suggestion)
        for key, group in by_key.items():
            parents = {s.path for s in group}
            if len(parents) > 1:
                out.append(Suggestion(descend_path(key), max(s.count for s in group), group[0].example))
        return sorted(out, key=lambda s: (-s.count, s.path))

    def suggested_rules(self, min_count: int = 1) -> Rules:
        """The suggestions as a Rules object, for a person to review and write down (never used silently)."""
        paths: list[str] = []
        headers: list[str] = []
        for suggestion in self.suggestions(min_count):
            kind, value = suggestion.rule
            (headers if kind == "ignore_headers" else paths).append(value)
        return Rules(ignore_paths=tuple(paths), ignore_headers=tuple(headers))
