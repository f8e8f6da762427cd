"""The kinds of step a plan may hold: one registry, :data:`KINDS`, in the order a plan runs them.

For each kind it says what the plan file's schema needs (its name, its place in the order, the model of its
settings, the id its step goes by) and nothing about how it runs: the executor's step classes
(:mod:`strangler.plans.steps`) each name the kind they run, and refuse to load unless every kind here has
exactly one. A new kind of step is one line here and one class there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from strangler.planfile.values import HeaderName, JsonPath, Name, Positive, Rate, Seconds, Spec, Text, UrlPath


class ShadowGate(Spec):
    min_requests: Positive = 50
    max_mismatch_rate: Rate = 0.0
    # Comparison rules handed to the router's shadow (JSON paths): fields that live writes change between
    # the two answers (replication lag, not a difference of behaviour), found by calibration.
    ignore: list[JsonPath] = []
    unordered: list[JsonPath] = []
    timeout: Seconds = 300.0
    poll: Seconds = 1.0


class ContractGate(Spec):
    """Generated requests sent to scratch copies of the monolith and the service (strangler.contract)."""

    examples: Positive = 500
    # Distinct differences allowed (each a kind of difference on one operation, shrunk to one request).
    max_differences: Annotated[int, Field(ge=0)] = 0
    seed: Annotated[int, Field(ge=0)] | None = None  # None: a new one each run (printed, to reproduce)
    # The routes file that defines the plan's endpoints (relative: under the project root): which paths the
    # moved routes cover, the identity bridge and the backends' timeouts.
    routes: Text = "router/routes.yaml"
    openapi: UrlPath = "/api/schema/?format=json"  # the schema, on the monolith
    # None: the shadow step's ignore rules (what the plan already accepts as not a difference).
    ignore: list[JsonPath] | None = None
    headers: list[HeaderName] = [
        "content-type", "location", "allow", "www-authenticate", "vary"]
    # Who the requests are sent as: nobody, a user, a staff member, a credential nobody issued, a credential
    # the monolith issued and no longer takes (its user deactivated).
    identities: Annotated[list[Literal["anonymous", "user", "staff", "bad-token", "revoked-token"]],
                          Field(min_length=1)] = ["anonymous", "user", "staff", "bad-token", "revoked-token"]
    # Kinds of difference known and accepted for now, exactly as the check names them
    # ("DELETE /api/catalog/products/{id}/: status 409 vs 204"): still reported, never counted.
    accept: list[Text] = []
    timeout: Seconds = 600.0  # the whole check, start-up included
    # false: safe methods only, even where the scratch copies could be reset after each write. For a service whose
    # writes reach owners the check does not copy (other services it calls, a durable-execution system database
    # it shares with the running service): a generated write would change the real ones.
    writes: bool = True


class CanaryGate(Spec):
    percent: Annotated[float, Field(gt=0, le=100)]
    min_requests: Positive = 50
    max_error_rate: Rate = 0.01
    max_p99_ratio: Seconds = 2.0  # the service's p99 against the monolith's
    timeout: Seconds = 300.0
    poll: Seconds = 1.0


class CutoverSpec(Spec):
    freeze_seconds: Annotated[float, Field(gt=0, le=300)] = 5.0  # the longest write freeze the plan allows
    lease_seconds: Annotated[float, Field(gt=0, le=60)] = 3.0  # the freeze lease's TTL, renewed while working
    max_sync_rounds: Positive = 20
    # Other routes whose writes touch the moved tables through legacy code (a checkout that takes stock):
    # frozen with the moved writes, so no write of the moved tables escapes the final sync.
    also_freeze: list[Name] = []


@dataclass(frozen=True)
class StepKind:
    name: str
    options: type[Spec] | None = None  # the model of its settings; None: the step takes none
    id_of: Callable[[Any], str] | None = None  # the step's id from its settings; None: the kind's name

    def step_id(self, spec: Any) -> str:
        return self.name if self.id_of is None else self.id_of(spec)


def _canary_id(spec: CanaryGate) -> str:
    return f"canary-{spec.percent:g}"  # a plan has a canary step per share: canary-10, canary-50


KINDS: tuple[StepKind, ...] = (
    StepKind("provision"), StepKind("capture"), StepKind("copy"), StepKind("sync"), StepKind("verify"),
    StepKind("contract", ContractGate), StepKind("shadow", ShadowGate), StepKind("canary", CanaryGate, _canary_id),
    StepKind("cutover", CutoverSpec), StepKind("decommission"),
)
BY_NAME: dict[str, StepKind] = {kind.name: kind for kind in KINDS}
ORDER: tuple[str, ...] = tuple(BY_NAME)


@dataclass(frozen=True)
class Step:
    """A step of a plan, as the file gives it."""

    id: str  # unique in the plan: "copy", "canary-10", ...
    kind: str  # a name of KINDS
    spec: Any  # the kind's settings (an instance of its options model), or None
