"""The shop's whole migration stack as real processes: monolith (gunicorn), router, catalog service, cart service,
orders, shipping and accounts services, the monolith's and the shipping service's event relays, and the plans' sync
followers — configured to find each other, started in order, stopped on exit.

Used by `make demo` (fixed ports 8000/8080/8081/8101 under var/) and by the end-to-end test (free ports,
a scratch directory). Everything runs from this repository's own files: the routes file and the plan are
copied with this stack's ports and databases filled in.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from strangler.processes import ManagedProcess, free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Ports:
    monolith: int = 8000
    router: int = 8080
    admin: int = 8081
    service: int = 8101
    cart: int = 8102
    orders: int = 8103
    shipping: int = 8104
    accounts: int = 8105

    @classmethod
    def free(cls) -> Ports:
        return cls(*(free_port() for _ in range(8)))


@dataclass
class Stack:
    var: Path
    ports: Ports = field(default_factory=Ports)
    monolith_url: str | None = None  # a database URL; default: SQLite under var/
    catalog_url: str | None = None
    cart_url: str | None = None
    orders_url: str | None = None
    shipping_url: str | None = None
    accounts_url: str | None = None
    workers: int = 2
    router_workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # the router's, one per core
    processes: dict[str, ManagedProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.var.mkdir(parents=True, exist_ok=True)
        self.logs = self.var / "logs"
        self.monolith_url = self.monolith_url or f"sqlite:///{self.var / 'shop.sqlite3'}"
        self.catalog_url = self.catalog_url or f"sqlite:///{self.var / 'catalog.sqlite3'}"
        self.cart_url = self.cart_url or f"sqlite:///{self.var / 'cart.sqlite3'}"
        self.orders_url = self.orders_url or f"sqlite:///{self.var / 'orders.sqlite3'}"
        self.shipping_url = self.shipping_url or f"sqlite:///{self.var / 'shipping.sqlite3'}"
        self.accounts_url = self.accounts_url or f"sqlite:///{self.var / 'accounts.sqlite3'}"
        (self.var / "orders").mkdir(exist_ok=True)  # ORDERS_VAR_DIR
        self.secrets = self._secrets()
        self.routes_path = self.var / "routes.yaml"
        self.plan_path = self.var / "catalog-plan.yaml"
        self.cart_plan_path = self.var / "cart-plan.yaml"
        self.orders_plan_path = self.var / "orders-plan.yaml"
        self.shipping_plan_path = self.var / "shipping-plan.yaml"
        self.accounts_plan_path = self.var / "accounts-plan.yaml"
        self._write_routes()
        self._write_plan()

    # -- configuration ---------------------------------------------------------------------------------

    def _secrets(self) -> dict[str, str]:
        """Generated once per var directory (never committed), reused across runs of the same stack."""
        path = self.var / "secrets.yaml"
        names = ("ROUTER_ADMIN_TOKEN", "ROUTER_IDENTITY_SECRET", "CATALOG_SERVICE_TOKEN", "CART_SERVICE_TOKEN",
                 "ORDERS_SERVICE_TOKEN", "ACCOUNTS_SERVICE_TOKEN", "DJANGO_SECRET_KEY")
        values: dict[str, str] = yaml.safe_load(path.read_text()) if path.exists() else {}
        if all(name in values for name in names):
            return values
        values.update({name: secrets.token_urlsafe(32) for name in names if name not in values})
        path.write_text(yaml.safe_dump(values))
        path.chmod(0o600)
        return values

    @property
    def router_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.router}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.admin}"

    @property
    def monolith_http(self) -> str:
        return f"http://127.0.0.1:{self.ports.monolith}"

    @property
    def service_http(self) -> str:
        return f"http://127.0.0.1:{self.ports.service}"

    @property
    def cart_http(self) -> str:
        return f"http://127.0.0.1:{self.ports.cart}"

    @property
    def orders_http(self) -> str:
        return f"http://127.0.0.1:{self.ports.orders}"

    @property
    def shipping_http(self) -> str:
        return f"http://127.0.0.1:{self.ports.shipping}"

    @property
    def accounts_http(self) -> str:
        return f"http://127.0.0.1:{self.ports.accounts}"

    def env(self) -> dict[str, str]:
        env = {**os.environ, **self.secrets,
               "MONOLITH_DATABASE_URL": str(self.monolith_url), "CATALOG_DATABASE_URL": str(self.catalog_url),
               "SHOP_VAR_DIR": str(self.var), "CATALOG_VAR_DIR": str(self.var),
               "STRANGLER_STATE_DB": str(self.var / "strangler-state.sqlite3"),
               "CATALOG_SERVICE_URL": self.service_http, "CATALOG_MONOLITH_URL": self.monolith_http,
               "CART_DATABASE_URL": str(self.cart_url), "CART_SERVICE_URL": self.cart_http,
               "CART_MONOLITH_URL": self.monolith_http, "CART_CATALOG_URL": self.router_url,
               # The orders service (its checkout saga calls the catalog's and the cart's services and the
               # shipments' owner through the router; DBOS's system database and the executor slots' locks under
               # ORDERS_VAR_DIR),
               # the monolith's orders gateway (ORDERS_SERVICE_URL), and the one bus the monolith's relay publishes
               # shipping's events to and the orders service follows them on.
               "ORDERS_DATABASE_URL": str(self.orders_url), "ORDERS_SERVICE_URL": self.orders_http,
               "ORDERS_VAR_DIR": str(self.var / "orders"), "ORDERS_CATALOG_URL": self.service_http,
               "ORDERS_CART_URL": self.cart_http, "ORDERS_ACCOUNTS_URL": self.router_url,
               "ORDERS_SHIPPING_URL": self.router_url,
               # The shipping service (its relay publishes its shipment events to the same bus).
               "SHIPPING_DATABASE_URL": str(self.shipping_url), "SHIPPING_VAR_DIR": str(self.var),
               # The accounts service (sessions stay the monolith's: it asks the monolith's internal session API),
               # and the monolith's accounts gateway (its login page, once the accounts are cut over).
               "ACCOUNTS_DATABASE_URL": str(self.accounts_url), "ACCOUNTS_SERVICE_URL": self.accounts_http,
               "ACCOUNTS_MONOLITH_URL": self.monolith_http, "ACCOUNTS_VAR_DIR": str(self.var),
               "EVENTS_URL": f"sqlite:///{self.var / 'events.sqlite3'}"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        return env

    def _write_routes(self) -> None:
        routes: dict[str, Any] = yaml.safe_load((ROOT / "router" / "routes.yaml").read_text())
        routes["listen"] = f"127.0.0.1:{self.ports.router}"
        routes["admin"]["listen"] = f"127.0.0.1:{self.ports.admin}"
        routes["backends"]["monolith"]["targets"] = [self.monolith_http]
        routes["backends"]["catalog"]["targets"] = [self.service_http]
        routes["backends"]["cart"]["targets"] = [self.cart_http]
        routes["backends"]["orders"]["targets"] = [self.orders_http]
        routes["backends"]["shipping"]["targets"] = [self.shipping_http]
        routes["backends"]["accounts"]["targets"] = [self.accounts_http]
        routes["parity"] = {**(routes.get("parity") or {}), "store": str(self.var / "parity.sqlite3")}
        self.routes_path.write_text(yaml.safe_dump(routes, sort_keys=False))

    def _write_plan(self) -> None:
        plan: dict[str, Any] = yaml.safe_load((ROOT / "migration_plans" / "catalog.yaml").read_text())
        plan["service"]["start"] = ["{python}", "-m", "extracted.catalog", "--port", str(self.ports.service)]
        plan["service"]["url"] = self.service_http
        plan["router"]["admin_url"] = self.admin_url
        self.plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
        cart: dict[str, Any] = yaml.safe_load((ROOT / "migration_plans" / "cart.yaml").read_text())
        cart["service"]["start"] = ["{python}", "-m", "extracted.cart", "--port", str(self.ports.cart)]
        cart["service"]["url"] = self.cart_http
        cart["router"]["admin_url"] = self.admin_url
        self.cart_plan_path.write_text(yaml.safe_dump(cart, sort_keys=False))
        orders: dict[str, Any] = yaml.safe_load((ROOT / "migration_plans" / "orders.yaml").read_text())
        orders["service"]["start"] = ["{python}", "-m", "extracted.orders", "--port", str(self.ports.orders)]
        orders["service"]["url"] = self.orders_http
        orders["router"]["admin_url"] = self.admin_url
        self.orders_plan_path.write_text(yaml.safe_dump(orders, sort_keys=False))
        shipping: dict[str, Any] = yaml.safe_load((ROOT / "migration_plans" / "shipping.yaml").read_text())
        shipping["service"]["start"] = ["{python}", "-m", "extracted.shipping", "--port", str(self.ports.shipping)]
        shipping["service"]["url"] = self.shipping_http
        shipping["router"]["admin_url"] = self.admin_url
        self.shipping_plan_path.write_text(yaml.safe_dump(shipping, sort_keys=False))
        accounts: dict[str, Any] = yaml.safe_load((ROOT / "migration_plans" / "accounts.yaml").read_text())
        accounts["service"]["start"] = ["{python}", "-m", "extracted.accounts", "--port", str(self.ports.accounts)]
        accounts["service"]["url"] = self.accounts_http
        accounts["router"]["admin_url"] = self.admin_url
        self.accounts_plan_path.write_text(yaml.safe_dump(accounts, sort_keys=False))

    # -- processes -------------------------------------------------------------------------------------

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(),  # noqa: S603
                              capture_output=True, text=True, timeout=1800)
        if check and done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return done

    def _start(self, name: str, argv: list[str], health: str | None) -> ManagedProcess:
        process = ManagedProcess(name, argv, log_path=self.logs / f"{name}.log", env=self.env(), cwd=ROOT)
        self.processes[name] = process
        process.start()
        if health:
            process.wait_healthy(health, timeout=60)
        return process

    def setup_monolith(self, *seed_args: str) -> None:
        self.manage("migrate", "-v0")
        self.manage("seed_shop", "-v0", "--if-empty", *seed_args)

    def start_monolith(self) -> ManagedProcess:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        return self._start("monolith", [gunicorn, "legacy_monolith.wsgi", "--bind",
                                        f"127.0.0.1:{self.ports.monolith}", "--workers", str(self.workers),
                                        "--graceful-timeout", "5"], f"{self.monolith_http}/healthz")

    def start_router(self) -> ManagedProcess:
        return self._start("router", [sys.executable, "-m", "router", "serve", "--config", str(self.routes_path),
                                      "--workers", str(self.router_workers)],
                           f"{self.router_url}/__router/health")

    def start_service(self) -> ManagedProcess:
        return self._start("catalog", [sys.executable, "-m", "extracted.catalog", "--port", str(self.ports.service)],
                           f"{self.service_http}/healthz")

    def start_cart_service(self) -> ManagedProcess:
        return self._start("cart", [sys.executable, "-m", "extracted.cart", "--port", str(self.ports.cart)],
                           f"{self.cart_http}/healthz")

    def start_orders_service(self) -> ManagedProcess:
        return self._start("orders", [sys.executable, "-m", "extracted.orders", "--port", str(self.ports.orders)],
                           f"{self.orders_http}/healthz")

    def start_shipping_service(self) -> ManagedProcess:
        return self._start("shipping", [sys.executable, "-m", "extracted.shipping", "--port",
                                        str(self.ports.shipping)], f"{self.shipping_http}/healthz")

    def start_accounts_service(self) -> ManagedProcess:
        return self._start("accounts", [sys.executable, "-m", "extracted.accounts", "--port",
                                        str(self.ports.accounts)], f"{self.accounts_http}/healthz")

    def start_shipping_relay(self) -> ManagedProcess:
        """The shipping service's event relay (its outbox to the bus the orders service follows)."""
        return self._start("shipping-relay", [sys.executable, "-m", "extracted.shipping", "relay"], None)

    def start_relay(self) -> ManagedProcess:
        """The monolith's event relay (its outbox, shipping.shipment.changed, to the bus EVENTS_URL names)."""
        return self._start("relay", [sys.executable, "manage.py", "publish_events"], None)

    def start_follower(self, plan: Path | None = None, name: str = "follower") -> ManagedProcess:
        return self._start(name, [sys.executable, "manage.py", "strangler", "follow", str(plan or self.plan_path),
                                  "--interval", "0.5"], None)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        self.processes.clear()
