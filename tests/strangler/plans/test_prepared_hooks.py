"""Prepared hooks (``prepare: true``): started before the write freeze with ``STRANGLER_HOOK_GO=stdin``, they do
their start-up and checks, say ``ready``, and act only on the runner's ``go`` (strangler/plans/hooks.py).

The hooks are real processes (a small Python script, :data:`HOOK`). The first tests drive the runner's pieces
(``Preparation``, ``do_all``) directly, on a state database of their own; the last run the executor's cutover
against a real router (router_thread.py) and a real data split, as test_many_routes.py does, to show where the
freeze starts relative to the hooks: a hook that cannot be ready fails the step before any lease is taken, and a
ready one acts under the lease."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from router.config import parse_data
from strangler import datasplit as ds
from strangler.datasplit import ownership
from strangler.plans import cutover as cutover_module
from strangler.plans import hooks
from strangler.plans.exceptions import StepFailed
from strangler.plans.executor import Executor
from strangler.plans.lease import Lease
from strangler.plans.schema import Hook
from strangler.plans.state import StateStore

from .conftest import ROOT, catalog_doc
from .router_thread import TOKEN_ENV, RouterServer, serve

# A hook speaking the protocol: ``HOOK DIR MODE PAUSE``. It writes DIR/started at once, sleeps PAUSE seconds (its
# start-up), then by MODE: "ok" says ready and acts on go (writes DIR/acted: the time it read go; anything else, or
# the end of its input, writes DIR/no-go and exits 3), "fail" exits 2 before ready (a failed check), "silent" never
# says ready. Without STRANGLER_HOOK_GO it acts at once.
HOOK = """
import os, pathlib, sys, time
where, mode, pause = pathlib.Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
(where / "started").write_text(repr(time.time()))
time.sleep(pause)
if mode == "fail":
    print("probe: the service does not answer", flush=True)
    sys.exit(2)
if os.environ.get("STRANGLER_HOOK_GO") == "stdin":
    if mode == "silent":
        time.sleep(600)
    print("ready", flush=True)
    line = sys.stdin.readline()
    if line.strip() != "go":
        (where / "no-go").write_text(repr(line))
        print(f"no go ({line!r}): nothing done", flush=True)
        sys.exit(3)
(where / "acted").write_text(repr(time.time()))
print("acted", flush=True)
"""
STEP = "cutover"


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "hook.py"
    path.write_text(HOOK, encoding="utf-8")
    return path


class Runner:
    """What the hooks need of a plan's context: its name, the project root, progress lines, the state."""

    def __init__(self, tmp_path: Path, script: Path) -> None:
        self.tmp_path, self.script = tmp_path, script
        self.said: list[str] = []
        self.state = StateStore(tmp_path / "state.sqlite3")
        self.ctx: Any = SimpleNamespace(plan=SimpleNamespace(name="hooked"), root=ROOT, say=self.said.append,
                                        state=self.state)

    def hook(self, name: str, mode: str = "ok", pause: float = 0.0, *, timeout: float = 30.0) -> Hook:
        where = self.tmp_path / name
        where.mkdir()
        return Hook(name, "cutover", ("{python}", str(self.script), str(where), mode, str(pause)),
                    ("{python}", "-c", "0"), timeout, prepare=True)

    def acted(self, hook: Hook) -> bool:
        return (self.tmp_path / hook.name / "acted").exists()

    def substep(self, hook: Hook) -> str | None:
        return self.state.substeps("hooked", STEP).get(f"hook:{hook.name}")


@pytest.fixture
def runner(tmp_path: Path, script: Path) -> Runner:
    return Runner(tmp_path, script)


def test_a_prepared_hook_acts_only_after_its_go(runner: Runner) -> None:
    first, second = runner.hook("first"), runner.hook("second")
    with hooks.Preparation(runner.ctx, STEP, (first, second)) as prepared:
        prepared.wait_ready()
        time.sleep(0.3)  # ready and waiting: nothing done, nothing recorded
        assert not runner.acted(first) and not runner.acted(second)
        assert runner.substep(first) is None and runner.substep(second) is None
        assert hooks.do_all(runner.ctx, STEP, (first, second), prepared=prepared) == ["first", "second"]
    assert runner.acted(first) and runner.acted(second)
    assert runner.substep(first) == runner.substep(second) == "done"
    assert "hook first (do): go" in runner.said
    assert all(p.process.returncode == 0 for p in prepared.hooks.values())


def test_the_time_after_go_excludes_the_start_up(runner: Runner) -> None:
    slow = runner.hook("slow", pause=2.0)
    with hooks.Preparation(runner.ctx, STEP, (slow,)) as prepared:
        prepared.wait_ready()
        started = time.monotonic()
        hooks.do_all(runner.ctx, STEP, (slow,), time_left=lambda: 0.5, prepared=prepared)
        took = time.monotonic() - started
    assert took < 0.5 and runner.acted(slow)


def test_a_runner_that_gives_up_leaves_nothing_done(runner: Runner) -> None:
    """The end of its input (the runner closed it, or died and the pipe closed with it): the hook does nothing."""
    hook = runner.hook("abandoned")
    with hooks.Preparation(runner.ctx, STEP, (hook,)) as prepared:
        prepared.wait_ready()
        process = prepared.hooks["abandoned"].process
    assert process.returncode == 3  # stood down on the way out, without a go
    assert not runner.acted(hook) and runner.substep(hook) is None


def test_a_killed_runner_leaves_nothing_done(runner: Runner, tmp_path: Path) -> None:
    """A real runner process, SIGKILLed while its prepared hook waits: the hook sees its input end and exits."""
    hook = runner.hook("orphan")
    runner_script = tmp_path / "runner.py"
    runner_script.write_text(
        "import subprocess, sys, os, time\n"
        f"hook = subprocess.Popen({list(hooks._argv(hook.do))!r}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,\n"
        "                        env={**os.environ, 'STRANGLER_HOOK_GO': 'stdin'}, text=True)\n"
        "assert hook.stdout.readline().strip() == 'ready'\n"
        "print(hook.pid, flush=True)\n"
        "time.sleep(600)\n", encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(runner_script)], stdout=subprocess.PIPE, text=True)  # noqa: S603
    assert parent.stdout is not None
    assert int(parent.stdout.readline()) > 0  # the hook is ready, waiting for its go
    parent.kill()
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 10
    while not (runner.tmp_path / "orphan" / "no-go").exists():
        assert time.monotonic() < deadline, "the orphaned hook did not stand down"
        time.sleep(0.05)
    assert (runner.tmp_path / "orphan" / "no-go").read_text() == "''"  # the end of its input
    time.sleep(0.2)
    assert not runner.acted(hook)


def test_a_hook_that_fails_before_ready_fails_the_step_and_stands_the_others_down(runner: Runner) -> None:
    ok, failing = runner.hook("ok", pause=0.0), runner.hook("failing", "fail", pause=0.3)
    with pytest.raises(StepFailed) as failed, hooks.Preparation(runner.ctx, STEP, (ok, failing)) as prepared:
        prepared.wait_ready()
    message = str(failed.value)
    assert message.startswith("hook failing (do) exited (2) before it was ready, so before the freeze")
    assert "probe: the service does not answer" in message
    assert prepared.hooks["ok"].process.returncode == 3  # told nothing, stood down
    assert not runner.acted(ok) and runner.substep(ok) is None and runner.substep(failing) is None


def test_a_hook_that_never_says_ready_fails_at_its_timeout(runner: Runner) -> None:
    silent = runner.hook("silent", "silent", timeout=1.0)
    started = time.monotonic()
    with pytest.raises(StepFailed, match=r"hook silent \(do\) was not ready within 1.0s"), \
            hooks.Preparation(runner.ctx, STEP, (silent,)) as prepared:
        prepared.wait_ready()
    assert 1.0 <= time.monotonic() - started < 5
    assert prepared.hooks["silent"].process.returncode is not None  # stopped
    assert not runner.acted(silent)


def test_a_hook_without_prepare_runs_as_before(runner: Runner) -> None:
    plain = Hook("plain", "cutover", runner.hook("plain").do, ("true",), 30.0)  # no prepare: no protocol
    with hooks.Preparation(runner.ctx, STEP, (plain,)) as prepared:
        assert prepared.hooks == {}
        prepared.wait_ready()
        assert not runner.acted(plain)
        hooks.do_all(runner.ctx, STEP, (plain,), prepared=prepared)
    assert runner.acted(plain) and runner.substep(plain) == "done"


def test_a_done_hook_is_not_started_again(runner: Runner) -> None:
    hook = runner.hook("done-before")
    runner.state.set_substep("hooked", STEP, "hook:done-before", "done")
    with hooks.Preparation(runner.ctx, STEP, (hook,)) as prepared:
        assert prepared.hooks == {}
        assert hooks.do_all(runner.ctx, STEP, (hook,), prepared=prepared) == []
    assert not (runner.tmp_path / "done-before" / "started").exists()


# --- in the cutover, against a real router -------------------------------------------------------------------

READS, WRITES = ["catalog-reads"], ["catalog-writes"]
ROUTES = {
    "default": "monolith",
    "admin": {"token_env": TOKEN_ENV},
    "parity": {"store": None},
    "backends": {"monolith": {"targets": "http://monolith.test", "health": {"interval": 0}},
                 "catalog": {"targets": "http://catalog.test", "health": {"interval": 0}}},
    "routes": {"catalog-reads": {"path": "/api/catalog/", "backend": "monolith", "methods": ["GET"]},
               "catalog-writes": {"path": "/api/catalog/", "backend": "monolith",
                                  "methods": ["POST", "PUT", "PATCH", "DELETE"]}},
}


class Cutover:
    def __init__(self, server: RouterServer, tmp_path: Path, script: Path) -> None:
        self.server, self.tmp_path, self.script = server, tmp_path, script
        self.plan = tmp_path / "plan.yaml"
        self.state = StateStore(tmp_path / "state.sqlite3")
        self.said: list[str] = []
        self.acquired: list[float] = []  # time.time() at each lease's grant
        self.leases: list[Lease] = []

    def write(self, mode: str, pause: float) -> None:
        doc = copy.deepcopy(catalog_doc())
        doc["service"].update(database_url_env=f"STRANGLER_TEST_UNSET_{uuid.uuid4().hex[:8].upper()}",
                              default_database_url=f"sqlite:///{self.tmp_path / 'catalog.sqlite3'}",
                              migrations=str(ROOT / "extracted" / "catalog" / "migrations"))
        doc["router"].update(admin_url=self.server.url, token_env=TOKEN_ENV)
        doc["endpoints"] = {"reads": READS, "writes": WRITES}
        doc["steps"] = ["provision", "capture", "copy", "sync", "verify",
                        {"cutover": {"freeze_seconds": 30, "lease_seconds": 0.6}}]
        where = self.tmp_path / "gateway"
        where.mkdir(exist_ok=True)
        doc["hooks"] = [{"name": "gateway", "at": "cutover", "prepare": True, "timeout": 20,
                         "do": ["{python}", str(self.script), str(where), mode, str(pause)],
                         "undo": ["{python}", "-c", "0"]}]
        self.plan.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    def executor(self) -> Executor:
        return Executor(self.plan, say=self.said.append, state=self.state)

    def at(self, what: str) -> float | None:
        path = self.tmp_path / "gateway" / what
        return float(path.read_text()) if path.exists() else None

    def placed(self) -> dict[str, str]:
        return {name: route["backend"] for name, route in self.server.routes().items()}

    def owner(self) -> str:
        split = ds.open_split(self.plan)
        try:
            return ownership.read(split).state
        finally:
            split.close()


@pytest.fixture(scope="module")
def server() -> Iterator[RouterServer]:
    with serve(ROUTES) as running:
        yield running


@pytest.fixture
def cut(transactional_db: None, server: RouterServer, tmp_path: Path, script: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Cutover]:
    server.router.app.tables.swap(parse_data(ROUTES, source="test"), origin="test")
    call_command("seed_shop", "--products", "20", "--users", "2", "--orders", "2", "-v", "0")
    running = Cutover(server, tmp_path, script)

    class Recorded(Lease):
        def acquire(self) -> dict[str, Any]:
            granted = super().acquire()
            running.acquired.append(time.time())
            running.leases.append(self)
            return granted

    monkeypatch.setattr(cutover_module, "Lease", Recorded)
    try:
        yield running
    finally:
        for lease in running.leases:
            lease.abandon()
        for lease in list(server.router.leases.live):
            server.router.leases.release(lease)
        split, back = ds.open_split(running.plan), ds.open_split(running.plan, reverse=True)
        try:
            for side in ownership.SIDES:
                ownership.remove(split, side)
            ds.uncapture(split, drop_changelog=True)
            ds.uncapture(back, drop_changelog=True)
        finally:
            split.close()
            back.close()


@pytest.mark.slow
def test_in_the_cutover_a_hook_that_cannot_be_ready_fails_before_the_freeze_and_a_ready_one_acts_inside_it(
        cut: Cutover) -> None:
    cut.write("fail", 0.0)
    assert cut.executor().run("verify", yes=True).ok
    outcome = cut.executor().run(yes=True)
    assert not outcome.ok and outcome.position == "verify"
    assert "hook gateway (do) exited (2) before it was ready, so before the freeze" in (outcome.message or "")
    assert cut.acquired == [] and cut.server.router.leases.live == {}  # no lease: nothing was frozen
    assert cut.placed() == {"catalog-reads": "monolith", "catalog-writes": "monolith"}
    assert cut.owner() == "monolith"
    assert "hook:gateway" not in cut.state.substeps("catalog", "cutover")
    assert cut.at("acted") is None

    cut.write("ok", 1.5)  # a slow start-up, before the freeze
    outcome = cut.executor().run(yes=True)
    assert outcome.ok and outcome.position == "cutover", outcome.message
    assert len(cut.acquired) == 1
    started, acted = cut.at("started"), cut.at("acted")
    assert started is not None and acted is not None
    assert started + 1.5 <= cut.acquired[0] < acted  # its start-up before the freeze, its action under the lease
    assert cut.placed() == {"catalog-reads": "catalog", "catalog-writes": "catalog"}
    assert cut.owner() == "service" and cut.server.router.leases.live == {}
    assert cut.state.substeps("catalog", "cutover")["hook:gateway"] == "done"
