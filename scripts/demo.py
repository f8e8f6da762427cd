"""``make demo``: set up and seed the shop, start it under gunicorn, and show it answering.

Everything it starts is stopped on exit, Ctrl-C or SIGTERM. Logs go to ``var/logs/``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from strangler.processes import ManagedProcess, ProcessFailed, port_in_use  # noqa: E402

console = Console()
STAFF = ("staff@example.com", os.environ.get("SEED_PASSWORD", "shop-demo-password"))


class TourFailed(RuntimeError):
    pass


def manage(*args: str, env: dict[str, str]) -> None:
    console.print(f"[dim]$ python manage.py {' '.join(args)}[/dim]")
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def expect(response: httpx.Response, status: int) -> dict:
    if response.status_code != status:
        raise TourFailed(
            f"{response.request.method} {response.request.url.path} answered {response.status_code}, "
            f"expected {status}: {response.text[:300]}"
        )
    return response.json() if response.content and "json" in response.headers.get("content-type", "") else {}


def tour(base: str) -> Table:
    """A customer's visit and a staff member's shipping, through real HTTP."""
    table = Table(title=f"The shop answering at {base}")
    for column in ("step", "request", "status", "what came back"):
        table.add_column(column)
    with httpx.Client(base_url=base, timeout=10) as http:
        def row(step: str, response: httpx.Response, note: str) -> None:
            table.add_row(step, f"{response.request.method} {response.request.url.raw_path.decode()}",
                          str(response.status_code), note)

        r = http.get("/healthz")
        row("health", r, str(expect(r, 200)))
        r = http.get("/api/catalog/products/", params={"page_size": 5})
        page = expect(r, 200)
        row("browse", r, f"{page['count']} products, first: {page['results'][0]['name']}")
        r = http.get("/api/catalog/products/", params={"search": "oak", "ordering": "-price", "in_stock": "true"})
        found = expect(r, 200)
        if not found["results"]:
            raise TourFailed("searching for 'oak' found nothing in stock; was the shop seeded?")
        product = found["results"][0]
        row("search", r, f"{found['count']} oak products, priciest: {product['name']} at {product['price']}")

        email = f"demo-{int(time.time() * 1000)}@example.com"
        r = http.post("/api/accounts/register/", json={"email": email, "password": "demo-shopper-pass-1"})
        customer = {"Authorization": f"Token {expect(r, 201)['token']}"}
        row("register", r, email)
        r = http.post("/api/cart/items/", json={"product": product["id"], "quantity": 1}, headers=customer)
        cart = expect(r, 201)
        row("add to cart", r, f"{cart['item_count']} item, total {cart['total']}")
        address = {"full_name": "Demo Shopper", "line1": "Storgatan 1", "city": "Malmö", "postal_code": "211 19",
                   "country": "SE"}
        r = http.post("/api/orders/checkout/", json={"shipping_address": address}, headers=customer)
        order = expect(r, 201)
        row("checkout", r, f"{order['number']} {order['status']}, total {order['total']}")

        r = http.post("/api/accounts/login/", json={"email": STAFF[0], "password": STAFF[1]})
        staff = {"Authorization": f"Token {expect(r, 200)['token']}"}
        row("staff login", r, STAFF[0])
        shipment_id = order["shipment"]["id"]
        for status, extra in (("packed", {}), ("shipped", {"tracking_number": f"TRK-{order['id']:06d}"}),
                              ("delivered", {})):
            r = http.post(f"/api/shipping/shipments/{shipment_id}/status/", json={"status": status, **extra},
                          headers=staff)
            expect(r, 200)
            followed = expect(http.get(f"/api/orders/{order['id']}/", headers=customer), 200)
            row("ship", r, f"shipment {status} -> order {followed['status']}")
        r = http.get("/")
        expect(r, 200)
        row("home page", r, f"{len(r.text):,} bytes of HTML")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("SHOP_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--products", type=int, default=500, help="size of the seeded catalog (first run only)")
    parser.add_argument("--once", action="store_true", help="stop after the tour instead of serving on")
    parser.add_argument("--no-tour", action="store_true", help="just set up and serve")
    args = parser.parse_args()

    var_dir = Path(os.environ.get("SHOP_VAR_DIR", ROOT / "var"))
    env = {**os.environ, "SHOP_VAR_DIR": str(var_dir)}
    if port_in_use(args.port):
        console.print(f"[red]Port {args.port} is taken; stop what runs there or pass --port.[/red]")
        return 2
    manage("migrate", "-v0", env=env)
    manage("seed_shop", "--if-empty", "--products", str(args.products), env=env)

    server = ManagedProcess(
        "gunicorn",
        [str(Path(sys.executable).with_name("gunicorn")), "legacy_monolith.wsgi", "--bind",
         f"127.0.0.1:{args.port}", "--workers", str(args.workers), "--graceful-timeout", "5"],
        log_path=var_dir / "logs" / "monolith.log", env=env, cwd=ROOT,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = f"http://127.0.0.1:{args.port}"
    try:
        server.start()
        server.wait_healthy(f"{base}/healthz")
        console.print(f"[green]gunicorn is serving the shop at {base}/[/green] (log: {server.log_path})")
        if not args.no_tour:
            console.print(tour(base))
        if args.once:
            return 0
        console.print(f"Open {base}/ in a browser; the API is under {base}/api/. Ctrl-C stops the shop.")
        while server.running:
            time.sleep(0.5)
        console.print(f"[red]gunicorn stopped:[/red]\n{server.log_tail()}")
        return 1
    except (ProcessFailed, TourFailed, httpx.HTTPError) as exc:
        console.print(f"[red]{type(exc).__name__}: {exc}[/red]")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
        console.print("[dim]shop stopped[/dim]")


if __name__ == "__main__":
    sys.exit(main())
