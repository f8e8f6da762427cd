"""What the inventory finds in a Django project, as plain data (``to_dict`` for the JSON report)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Endpoint:
    route: str               # the URL pattern, joined from the URLconf's parts ("api/catalog/products/<int:pk>/")
    name: str | None         # the URL name, namespaced ("catalog:product-detail")
    view: str                # dotted path of the view (function, class or viewset)
    app: str | None          # the label of the app that holds the view (None: not an installed app's)
    methods: tuple[str, ...]  # what the view answers ("ANY": a function view that does not say)
    requests: int | None = None  # seen in the traffic log (None: no log given)

    @property
    def writes(self) -> bool:
        return "ANY" in self.methods or bool(WRITE_METHODS & set(self.methods))


@dataclass(frozen=True)
class Table:
    app: str
    model: str
    table: str
    managed: bool
    key: tuple[str, ...]     # the primary key's columns (several: a composite key)


@dataclass(frozen=True)
class Relation:
    kind: str                # foreign-key, one-to-one, many-to-many, generic (a GenericForeignKey or relation)
    app: str                 # the app whose model holds the field
    model: str
    field: str
    to_app: str | None       # None: any model (a GenericForeignKey)
    to_model: str | None
    on_delete: str | None = None   # CASCADE, PROTECT, ... (foreign keys and one-to-ones)
    through: str | None = None     # the table of a many-to-many

    @property
    def crosses(self) -> bool:
        return self.to_app is None or self.to_app != self.app


@dataclass(frozen=True)
class SignalLink:
    signal: str              # "post_save" or the dotted name of a project's own signal
    sender_app: str | None   # the app whose model or module sends it (None: any sender)
    sender: str | None       # the model or the module defining the signal
    receiver: str            # dotted path of the receiver
    receiver_app: str | None

    @property
    def crosses(self) -> bool:
        return self.sender_app is None or self.sender_app != self.receiver_app


@dataclass(frozen=True)
class ImportLink:
    app: str                 # the importing app
    to_app: str              # the imported app
    modules: int             # how many (importer, imported) module pairs
    example: str             # one of them, with its line: "legacy_monolith.orders.services:12 -> ..."


@dataclass
class AppReport:
    """One app: what it holds, what it depends on, and what stands in the way of moving it."""

    app: str
    module: str
    tables: list[str] = field(default_factory=list)
    endpoints: int = 0
    write_endpoints: int = 0
    depends_on: list[str] = field(default_factory=list)     # apps it must reach once moved
    depended_on_by: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)       # what must change before it moves, in words
    coupling: int = 0                                       # weighted links to other project apps


@dataclass
class Inventory:
    project: str
    apps: list[AppReport]
    endpoints: list[Endpoint]
    tables: list[Table]
    relations: list[Relation]
    signals: list[SignalLink]
    imports: list[ImportLink]
    seams: list[list[str]]        # apps that can only move together (a dependency circle), in the order proposed
    order: list[str]              # the apps, least coupled first
    identity_app: str | None      # moves last: the router's identity bridge asks it until it does
    reasons: list[str] = field(default_factory=list)   # why the order is what it is, one line an app
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["endpoints"] = [{**asdict(e), "writes": e.writes} for e in self.endpoints]
        data["relations"] = [{**asdict(r), "crosses": r.crosses} for r in self.relations]
        data["signals"] = [{**asdict(s), "crosses": s.crosses} for s in self.signals]
        return data
