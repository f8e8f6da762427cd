"""The executor's state database: one transaction per transition, figures kept per step, history in order, and
the lock that refuses a second executor while its holder lives (a real second process) and takes over a dead
one's."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from strangler.plans.exceptions import PlanLocked
from strangler.plans.state import STALE_LOCK_SECONDS, StateStore

from .conftest import ROOT

HOST = socket.gethostname()


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state" / "state.sqlite3")


def test_a_new_plan_starts_ready_at_the_start(store: StateStore) -> None:
    state = store.get("catalog")
    assert (state.plan, state.done_index, state.done_step, state.running, state.status, state.message,
            state.figures, state.lock) == ("catalog", -1, None, None, "ready", None, {}, None)
    assert [s.plan for s in store.all()] == ["catalog"]
    assert store.history("catalog") == []


def test_begin_end_fail_and_history(store: StateStore) -> None:
    store.begin("catalog", "provision", "do")
    state = store.get("catalog")
    assert (state.running, state.status, state.done_index) == ("do:provision", "running", -1)

    store.end("catalog", "provision", "do", done_index=0, done_step="provision", figures={"created": True})
    state = store.get("catalog")
    assert (state.running, state.status, state.done_index, state.done_step) == (None, "ready", 0, "provision")

    store.begin("catalog", "capture", "do")
    store.fail("catalog", "capture", "do", "capture: no such table", figures={"tables": 0})
    state = store.get("catalog")
    assert (state.running, state.status, state.message, state.done_index, state.done_step) == (
        "failed:capture", "failed", "capture: no such table", 0, "provision")
    # A new begin clears the message of the failure.
    store.begin("catalog", "capture", "do")
    assert store.get("catalog").message is None

    history = [(h["step"], h["action"], h["outcome"], h["detail"]) for h in store.history("catalog")]
    assert history == [
        ("provision", "do", "started", None),
        ("provision", "do", "done", {"created": True}),
        ("capture", "do", "started", None),
        ("capture", "do", "failed", {"message": "capture: no such table"}),
        ("capture", "do", "started", None),
    ]
    assert [h["step"] for h in store.history("catalog", limit=2)] == ["capture", "capture"]
    times = [h["at"] for h in store.history("catalog")]
    assert times == sorted(times)


def test_figures_are_kept_per_step_and_replaced_by_the_steps_latest(store: StateStore) -> None:
    store.end("p", "copy", "do", done_index=2, done_step="copy", figures={"rows": 10})
    store.end("p", "verify", "do", done_index=4, done_step="verify", figures={"ok": True})
    store.end("p", "sync", "do", done_index=4, done_step="verify")  # no figures: the others stay
    assert store.get("p").figures == {"copy": {"rows": 10}, "verify": {"ok": True}}
    store.end("p", "copy", "undo", done_index=1, done_step="capture", figures={"kept": "copy"})
    store.fail("p", "shadow", "do", "gate", figures={"compared": 3})
    assert store.get("p").figures == {"copy": {"kept": "copy"}, "verify": {"ok": True}, "shadow": {"compared": 3}}


def test_plans_are_independent(store: StateStore) -> None:
    store.end("a", "copy", "do", done_index=2, done_step="copy")
    store.begin("b", "provision", "do")
    assert [(s.plan, s.done_step, s.running) for s in store.all()] == [("a", "copy", None),
                                                                       ("b", None, "do:provision")]
    assert store.history("a")[0]["step"] == "copy" and len(store.history("a")) == 1


def test_the_lock_is_held_while_inside_and_released_after(store: StateStore) -> None:
    with store.locked("catalog"):
        assert store.get("catalog").lock == f"{HOST}:{os.getpid()}"
    assert store.get("catalog").lock is None


def test_the_lock_is_released_when_the_run_raises(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.locked("catalog"):
        raise RuntimeError("boom")
    assert store.get("catalog").lock is None


HOLDER = """
import sys, time
from pathlib import Path
from strangler.plans.state import StateStore
store = StateStore(Path(sys.argv[1]))
with store.locked(sys.argv[2]):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def holder(store: StateStore) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock on plan 'catalog' (until killed)."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(store.path), "catalog"], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        process.stdout.close()  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_second_executor_is_refused_while_the_holder_lives(store: StateStore,
                                                             holder: subprocess.Popen[str]) -> None:
    assert store.get("catalog").lock == f"{HOST}:{holder.pid}"
    with pytest.raises(PlanLocked) as caught, store.locked("catalog"):
        pytest.fail("the lock was taken from a live holder")
    message = str(caught.value)
    assert message.startswith(f"plan 'catalog' is being run by another executor (pid {holder.pid} on {HOST}, since ")
    assert message.endswith("); wait for it or stop it first")
    assert store.get("catalog").lock == f"{HOST}:{holder.pid}"  # left as it was
    with store.locked("other-plan"):  # other plans are not locked
        pass


@pytest.mark.slow
def test_a_dead_holders_lock_is_taken_over(store: StateStore, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)  # no cleanup: the lock stays in the database
    holder.wait(timeout=10)
    assert store.get("catalog").lock == f"{HOST}:{holder.pid}"
    with store.locked("catalog"):
        assert store.get("catalog").lock == f"{HOST}:{os.getpid()}"
    assert store.get("catalog").lock is None


def _lock_from(store: StateStore, host: str, pid: int, at: float) -> None:
    store.get("catalog")
    db = sqlite3.connect(store.path)
    with db:
        db.execute("UPDATE plan_state SET lock_host = ?, lock_pid = ?, lock_at = ? WHERE plan = 'catalog'",
                   (host, pid, at))
    db.close()


def test_a_recent_lock_from_another_host_is_respected(store: StateStore) -> None:
    _lock_from(store, "elsewhere.example", 4242, time.time() - 60)
    with pytest.raises(PlanLocked, match=r"pid 4242 on elsewhere\.example"), store.locked("catalog"):
        pass


def test_a_stale_lock_from_another_host_is_taken_over(store: StateStore) -> None:
    _lock_from(store, "elsewhere.example", 4242, time.time() - STALE_LOCK_SECONDS - 5)
    with store.locked("catalog"):
        assert store.get("catalog").lock == f"{HOST}:{os.getpid()}"


def test_begin_refreshes_the_lock_time(store: StateStore) -> None:
    with store.locked("catalog"):
        _lock_from(store, HOST, os.getpid(), 1.0)
        store.begin("catalog", "copy", "do")
        db = sqlite3.connect(store.path)
        (at,) = db.execute("SELECT lock_at FROM plan_state WHERE plan = 'catalog'").fetchone()
        db.close()
        assert at > time.time() - 60
