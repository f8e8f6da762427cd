"""Hooks: commands a step runs in the world outside the databases and the router (switching the monolith's
gateway to the service), as recorded sub-steps with their own undo.

Each hook's state is written to the state database before and after it runs (``doing`` -> ``done``,
``undoing`` -> ``undone``), so a crash at any point leaves a record of what may have happened: ``run`` does a
hook again unless it is ``done`` (hooks are idempotent: "set the gateway to remote"), and ``rollback`` undoes
every hook that may have run (``doing``, ``done`` or ``undoing``), in reverse order. A hook slower than its
timeout (or than what is left of the freeze) is stopped and counts as failed.

A hook marked ``prepare: true`` speaks the go protocol, so that its start-up (a Django process takes seconds on a
loaded machine) and its checks (a probe of the service) happen before the write freeze, not inside it: the runner
starts it before the freeze with ``STRANGLER_HOOK_GO=stdin`` in its environment and a pipe as its stdin; the hook
does everything but its action, prints a line ``ready``, and reads one line from stdin. On ``go`` it acts and exits
(0 when it succeeded); on anything else, or at the end of its input (the runner gave up on the step, or died and
its end of the pipe closed with it), it exits without acting (non-zero). A hook that fails or exits before its
``ready``, or is not ready within its ``timeout``, fails the step before the freeze: nothing frozen, nothing
changed. At the hook's point inside the freeze the runner records it ``doing``, writes ``go``, and waits for it
with what is left of the freeze, as for any hook. Undoing (a rollback, or a cutover undoing itself) runs the
``undo`` command as before, started then and there, without the protocol.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from strangler import crashpoints
from strangler.plans.context import Context
from strangler.plans.exceptions import StepFailed

if TYPE_CHECKING:
    from strangler.plans.schema import Hook

UNDO_STATES = ("doing", "done", "undoing")
GO_ENV = "STRANGLER_HOOK_GO"  # set to "stdin" for a prepared hook: it says "ready", then waits for "go" on stdin
READY, GO = "ready", "go"
EXIT_WAIT = 5.0  # how long a hook told to stand down (end of its input) has to exit before it is killed


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


class Prepared:
    """A prepared hook's process: started, reading its output in a thread, told ``go`` or to stand down."""

    def __init__(self, ctx: Context, hook: Hook) -> None:
        self.hook = hook
        argv = _argv(hook.do)
        ctx.say(f"hook {hook.name} (do, prepared before the freeze): {' '.join(argv)}")
        self.started = time.monotonic()
        self.process = subprocess.Popen(argv, cwd=ctx.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # noqa: S603
                                        stderr=subprocess.STDOUT, text=True, env={**os.environ, GO_ENV: "stdin"})
        self._lines: list[str] = []
        self._ready = threading.Event()
        self._ended = threading.Event()  # its output closed: it exited (or closed its stdout)
        self._reader = threading.Thread(target=self._read, name=f"hook-{hook.name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            for line in self.process.stdout:
                self._lines.append(line)
                if line.strip() == READY:
                    self._ready.set()
        finally:
            self._ended.set()

    def output(self) -> str:
        return "".join(self._lines).strip()[-500:]

    def wait_ready(self) -> float:
        """Seconds the hook took to be ready; :class:`StepFailed` if it exits first or is not ready in time."""
        name = self.hook.name
        deadline = self.started + self.hook.timeout
        while not self._ready.is_set():
            if self._ended.is_set():
                code = self._stop()
                raise StepFailed(f"hook {name} (do) exited ({code}) before it was ready, so before the freeze: "
                                 f"nothing frozen, nothing changed: {self.output()}")
            if time.monotonic() >= deadline:
                self._stop(kill=True)
                raise StepFailed(f"hook {name} (do) was not ready within {self.hook.timeout:.1f}s (prepare: true: "
                                 f"it prints {READY!r}, then waits for {GO!r} on stdin); stopped before the freeze: "
                                 f"nothing frozen, nothing changed: {self.output()}")
            self._ready.wait(0.02)
        return time.monotonic() - self.started

    def go(self, timeout: float) -> None:
        """Tells the ready hook to act, and waits at most ``timeout`` for it to finish."""
        name = self.hook.name
        assert self.process.stdin is not None
        if self.process.poll() is not None:
            raise StepFailed(f"hook {name} (do) exited ({self.process.returncode}) while waiting for its go: "
                             f"{self.output()}")
        try:
            self.process.stdin.write(GO + "\n")
            self.process.stdin.close()
        except OSError as exc:  # it exited between the look and the write
            self._stop()
            raise StepFailed(f"hook {name} (do) could not be told to go ({exc}): {self.output()}") from None
        crashpoints.reached(f"hook.{name}.do.running")
        try:
            self.process.wait(timeout=max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            self._stop(kill=True)
            raise StepFailed(f"hook {name} (do) did not finish within {timeout:.1f}s; stopped") from None
        self._reader.join(timeout=EXIT_WAIT)
        if self.process.returncode != 0:
            raise StepFailed(f"hook {name} (do) failed ({self.process.returncode}): {self.output()}")

    def close(self) -> None:
        """Stands the hook down if it never got its go (the end of its input, then a kill if it lingers); closes
        the pipes of one that exited."""
        self._stop()

    def _stop(self, *, kill: bool = False) -> int:
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()  # the end of its input: a hook that was not told to go exits
            except OSError:
                pass
        if not kill:
            try:
                self.process.wait(timeout=EXIT_WAIT)
            except subprocess.TimeoutExpired:
                kill = True
        if kill:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=EXIT_WAIT)
        if self.process.stdout is not None and not self._reader.is_alive():  # else something of it holds it open
            self.process.stdout.close()
        return self.process.returncode


class Preparation:
    """The prepared hooks of one step (``prepare: true``, not yet done), started at once, side by side.

    A context manager: on leaving it, every hook that did not get its go is stood down (it exits without acting).
    """

    def __init__(self, ctx: Context, step: str, hooks: tuple[Hook, ...]) -> None:
        self.ctx = ctx
        self.hooks: dict[str, Prepared] = {}
        done = ctx.state.substeps(ctx.plan.name, step)
        try:
            for hook in hooks:
                if hook.prepare and done.get(f"hook:{hook.name}") != "done":
                    self.hooks[hook.name] = Prepared(ctx, hook)
        except BaseException:
            self.close()
            raise

    def wait_ready(self) -> None:
        """Waits for every hook's ``ready``, each within its own timeout; the first that fails stands all down."""
        try:
            for name, prepared in self.hooks.items():
                self.ctx.say(f"hook {name}: ready after {prepared.wait_ready():.1f}s, waiting for its go")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for prepared in self.hooks.values():
            prepared.close()

    def __enter__(self) -> Preparation:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def do_all(ctx: Context, step: str, hooks: tuple[Hook, ...], *, time_left: Any = None,
           prepared: Preparation | None = None) -> list[str]:
    """Runs every hook not yet done; ``time_left()`` caps each one's timeout (the freeze's remaining time). A hook
    in ``prepared`` (started before the freeze, ready) is told to go; any other is started here."""
    ran = []
    for hook in hooks:
        key = f"hook:{hook.name}"
        if ctx.state.substeps(ctx.plan.name, step).get(key) == "done":
            continue
        ready = prepared.hooks.get(hook.name) if prepared is not None else None
        ctx.state.set_substep(ctx.plan.name, step, key, "doing")
        crashpoints.reached(f"hook.{hook.name}.before")
        limit = hook.timeout if time_left is None else min(hook.timeout, time_left())
        if limit <= 0:
            raise StepFailed(f"hook {hook.name}: no time left in the freeze to run it")
        if ready is not None:
            ctx.say(f"hook {hook.name} (do): go")
            ready.go(limit)
        else:
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
