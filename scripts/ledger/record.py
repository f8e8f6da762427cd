"""The ledger's record: what the clients did and were told (``Tracked`` products, ``Write``s with their
outcome), the checker's report, and how an answer is classified (acknowledged, refused, ambiguous)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

ACKNOWLEDGED, REFUSED, AMBIGUOUS = "acknowledged", "refused", "ambiguous"
# Answers of the router that do not say whether the backend received the write: it timed out waiting for the
# answer (504), or the connection broke after the request went out (502). A 502 "connect_failed" or a 503
# "circuit_open"/"write_freeze" says it was never sent: refused.
UNSURE_ROUTER_CODES = frozenset({"timeout", "bad_response", "upstream_error"})

# Each product as the checker needs it: sku -> the product as the API renders it, or None when it is gone.
Found = Mapping[str, Mapping[str, Any] | None]
# ``read({sku: id or None})`` -> Found for exactly those SKUs. The HTTP one is HttpReader; tests pass a fake.
ReadFn = Callable[[Mapping[str, int | None]], Found]


class LedgerError(RuntimeError):
    """The ledger could not set itself up, or could not read what it has to check."""


@dataclass
class Tracked:
    """One of the ledger's own products, as created: its stock and edits are what the checker follows."""

    id: int
    sku: str
    name: str
    price: str
    stock: int
    category: int
    is_active: bool = False


@dataclass
class Write:
    kind: str                    # "stock" | "edit" | "create" | "delete"
    sku: str
    product: int | None          # the product's id (None for a create whose answer gave none)
    outcome: str                 # acknowledged | refused | ambiguous
    seq: int                     # global order in which the writes were sent (an edit's order per product)
    worker: int
    status: int | None = None    # HTTP status; None when no answer came
    answer: str = ""             # the answer's code, or the transport error
    delta: int = 0               # stock
    values: dict[str, Any] = field(default_factory=dict)  # edit: name, price; create: sku, name, price, stock, category

    def describe(self) -> str:
        told = f"{self.status} {self.answer}".strip() if self.status is not None else self.answer or "no answer"
        what = {"stock": f"stock {self.delta:+d}",
                "edit": f"edit #{self.seq} (name {self.values.get('name')!r}, price {self.values.get('price')})",
                "create": "create", "delete": "delete"}[self.kind]
        return f"{what} {self.outcome} ({told})"


@dataclass
class LedgerRecord:
    """What the clients did and were told: all the checker needs, and nothing that needs HTTP."""

    prefix: str
    stem: str                    # every SKU of this ledger starts with it
    tracked: list[Tracked] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)


@dataclass
class LedgerReport:
    ok: bool
    checked: int                 # acknowledged writes checked
    problems: list[str]          # each names the product id, the write and what was found
    counts: dict[str, int]
    products: int = 0            # products read and held to the record (tracked and created)
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)  # {"stock": {"acknowledged": n, ...}, ...}
    answers: dict[str, int] = field(default_factory=dict)  # what the non-2xx answers were ("PATCH 503 write_freeze")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify(status: int, code: str | None) -> str:
    if 200 <= status < 300:
        return ACKNOWLEDGED
    if status in (502, 504) and code in UNSURE_ROUTER_CODES:
        return AMBIGUOUS
    return REFUSED


def answer_code(response: httpx.Response) -> str | None:
    """The ``code`` of a JSON error answer (the router's and the services' own), if it has one."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None
