"""What the end-to-end tests that run the shop's plans one after another share (tests/e2e/test_orders_migration.py,
tests/e2e/test_shipping_migration.py): the whole stack on SQLite, the toolkit's commands, plan copies that keep
only their data steps and cutover (for the plans a test needs done first, not the ones it is about), waiting for
things to settle, and what the orders ledger is held to at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import create_engine, text

from scripts.ledger.orders import OrdersLedger
from scripts.stack import Ports, Stack
from scripts.traffic import Traffic
from strangler.processes import ManagedProcess

# The steps a prerequisite's copy keeps: no contract, shadow or canary gate.
DATA_AND_CUTOVER = frozenset({"provision", "capture", "copy", "sync", "verify", "cutover", "decommission"})


@contextmanager
def shop_stack(base: Path) -> Iterator[Stack]:
    """Monolith (seeded with enough customers for the traffic and both ledgers), router and the monolith's event
    relay on free ports, everything on SQLite under ``base``; the services are started by the tests, plan by plan."""
    running = Stack(base / "var", ports=Ports.free())
    try:
        running.setup_monolith("--products", "60", "--users", "14", "--orders", "20")
        running.start_monolith()
        running.start_router()
        running.start_relay()
        yield running
    finally:
        running.stop()


def run(stack: Stack, *args: str) -> dict[str, Any]:
    done = stack.manage("strangler", *args, "--json", check=False)
    assert done.returncode == 0, f"strangler {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def gateway_mode(stack: Stack, name: str) -> str:
    mode: str = json.loads(stack.manage(f"{name}_gateway", "status", "--json").stdout)["mode"]
    return mode


def run_to(stack: Stack, traffic: Traffic, plan: str, name: str, steps: tuple[str, ...]) -> None:
    for step in steps:
        traffic.step = f"{name} {step}"
        outcome = run(stack, "run", plan, "--to", step, "--yes")
        assert outcome["ok"] and outcome["at"] == step, outcome
        print(f"{name} {step}: {[(s['step'], s['seconds']) for s in outcome['steps']]}")


def data_and_cutover_only(path: Path) -> None:
    """A plan that is a test's prerequisite, not its subject (its own e2e test runs its gates): its copy keeps the
    data steps, the cutover and the decommission, not the contract, shadow and canary gates."""
    plan = yaml.safe_load(path.read_text())
    plan["steps"] = [step for step in plan["steps"]
                     if (step if isinstance(step, str) else next(iter(step))) in DATA_AND_CUTOVER]
    path.write_text(yaml.safe_dump(plan, sort_keys=False))


def past_cutover(stack: Stack, path: Path, start: Callable[[], ManagedProcess], follower: str,
                 *, to: str = "cutover") -> None:
    """A prerequisite plan (its copy cut by :func:`data_and_cutover_only`) run to ``to``: its data steps, its
    service and sync follower started, then its cutover (and its decommission, if asked)."""
    done = run(stack, "run", str(path), "--to", "verify", "--yes")
    assert done["ok"] and done["at"] == "verify", done
    start()
    stack.start_follower(path, follower)
    outcome = run(stack, "run", str(path), "--to", to, "--yes")
    assert outcome["ok"] and outcome["at"] == to, outcome
    print(f"{follower.removesuffix('-follower')} to {to}: "
          f"{[(s['step'], s['seconds']) for s in done['steps'] + outcome['steps']]}")


def held_reservations(stack: Stack) -> int:
    engine = create_engine(str(stack.catalog_url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM stock_reservations WHERE state = 'held'")).scalar_one())
    finally:
        engine.dispose()


def settle(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "did not settle"
        time.sleep(0.5)


def orders_ledger(stack: Stack) -> OrdersLedger:
    """The orders ledger's customers and readers (none of them the traffic's or the shipments ledger's)."""
    return OrdersLedger(stack.router_url, products=4,
                        readers=["customer8@example.com", "customer9@example.com", "customer14@example.com"],
                        customers=[f"customer{n}@example.com" for n in (10, 11, 12, 13)])


def assert_ledger(ledger: OrdersLedger, base: str | None = None, *, identity_secret: str | None = None) -> None:
    report = ledger.check(base, identity_secret=identity_secret)
    print(f"orders ledger at {base or 'the router'}: checkouts {report.counts}, cancels {report.cancels}, "
          f"{report.orders} acknowledged orders found; answers {report.answers}")
    assert report.ok, report.problems[:10]


def assert_the_orders_held(stack: Stack, traffic: Traffic, ledger: OrdersLedger) -> None:
    """Once the traffic and the orders ledger have stopped, the orders service owning the orders: no failed
    request; every acknowledged checkout exactly once, through the router and at the service; no reservation
    held; checkouts refused only by the write freezes."""
    print(f"traffic: {dict(traffic.tally.by_step)}; order reads by status: {dict(ledger.reads)}")
    assert traffic.tally.total("failed") == 0, traffic.tally.failures[:10]
    assert set(ledger.reads) == {"200", "anonymous 401"}, ledger.reads
    settle(lambda: held_reservations(stack) == 0)
    assert_ledger(ledger)
    assert_ledger(ledger, stack.orders_http, identity_secret=stack.secrets["ROUTER_IDENTITY_SECRET"])
    report = ledger.check()
    assert report.counts["acknowledged"] > 40, report.counts
    assert report.counts["ambiguous"] == 0, report.answers
    # Refused: only by the write freezes.
    assert all(answer.endswith("503 write_freeze") for answer in report.answers if "then" not in answer), \
        report.answers
    assert report.cancels.get("acknowledged", 0) > 3, report.cancels


def staff_token(stack: Stack) -> str:
    """The seeded staff user's API token, logged in through the router."""
    with httpx.Client(base_url=stack.router_url, timeout=30) as http:
        response = http.post("/api/accounts/login/", json={"email": "staff@example.com",
                                                            "password": "shop-demo-password"})
        response.raise_for_status()
        token: str = response.json()["token"]
        return token
