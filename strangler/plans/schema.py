"""The executor's part of a plan file: how to run the service, where the router is, which routes carry the
moved endpoints, and the ordered steps with their gates. (The data-split part — tables and columns — is
read by ``strangler.datasplit.plan``; both live in the same file.)

    service: {name, start: [argv...], url, health: /healthz, ...}
    router:  {admin_url, token_env, monolith_backend, service_backend}
    endpoints: {reads: ROUTE, writes: ROUTE}          # routes that exist in the router's file
    steps:
      - provision / capture / copy / sync / verify
      - shadow: {min_requests: 50, max_mismatch_rate: 0.01, timeout: 300}
      - canary: {percent: 10, min_requests: 50, max_error_rate: 0.01, max_p99_ratio: 2.0, timeout: 300}
      - cutover: {freeze_seconds: 5}
      - decommission
    hooks: {after_cutover: [[argv...]], after_rollback: [[argv...]]}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from strangler.plans.exceptions import PlanFileError

SIMPLE_STEPS = ("provision", "capture", "copy", "sync", "verify", "decommission")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShadowGate(_Spec):
    min_requests: Annotated[int, Field(ge=1)] = 50
    max_mismatch_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    # Comparison rules handed to the router's shadow (JSON paths): fields that live writes change between
    # the two answers (replication lag, not a difference of behaviour), found by calibration.
    ignore: list[str] = []
    unordered: list[str] = []
    timeout: Annotated[float, Field(gt=0)] = 300.0
    poll: Annotated[float, Field(gt=0)] = 1.0


class CanaryGate(_Spec):
    percent: Annotated[float, Field(gt=0, le=100)]
    min_requests: Annotated[int, Field(ge=1)] = 50
    max_error_rate: Annotated[float, Field(ge=0, le=1)] = 0.01
    max_p99_ratio: Annotated[float, Field(gt=0)] = 2.0  # the service's p99 against the monolith's
    timeout: Annotated[float, Field(gt=0)] = 300.0
    poll: Annotated[float, Field(gt=0)] = 1.0


class CutoverSpec(_Spec):
    freeze_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    max_sync_rounds: Annotated[int, Field(ge=1)] = 20
    # Other routes whose writes touch the moved tables through legacy code (a checkout that takes stock):
    # frozen with the moved writes, so no write of the moved tables escapes the final sync.
    also_freeze: list[str] = []


class RouterSpec(_Spec):
    admin_url: str = "http://127.0.0.1:8081"
    token_env: str = "ROUTER_ADMIN_TOKEN"  # noqa: S105 - the variable's name
    monolith_backend: str = "monolith"
    service_backend: str


class EndpointsSpec(_Spec):
    reads: str
    writes: str | None = None


class ServiceRuntime(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)  # the data-split keys live here too
    name: str
    start: list[str] | None = None
    url: str | None = None
    health: str = "/healthz"


class HooksSpec(_Spec):
    after_cutover: list[list[str]] = []
    after_rollback: list[list[str]] = []


@dataclass(frozen=True)
class Step:
    id: str  # unique in the plan: "copy", "canary-10", ...
    kind: str
    spec: Any  # the kind's spec model, or None


@dataclass(frozen=True)
class ExecutorPlan:
    path: Path
    name: str
    service: ServiceRuntime
    router: RouterSpec
    endpoints: EndpointsSpec
    steps: tuple[Step, ...]
    hooks: HooksSpec

    def index(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise PlanFileError([f"{self.path}: no step {step_id!r} (steps: {', '.join(s.id for s in self.steps)})"])


_KINDS: dict[str, type[_Spec]] = {"shadow": ShadowGate, "canary": CanaryGate, "cutover": CutoverSpec}


def _describe(prefix: str, error: Any) -> str:
    loc = ".".join(str(p) for p in (prefix, *error["loc"]) if p != "")
    if error["type"] == "extra_forbidden":
        return f"{loc}: unknown key"
    if error["type"] == "missing":
        return f"{loc}: required"
    return f"{loc}: {error['msg'].removeprefix('Value error, ')} (got {error.get('input')!r})"


def load_executor_plan(path: str | Path) -> ExecutorPlan:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanFileError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        raise PlanFileError([f"{path}: not valid YAML: {exc}"]) from None
    if not isinstance(doc, dict):
        raise PlanFileError([f"{path}: expected a mapping at the top"])
    problems: list[str] = []

    def model(cls: type[BaseModel], key: str, value: Any) -> Any:
        try:
            return cls.model_validate(value if value is not None else {})
        except ValidationError as exc:
            problems.extend(f"{path}: {_describe(key, e)}" for e in exc.errors())
            return None

    service = model(ServiceRuntime, "service", doc.get("service"))
    router = model(RouterSpec, "router", doc.get("router"))
    endpoints = model(EndpointsSpec, "endpoints", doc.get("endpoints"))
    hooks = model(HooksSpec, "hooks", doc.get("hooks"))
    steps: list[Step] = []
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append(f"{path}: steps: expected a non-empty list of steps")
        raw_steps = []
    for i, raw in enumerate(raw_steps):
        where = f"steps[{i}]"
        if isinstance(raw, str):
            kind, body = raw, None
        elif isinstance(raw, dict) and len(raw) == 1:
            kind, body = next(iter(raw.items()))
        else:
            problems.append(f"{path}: {where}: a step is a name or a one-key mapping {{name: {{...}}}}, "
                            f"got {raw!r}")
            continue
        if kind not in SIMPLE_STEPS and kind not in _KINDS:
            problems.append(f"{path}: {where}: unknown step {kind!r} (known: "
                            f"{', '.join(sorted({*SIMPLE_STEPS, *_KINDS}))})")
            continue
        spec = model(_KINDS[kind], where + f".{kind}", body) if kind in _KINDS else None
        if body is not None and kind not in _KINDS:
            problems.append(f"{path}: {where}.{kind}: this step takes no settings")
        step_id = f"canary-{spec.percent:g}" if kind == "canary" and spec else kind
        if any(s.id == step_id for s in steps):
            problems.append(f"{path}: {where}: step {step_id!r} appears twice")
        steps.append(Step(step_id, kind, spec))
    order = [s.kind for s in steps]
    expected = ["provision", "capture", "copy", "sync", "verify", "shadow", "canary", "cutover", "decommission"]
    ranks = [expected.index(k) for k in order]
    if ranks != sorted(ranks):
        problems.append(f"{path}: steps: out of order ({', '.join(order)}); the order is "
                        f"{', '.join(expected)}")
    percents = [s.spec.percent for s in steps if s.kind == "canary" and s.spec]
    if percents != sorted(percents):
        problems.append(f"{path}: steps: canary percentages must rise ({', '.join(f'{p:g}' for p in percents)})")
    if "cutover" in order and endpoints is not None and endpoints.writes is None:
        problems.append(f"{path}: endpoints.writes: required for a cutover (the write freeze and the switch)")
    if "cutover" in order and service is not None and not service.url:
        problems.append(f"{path}: service.url: required once traffic moves to the service")
    if problems:
        raise PlanFileError(problems)
    return ExecutorPlan(path=path, name=str(doc.get("name") or path.stem), service=service, router=router,
                        endpoints=endpoints, steps=tuple(steps), hooks=hooks)


StepKind = Literal["provision", "capture", "copy", "sync", "verify", "shadow", "canary", "cutover", "decommission"]
