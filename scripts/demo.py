"""``make demo``: the catalog, the cart, the orders, shipping and the accounts move to their own services under
live traffic.

Seeds the shop, starts the monolith (gunicorn), the router and — once its database is provisioned — the
catalog service and the plan's sync follower, drives background traffic through the router (browse,
search, carts, checkouts, staff edits) and a write ledger (scripts/ledger.py: stock changes, edits, creates
and deletes, each recorded with what the client was told), runs migration_plans/catalog.yaml step by step to
the end; then, under the same traffic and ledger, migration_plans/cart.yaml (the cart service and its follower
started at its shadow step) with the cart ledger (scripts/ledger/carts.py: carts changed through the API and the
monolith's pages, each held to what its owner was told); then migration_plans/orders.yaml (the orders service, the
monolith's event relay and the orders' follower started at its shadow step) with the orders ledger
(scripts/ledger/orders.py: customers who fill their carts and check out through the router with an
Idempotency-Key, some cancelling, each order held to what its customer was told, the stock to the orders); then
migration_plans/shipping.yaml (the shipping service, its event relay and its follower started at its shadow step)
with the shipments ledger (scripts/ledger/shipments.py: shipments asked for as the checkout saga asks, moved along
by staff, read by their customers, each held to what was told) while the orders ledger's checkouts go on; then
migration_plans/accounts.yaml (the accounts service and its follower started at its shadow step; the plan ends at
its cutover) with the login ledger (scripts/ledger/logins.py: token holders, page sessions, a registrant, each
logout refused everywhere within the bound). It prints a report: requests per backend per step,
failed requests, acknowledged writes checked against both ledgers and the problems found, rows copied and
verified, parity, time per step. Everything it starts is stopped on exit or Ctrl-C; logs and the report stay
under var/demo/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.ledger import WriteLedger  # noqa: E402
from scripts.ledger.carts import CartLedger  # noqa: E402
from scripts.ledger.logins import LoginLedger  # noqa: E402
from scripts.ledger.orders import OrdersLedger  # noqa: E402
from scripts.ledger.shipments import ShipmentsLedger  # noqa: E402
from scripts.stack import Ports, Stack  # noqa: E402
from scripts.traffic import Traffic  # noqa: E402
from strangler.processes import ProcessFailed, port_in_use  # noqa: E402

console = Console()


def requests_by_backend(stack: Stack) -> Counter[str]:
    """Cumulative requests answered per backend, from the router's Prometheus counters (never reset)."""
    text = httpx.get(f"{stack.admin_url}/metrics", timeout=10,
                     headers={"Authorization": f"Bearer {stack.secrets['ROUTER_ADMIN_TOKEN']}"}).text
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name == "router_requests":
            for sample in family.samples:
                if sample.name == "router_requests_total":
                    counts[sample.labels["backend"]] += int(sample.value)
    return counts


def run_step(stack: Stack, step: str, plan: Path) -> tuple[bool, float, str]:
    started = time.monotonic()
    done = stack.manage("strangler", "run", str(plan), "--to", step, "--yes", check=False)
    output = (done.stdout + done.stderr).strip()
    return done.returncode == 0, time.monotonic() - started, output


def plan_steps(stack: Stack, plan: Path) -> list[str]:
    checked = json.loads(stack.manage("strangler", "plan", "check", str(plan), "--json").stdout)
    return [s["step"] for s in checked["steps"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000, help="size of the seeded catalog")
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "demo", help="where databases, logs and the "
                        "report go (wiped at the start)")
    parser.add_argument("--free-ports", action="store_true",
                        help="use free ports instead of 8000/8080/8081/8101-8104")
    parser.add_argument("--to", help="stop after this step of the catalog's plan (the cart's and the orders' are "
                        "not run then)")
    parser.add_argument("--serve", action="store_true", help="keep everything running after the report")
    args = parser.parse_args()

    ports = Ports.free() if args.free_ports else Ports()
    taken = [p for p in (ports.monolith, ports.router, ports.admin, ports.service, ports.cart, ports.orders,
                         ports.shipping, ports.accounts) if port_in_use(p)]
    if taken:
        console.print(f"[red]Ports {taken} are taken; stop what runs there or pass --free-ports.[/red]")
        return 2
    shutil.rmtree(args.var, ignore_errors=True)
    stack = Stack(args.var, ports=ports)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    traffic: Traffic | None = None
    ledger: WriteLedger | None = None
    carts: CartLedger | None = None
    orders: OrdersLedger | None = None
    shipments: ShipmentsLedger | None = None
    logins: LoginLedger | None = None
    report: dict[str, Any] = {"steps": []}
    try:
        console.rule("Setting up")
        console.print(f"seeding {args.products} products; logs in {stack.logs}")
        stack.setup_monolith("--products", str(args.products), "--users", "20", "--orders", "50")
        stack.start_monolith()
        stack.start_router()
        console.print(f"monolith {stack.monolith_http}  router {stack.router_url} ({stack.router_workers} workers)  "
                      f"admin {stack.admin_url}")
        steps = plan_steps(stack, stack.plan_path)
        last = steps.index(args.to) if args.to else len(steps) - 1
        phases = [("catalog", stack.plan_path, steps[: last + 1])]
        if not args.to:
            # The catalog and the cart are decommissioned after the orders move, not before: until the orders'
            # cutover the monolith's checkout reads the products in its own copy of the catalog, which the catalog
            # service feeds only until its decommission (a product created at the service after it could not be
            # ordered: the first demo run with the orders, 1,140 checkouts refused 400).
            cart = plan_steps(stack, stack.cart_plan_path)
            phases = [("catalog", stack.plan_path, steps[:-1]), ("cart", stack.cart_plan_path, cart[:-1]),
                      ("orders", stack.orders_plan_path, plan_steps(stack, stack.orders_plan_path)),
                      ("shipping", stack.shipping_plan_path, plan_steps(stack, stack.shipping_plan_path)),
                      ("accounts", stack.accounts_plan_path, plan_steps(stack, stack.accounts_plan_path)),
                      ("catalog", stack.plan_path, steps[-1:]), ("cart", stack.cart_plan_path, cart[-1:])]
        traffic = Traffic(stack.router_url)
        traffic.start()
        # Its own products (created after the traffic picked its own), written all through the plan: at the end
        # every write a client was told succeeded must be in the catalog, wherever it lives by then.
        ledger = WriteLedger(stack.router_url, traffic.staff, workers=2, products=12, pause=0.05, prefix="demo")
        ledger.start()
        before = requests_by_backend(stack)
        failed = False
        for name, plan, plan_steps_ in phases:
            if failed:
                break
            if name == "cart" and carts is None:
                # Carts of their own, changed all through the cart's plan through the API and the monolith's
                # pages; readers of unchanging carts for the shadow and the canary.
                carts = CartLedger(stack.router_url, users=["customer15@example.com"], products=traffic.products[:8],
                                   readers=["customer16@example.com", "customer17@example.com"], pause=0.05)
                carts.start()
            if name == "orders":
                # Customers of their own who fill their carts and check out (some cancel), products of their
                # own (created now, at the catalog service); readers of unchanging orders for the shadow and the
                # canary.
                orders = OrdersLedger(stack.router_url, customers=["customer18@example.com", "customer19@example.com",
                                                                   "customer20@example.com"],
                                      readers=["customer6@example.com", "customer7@example.com"], products=4)
                orders.start()
            if name == "shipping":
                # Shipments of its own (asked for as the saga asks, moved along by staff), their customers'
                # reads, and readers of unchanging shipments for the shadow and the canary.
                shipments = ShipmentsLedger(stack.router_url, service_token=stack.secrets["ORDERS_SERVICE_TOKEN"],
                                            customers=["customer3@example.com", "customer4@example.com"],
                                            readers=["customer8@example.com", "customer9@example.com"])
                shipments.start()
            if name == "accounts":
                # Token holders who log in, keep address books and log out (each logout refused everywhere within
                # the bound), page visitors with session cookies, a registrant.
                logins = LoginLedger(stack.router_url, users=[f"customer{n}@example.com" for n in (10, 11, 12)],
                                     page_users=["customer13@example.com", "customer14@example.com"], pause=0.1,
                                     logout_every=40, login_every=6.0)
                logins.start()
            for step in plan_steps_:
                if step == "shadow" and name not in stack.processes:
                    if name == "catalog":
                        stack.start_service()
                        stack.start_follower()
                    elif name == "cart":
                        stack.start_cart_service()
                        stack.start_follower(stack.cart_plan_path, "cart-follower")
                    elif name == "orders":
                        stack.start_relay()
                        stack.start_orders_service()
                        stack.start_follower(stack.orders_plan_path, "orders-follower")
                    elif name == "accounts":
                        stack.start_accounts_service()
                        stack.start_follower(stack.accounts_plan_path, "accounts-follower")
                    else:
                        stack.start_shipping_service()
                        stack.start_shipping_relay()
                        stack.start_follower(stack.shipping_plan_path, "shipping-follower")
                traffic.step = f"{name}: {step}"
                console.rule(f"{name}: {step}")
                ok, seconds, output = run_step(stack, step, plan)
                after = requests_by_backend(stack)
                served = {backend: after[backend] - before[backend] for backend in after
                          if after[backend] > before[backend]}
                before = after
                tally = traffic.tally.by_step.get(traffic.step, Counter())
                report["steps"].append({"plan": name, "step": step, "ok": ok, "seconds": round(seconds, 1),
                                        "served": served, "ok_requests": tally["ok"], "failed": tally["failed"],
                                        "frozen": tally["frozen"]})
                console.print(output.splitlines()[-1] if output else "")
                if not ok:
                    console.print(f"[red]{name}: {step} failed:[/red]\n{output[-3000:]}")
                    failed = True
                    break
        traffic.step = "after"
        time.sleep(2)
        traffic.stop()
        ledger.stop()
        checked = ledger.check(stack.router_url).to_dict()
        report["ledger"] = {**checked, "problems_total": len(checked["problems"]),
                            "problems": checked["problems"][:200]}
        if carts is not None:
            carts.stop()
            cart_report = asdict(carts.check())
            report["cart_ledger"] = {**cart_report, "problems_total": len(cart_report["problems"]),
                                     "problems": cart_report["problems"][:200]}
        if orders is not None:
            orders.stop()
            orders_report = asdict(orders.check())
            report["orders_ledger"] = {**orders_report, "problems_total": len(orders_report["problems"]),
                                       "problems": orders_report["problems"][:200], "reads": dict(orders.reads)}
        if shipments is not None:
            shipments.stop()
            shipments_report = asdict(shipments.check())
            report["shipments_ledger"] = {**shipments_report, "problems_total": len(shipments_report["problems"]),
                                          "problems": shipments_report["problems"][:200]}
        if logins is not None:
            logins.stop()
            logins_report = asdict(logins.check())
            report["logins_ledger"] = {**logins_report, "problems_total": len(logins_report["problems"]),
                                       "problems": logins_report["problems"][:200]}
        status = json.loads(stack.manage("strangler", "status", str(stack.plan_path), "--json").stdout)
        report["figures"] = status["figures"]
        report["failed_requests"] = traffic.tally.total("failed")
        report["frozen_requests"] = traffic.tally.total("frozen")
        report["ok_requests"] = traffic.tally.total("ok")
        report["failures"] = traffic.tally.failures[:20]
        print_report(report)
        (args.var / "report.json").write_text(json.dumps(report, indent=2, default=str))
        console.print(f"report: {args.var / 'report.json'}; logs: {stack.logs}")
        if args.serve:
            console.print(f"Serving through {stack.router_url}/ until Ctrl-C.")
            while all(p.running for p in stack.processes.values()):
                time.sleep(0.5)
        return 0 if (report["failed_requests"] == 0 and report["ledger"]["ok"]
                     and report.get("cart_ledger", {"ok": True})["ok"]
                     and report.get("orders_ledger", {"ok": True})["ok"]
                     and report.get("shipments_ledger", {"ok": True})["ok"]
                     and report.get("logins_ledger", {"ok": True})["ok"]
                     and all(s["ok"] for s in report["steps"])) else 1
    except (ProcessFailed, RuntimeError, httpx.HTTPError) as exc:
        console.print(f"[red]{type(exc).__name__}: {exc}[/red]")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if traffic is not None:
            traffic.stop()
        if ledger is not None:
            with contextlib.suppress(RuntimeError):  # a writer stuck in a request must not keep the stack up
                ledger.stop()
        if carts is not None:
            carts.stop()
            carts.close()
        if orders is not None:
            orders.stop()
            orders.close()
        if shipments is not None:
            shipments.stop()
        if logins is not None:
            logins.stop()
            logins.close()
        stack.stop()


def print_report(report: dict[str, Any]) -> None:
    table = Table(title="The catalog's, the cart's, the orders', shipping's and the accounts' migrations")
    for column in ("step", "time", "served by (requests)", "ok", "failed", "write-freeze 503s"):
        table.add_column(column)
    for step in report["steps"]:
        served = ", ".join(f"{b} {n}" for b, n in sorted(step["served"].items())) or "-"
        table.add_row(f"{step.get('plan', 'catalog')}: {step['step']}" + ("" if step["ok"] else " (FAILED)"),
                      f"{step['seconds']}s", served,
                      str(step["ok_requests"]), str(step["failed"]), str(step["frozen"]))
    console.print(table)
    figures = report.get("figures", {})
    copied = figures.get("copy", {})
    verified = figures.get("verify", {})
    shadow = figures.get("shadow", {})
    rows = sum(t.get("copied", t.get("rows", 0)) for t in copied.get("tables", [])) if copied else 0
    console.print(f"rows copied: {rows}; verified: "
                  + ", ".join(f"{t.get('target', '?')} {t.get('source_rows', t.get('rows', '?'))} rows "
                              f"{'equal' if t.get('ok') else 'DIFFERENT'}" for t in verified.get("tables", [])))
    if shadow:
        compared = shadow.get("compared", 0)
        console.print(f"parity: {shadow.get('equal', 0)} of {compared} shadowed reads equal "
                      f"({(shadow.get('equal', 0) / compared if compared else 0):.1%})")
    console.print(f"requests: {report['ok_requests']} ok, {report['frozen_requests']} paused by the write freeze")
    console.print(f"failed requests: {report['failed_requests']}")
    for failure in report.get("failures", [])[:10]:
        console.print(f"  {failure}")
    ledger = report.get("ledger")
    if ledger:
        frozen = sum(n for answer, n in ledger["answers"].items() if answer.endswith("write_freeze"))
        kinds = ", ".join(f"{kind} {counts.get('acknowledged', 0)}"
                          for kind, counts in sorted(ledger["by_kind"].items()))
        console.print(f"write ledger: {ledger['checked']} acknowledged writes checked ({kinds}); "
                      f"{ledger['counts']['refused']} refused ({frozen} by the write freeze), "
                      f"{ledger['counts']['ambiguous']} without an answer")
        console.print(f"write ledger problems: {ledger['problems_total']}")
        for problem in ledger["problems"][:10]:
            console.print(f"  {problem}")
    carts = report.get("cart_ledger")
    if carts:
        frozen = sum(n for answer, n in carts["answers"].items() if answer.endswith("write_freeze"))
        kinds = ", ".join(f"{kind} {counts.get('acknowledged', 0)}"
                          for kind, counts in sorted(carts["by_kind"].items()))
        console.print(f"cart ledger: {carts['counts']['acknowledged']} acknowledged cart writes on {carts['carts']} "
                      f"carts ({kinds}); {carts['counts']['refused']} refused ({frozen} by the write freeze), "
                      f"{carts['counts']['ambiguous']} without an answer")
        console.print(f"cart ledger problems: {carts['problems_total']}")
        for problem in carts["problems"][:10]:
            console.print(f"  {problem}")
    orders = report.get("orders_ledger")
    if orders:
        frozen = sum(n for answer, n in orders["answers"].items() if answer.endswith("write_freeze"))
        console.print(f"orders ledger: {orders['counts']['acknowledged']} acknowledged checkouts ({orders['orders']} "
                      f"orders found as told), {orders['counts']['refused']} refused ({frozen} by the write freeze), "
                      f"{orders['counts']['ambiguous']} without an answer; cancels {orders['cancels']}")
        console.print(f"orders ledger problems: {orders['problems_total']}")
        for problem in orders["problems"][:10]:
            console.print(f"  {problem}")
    shipments = report.get("shipments_ledger")
    if shipments:
        counts = shipments["counts"]
        console.print(f"shipments ledger: {shipments['shipments']} shipments and {shipments['moves']} acknowledged "
                      f"moves found as told; writes {counts}; answers {shipments['answers']}; reads "
                      f"{shipments['reads']}")
        console.print(f"shipments ledger problems: {shipments['problems_total']}")
        for problem in shipments["problems"][:10]:
            console.print(f"  {problem}")
    logins = report.get("logins_ledger")
    if logins:
        console.print(f"login ledger: {logins['counts']}; {logins['tokens']} live tokens, {logins['sessions']} "
                      f"sessions, {logins['registered']} registered, {logins['addresses']} addresses as told; "
                      f"logged-out tokens refused after {logins['revocations'][-5:]} s (the slowest)")
        console.print(f"login ledger problems: {logins['problems_total']}")
        for problem in logins["problems"][:10]:
            console.print(f"  {problem}")


if __name__ == "__main__":
    sys.exit(main())
