"""The steps that move data and not traffic (data only ever moves through the data-split engine), and the
decommission, which stops feeding the old tables once the service owns them.

(The table of every step, with what each does and undoes, is :mod:`strangler.plans.steps`.)
"""

from __future__ import annotations

from typing import Any, ClassVar

from strangler import datasplit
from strangler.datasplit import ownership
from strangler.datasplit.databases import Split
from strangler.planfile.kinds import BY_NAME
from strangler.plans.steps.base import Flow, StepAction


class _EngineCall(StepAction):
    """A step that is one call of the data-split engine on the forward split; its report is its figures."""

    @staticmethod
    def call(split: Split) -> Any:
        raise NotImplementedError

    def do(self) -> dict[str, Any]:
        figures: dict[str, Any] = self.call(self.ctx.split()).to_dict()
        return figures


class Provision(_EngineCall):
    kind = BY_NAME["provision"]
    call = staticmethod(datasplit.provision)


class Capture(_EngineCall):
    kind = BY_NAME["capture"]
    call = staticmethod(datasplit.capture)

    def undo(self) -> dict[str, Any]:
        for side in ownership.SIDES:
            ownership.remove(self.ctx.split(), side)
        return datasplit.uncapture(self.ctx.split()).to_dict()


class Copy(StepAction):
    kind = BY_NAME["copy"]
    sync_after: ClassVar[Flow | None] = "forward"

    def do(self) -> dict[str, Any]:
        split = self.ctx.split()
        copied = datasplit.copy(split).to_dict()
        # From here the service's copy takes writes from the forward sync only (and the monolith's from
        # anyone, until the cutover moves ownership).
        for side in ownership.SIDES:
            ownership.install(split, side, "monolith")
        return {**copied, "ownership": ownership.read(split).to_dict()}


class Sync(_EngineCall):
    kind = BY_NAME["sync"]
    call = staticmethod(datasplit.sync)


class Verify(StepAction):
    kind = BY_NAME["verify"]

    def do(self) -> dict[str, Any]:
        self.ctx.sync_until_caught_up(reverse=False, rounds=10)
        return self.gate()

    def gate(self) -> dict[str, Any]:
        # Writes go on during this step: a row written between the sync and its comparison is compared
        # again after the next sync (three rounds); only a row that keeps differing fails the step.
        return self.ctx.verify(reverse=False, settle=3)


class Decommission(StepAction):
    kind = BY_NAME["decommission"]
    moves_traffic = True
    sync_after: ClassVar[Flow | None] = "stopped"

    def do(self) -> dict[str, Any]:
        # The legacy code no longer reads the old tables: stop feeding them, in both directions. The
        # monolith's copy keeps its guard (it refuses writes: nothing feeds it any more); the service's goes.
        # Snapshot tables are the monolith's still, and the service still reads its copy: their capture, the
        # changelog and the service's guard stay, and their forward sync goes on (`strangler follow`, `strangler
        # split sync`) until `strangler split uncapture PLAN` (or a later plan) stops it.
        ctx = self.ctx
        forward = datasplit.uncapture(ctx.split(), drop_changelog=True, keep_snapshots=True).to_dict()
        reverse = datasplit.uncapture(ctx.split(reverse=True), drop_changelog=True).to_dict()
        ownership.remove(ctx.split(), "service", snapshots=False)
        figures = {"forward": forward, "reverse": reverse, "old_tables": "kept (they refuse writes)"}
        if ctx.split().plan.snapshots:
            figures["snapshots"] = (f"still captured and synced forward: {', '.join(forward['kept'])} (`strangler "
                                    "split uncapture PLAN` stops that)")
        return figures

    def undo(self) -> dict[str, Any]:
        # Feed the old tables again; what the service changed meanwhile is copied over, then checked.
        ctx = self.ctx
        ownership.install(ctx.split(), "service", "service")
        capture = datasplit.capture(ctx.split(reverse=True)).to_dict()
        datasplit.copy(ctx.split(reverse=True), restart=True)
        datasplit.capture(ctx.split())
        return {"reverse_capture": capture, "verify": ctx.verify(reverse=True)}
