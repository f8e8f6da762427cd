"""Errors of the comparison engine.

Tree::

    ValueError
    ├── PathError       a JSON path that does not parse; says what is wrong and where
    └── RulesError      a bad rules document; ``problems`` name each key and value (``rules.ignore[1]: ...``)
"""

from __future__ import annotations


class PathError(ValueError):
    """A JSON path that does not parse (``'results.price' is not a JSON path: it must start with '$' ...``)."""


class RulesError(ValueError):
    """A bad rules document; ``problems`` name the field (``rules.ignore[1]: ...``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
