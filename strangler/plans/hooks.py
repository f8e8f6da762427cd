"""Hooks: commands a step runs in the world outside the databases and the router (switching the monolith's
gateway to the service), as recorded sub-steps with their own undo.

Each hook's state is written to the state database before and after it runs (``doing`` -> ``done``,
``undoing`` -> ``undone``), so a crash at any point leaves a record of what may have happened: ``run`` does a
hook again unless it is ``done`` (hooks are idempotent: "set the gateway to remote"), and ``rollback`` undoes
every hook that may have run (``doing``, ``done`` or ``undoing``), in reverse order. A hook slower than its
timeout (or than what is left of the freeze) is stopped and counts as failed.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING, Any

from strangler import crashpoints
from strangler.plans.context import Context
from strangler.plans.exceptions import StepFailed

if TYPE_CHECKING:
    from strangler.plans.schema import Hook

UNDO_STATES = ("doing", "done", "undoing")


def _argv(template: list[str] | tuple[str, ...]) -> list[str]:
    return [sys.executable if part == "{python}" else part for part in template]


def _run(ctx: Context, hook: Hook, which: str, timeout: float) -> None:
    argv = _argv(hook.do if which == "do" else hook.undo)
    ctx.say(f"hook {hook.name} ({which}): {' '.join(argv)}")
    process = subprocess.Popen(argv, cwd=ctx.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: S603
                               text=True)
    crashpoints.reached(f"hook.{hook.name}.{which}.running")
    try:
        output, _ = process.communicate(timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise StepFailed(f"hook {hook.name} ({which}) did not finish within {timeout:.1f}s; stopped") from None
    if process.returncode != 0:
        raise StepFailed(f"hook {hook.name} ({which}) failed ({process.returncode}): {output.strip()[-500:]}")


def do_all(ctx: Context, step: str, hooks: tuple[Hook, ...], *, time_left: Any = None) -> list[str]:
    """Runs every hook not yet done; ``time_left()`` caps each one's timeout (the freeze's remaining time)."""
    ran = []
    for hook in hooks:
        key = f"hook:{hook.name}"
        if ctx.state.substeps(ctx.plan.name, step).get(key) == "done":
            continue
        ctx.state.set_substep(ctx.plan.name, step, key, "doing")
        crashpoints.reached(f"hook.{hook.name}.before")
        limit = hook.timeout if time_left is None else min(hook.timeout, time_left())
        if limit <= 0:
            raise StepFailed(f"hook {hook.name}: no time left in the freeze to run it")
        _run(ctx, hook, "do", limit)
        ctx.state.set_substep(ctx.plan.name, step, key, "done")
        crashpoints.reached(f"hook.{hook.name}.after")
        ran.append(hook.name)
    return ran


def undo_all(ctx: Context, step: str, hooks: tuple[Hook, ...]) -> list[str]:
    """Undoes, last first, every hook that may have run; the undo of each is recorded like its do."""
    undone = []
    for hook in reversed(hooks):
        key = f"hook:{hook.name}"
        if ctx.state.substeps(ctx.plan.name, step).get(key) not in UNDO_STATES:
            continue
        ctx.state.set_substep(ctx.plan.name, step, key, "undoing")
        crashpoints.reached(f"hook.{hook.name}.undo.before")
        _run(ctx, hook, "undo", hook.timeout)
        ctx.state.set_substep(ctx.plan.name, step, key, "undone")
        undone.append(hook.name)
    return undone
