"""The broken routes files of issue 11, made from any good one: what a careless operator saves under live
traffic. Each is the good file plus one defect, so that the defect alone is what gets it refused."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

# A route whose methods hold seven levels of nine aliases each: 9**7 (4.8 million) strings once expanded, in a
# field the schema walks (and whose error used to print the whole expanded input).
ALIAS_BOMB = textwrap.indent(textwrap.dedent("""\
    bombed:
      path: /bombed/
      backend: monolith
      methods:
        - &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
        - &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
        - &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
        - &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
        - &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
        - &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
        - [*f, *f, *f, *f, *f, *f, *f, *f, *f]
    """), "  ")


@dataclass(frozen=True)
class Broken:
    name: str
    data: bytes
    reason: str  # what the refusal must say


def broken_files(good: str, route: str) -> list[Broken]:
    """``good`` (a valid routes file with a top-level ``routes:`` and ``backends:``, and no ``identity:``)
    broken in each way; ``route`` is the name of one of its routes."""
    assert "\nroutes:\n" in good and "\nbackends:\n" in good and "identity:" not in good
    return [
        Broken("duplicate-key", (good + "default: catalog\n").encode(), "duplicate key 'default'"),
        Broken("duplicate-route-name",
               good.replace("\nroutes:\n", f"\nroutes:\n  {route}: {{path: /elsewhere/, backend: monolith}}\n")
               .encode(),
               f"routes.{route}: route '{route}' is defined twice"),
        Broken("alias-bomb", good.replace("\nroutes:\n", "\nroutes:\n" + ALIAS_BOMB).encode(),
               "alias *a: aliases are not allowed"),
        Broken("nesting-200", (good + "deep: " + "[" * 200 + "]" * 200 + "\n").encode(),
               "nested deeper than 64 levels"),
        Broken("not-utf8", good.encode() + b"# caf\xe9 (latin-1)\n", "not UTF-8: byte 0xe9"),
        Broken("bool-as-seconds",
               good.replace("\nbackends:\n",
                            "\nbackends:\n  spare: {targets: [http://127.0.0.1:9], timeouts: {connect: true}}\n")
               .encode(),
               "backends.spare.timeouts.connect: expected a number, got True"),
        Broken("bad-resolve-url", (good + "identity:\n  resolve_url: not a url\n").encode(),
               "identity.resolve_url: 'not a url' is neither an http(s) URL with a host nor a path"),
        Broken("2-megabytes", (good + "# " + "x" * 2_000_000 + "\n").encode(), "larger than 1,000,000 bytes"),
    ]
