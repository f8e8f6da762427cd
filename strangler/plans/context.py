"""What every step works with: the plan, its two databases (forward and reverse), the router's admin API, the
state store, and the moves several steps share (routes to a backend, sync until caught up, verify)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strangler import datasplit
from strangler.datasplit.databases import Split
from strangler.plans.admin import RouterAdmin
from strangler.plans.exceptions import StepFailed
from strangler.plans.schema import CutoverSpec, ExecutorPlan
from strangler.plans.state import StateStore

Say = Callable[[str], None]


@dataclass
class Context:
    plan: ExecutorPlan
    say: Say
    root: Path
    state: StateStore
    _splits: dict[bool, Split] = field(default_factory=dict)
    _admin: RouterAdmin | None = None

    def split(self, *, reverse: bool = False) -> Split:
        if reverse not in self._splits:
            self._splits[reverse] = datasplit.open_split(self.plan.path, reverse=reverse)
        return self._splits[reverse]

    @property
    def admin(self) -> RouterAdmin:
        if self._admin is None:
            self._admin = RouterAdmin(self.plan.router)
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
        for split in self._splits.values():
            split.close()
        self._splits.clear()

    # -- routes -------------------------------------------------------------------------------------------
    def reads_routes(self) -> list[str]:
        """The routes that carry the moved endpoints' reads (shadowed, then a canary share of them)."""
        return list(self.plan.endpoints.reads)

    def writes_routes(self) -> list[str]:
        return list(self.plan.endpoints.writes)

    def moved_routes(self) -> list[str]:
        """Every route the plan moves, once each, writes first (a route may carry both)."""
        return list(self.plan.endpoints.routes)

    def frozen_routes(self, spec: CutoverSpec | None) -> list[str]:
        also = list(spec.also_freeze) if spec is not None else []
        return list(dict.fromkeys([*self.writes_routes(), *also]))

    def route_to(self, backend: str, routes: list[str], *, canary: float | None = None,
                 fallback: str | None = None) -> None:
        for route in routes:
            self.admin.patch(route, backend=backend, canary=canary, fallback=fallback, shadow=None)

    def placement(self, owner: str, previous_canary: float | None) -> dict[str, dict[str, Any]]:
        """Every moved route as it stands when ``owner`` owns the data, writes routes first: everything on the
        service, or the writes on the monolith and the reads at the last canary share that held (None: all on
        the monolith). A route that carries writes too is never left at a canary share."""
        router = self.plan.router
        if owner == "service":
            return {r: {"backend": router.service_backend, "canary": None, "fallback": None, "shadow": None}
                    for r in self.moved_routes()}
        on_monolith = {"backend": router.monolith_backend, "canary": None, "fallback": None, "shadow": None}
        routes: dict[str, dict[str, Any]] = {r: dict(on_monolith) for r in self.writes_routes()}
        for route in self.reads_routes():
            if route in routes:
                continue
            if previous_canary is None:
                routes[route] = dict(on_monolith)
            else:
                routes[route] = {"backend": router.service_backend, "canary": previous_canary,
                                 "fallback": router.monolith_backend, "shadow": None}
        return routes

    # -- data ---------------------------------------------------------------------------------------------
    def sync_until_caught_up(self, *, reverse: bool, rounds: int, strict: bool = True) -> dict[str, Any]:
        """Syncs until nothing is left (``strict=False``: as far as it gets in ``rounds`` while writes go on,
        which is what the catching up before a freeze needs; the sync under the freeze must reach zero). The
        snapshot tables are not frozen (the monolith keeps writing them): a strict sync needs zero lag on the
        other tables only, and stops there (whatever the snapshots' lag, the next forward sync takes it)."""
        report = datasplit.sync(self.split(reverse=reverse))
        for _ in range(rounds - 1):
            if report.lag_rows == 0 or (strict and report.lag_rows == report.snapshot_lag_rows):
                break
            report = datasplit.sync(self.split(reverse=reverse))
        behind = report.lag_rows - report.snapshot_lag_rows
        if behind and strict:
            raise StepFailed(f"sync ({'service to monolith' if reverse else 'monolith to service'}) still "
                             f"{behind} changes behind after {rounds} rounds")
        return report.to_dict()

    def verify(self, *, reverse: bool, snapshots: bool = True, settle: int = 0) -> dict[str, Any]:
        """Verify (``snapshots=False``: the plan's snapshot tables left out), or ``StepFailed`` naming what
        differs. ``settle``: while writes go on (the verify step, not a freeze), up to that many rounds of a
        sync and a recheck of the chunks that differed; a row that still differs after them has diverged."""
        split = self.split(reverse=reverse)
        report = datasplit.verify(split, snapshots=snapshots)
        for _ in range(settle):
            if report.ok:
                break
            self.sync_until_caught_up(reverse=reverse, rounds=3, strict=False)
            report = datasplit.recheck(split, report)
        result = report.to_dict()
        if not report.ok:
            bad = [t for t in result["tables"] if not t["ok"]]
            raise StepFailed("verify: " + "; ".join(
                f"{t['target']}: {len(t['missing'])} missing, {len(t['extra'])} extra, {len(t['changed'])} "
                f"changed (first keys {(t['missing'] + t['extra'] + t['changed'])[:5]})" for t in bad))
        return result
