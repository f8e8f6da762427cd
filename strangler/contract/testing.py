"""Regression cases from the contract check's findings: ``ContractEnv`` holds one request to the monolith's
answer, on the same kind of scratch set-up the check itself uses.

The check prints each difference as a pytest case calling a ``contract_env`` fixture::

    def test_contract_get_api_catalog_products(contract_env: ContractEnv) -> None:
        contract_env.assert_same(ContractRequest(method='GET', path='/api/catalog/products/', ...))

A project provides that fixture once (tests/strangler/contract/conftest.py does, on a seeded shop)::

    with ContractEnv("migration_plans/catalog.yaml", source_settings={"NAME": "/path/shop.sqlite3"}) as env:
        yield env
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from strangler.contract.check import plan_gate, rules_for
from strangler.contract.environment import Environment, Say
from strangler.contract.exceptions import ContractError
from strangler.contract.requests import ContractRequest
from strangler.contract.runner import Checker, Outcome
from strangler.planfile.model import PlanFileInvalid
from strangler.planfile.reader import read_plan_file


class ContractEnv:
    def __init__(self, plan_path: str | Path, *, root: Path | None = None, say: Say | None = None,
                 source_settings: dict[str, Any] | None = None, service_env: dict[str, str] | None = None) -> None:
        from strangler.project import project_root

        try:
            plan = read_plan_file(plan_path)
        except PlanFileInvalid as exc:
            raise ContractError("\n".join(exc.lines())) from None
        gate = plan_gate(plan)
        self.rules = rules_for(plan, gate)
        self.env = Environment(plan, gate, root=root or project_root(), say=say or (lambda _: None),
                               source_settings=source_settings, service_env=service_env)
        self.checker = Checker(self.env, self.rules)

    def __enter__(self) -> ContractEnv:
        self.env.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.env.__exit__(kind, value, traceback)

    def check(self, request: ContractRequest) -> Outcome:
        return self.checker.check(request)

    def assert_same(self, request: ContractRequest) -> None:
        outcome = self.check(request)
        if outcome.differences:
            lines = [f"{request.describe()}: the service answers differently",
                     f"  monolith {outcome.monolith.status}: {outcome.monolith.response.body[:200]!r}",
                     f"  service  {outcome.service.status}: {outcome.service.response.body[:200]!r}",
                     *(f"  {d}" for d in outcome.differences[:10])]
            raise AssertionError("\n".join(lines))
