"""A real shop behind gunicorn, on a free port, with a database of its own.

The database follows ``MONOLITH_DATABASE_URL``'s kind: a fresh SQLite file by default, a fresh PostgreSQL
database (created here, dropped afterwards) when the suite runs against PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from strangler.processes import ManagedProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


@dataclass
class ShopServer:
    url: str
    database_url: str
    env: dict[str, str]
    process: ManagedProcess

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(  # noqa: S603
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=600,
        )
        if done.returncode != 0:  # CalledProcessError would hide the output that says why
            raise RuntimeError(f"manage.py {' '.join(args)} exited with {done.returncode}:\n"
                               f"{done.stdout[-2000:]}{done.stderr[-4000:]}")
        return done


@contextmanager
def scratch_database(tmp_path: Path) -> Iterator[str]:
    """A database URL of the suite's kind that nobody else uses, removed afterwards."""
    base = os.environ.get("MONOLITH_DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        tmp_path.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{tmp_path / 'shop.sqlite3'}"
        return
    import psycopg

    name = f"shop_it_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(base)
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_shop(tmp_path: Path, *, workers: int = 2, seed_args: tuple[str, ...] = ("--products", "60")
                 ) -> Iterator[ShopServer]:
    with scratch_database(tmp_path) as database_url:
        env = {
            **os.environ,
            "MONOLITH_DATABASE_URL": database_url,
            "SHOP_VAR_DIR": str(tmp_path / "var"),
            "DJANGO_SECRET_KEY": "integration-tests-only-" + uuid.uuid4().hex,
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        port = free_port()
        process = ManagedProcess(
            "gunicorn",
            [GUNICORN, "legacy_monolith.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--graceful-timeout", "5"],
            log_path=tmp_path / "gunicorn.log", env=env, cwd=ROOT,
        )
        server = ShopServer(url=f"http://127.0.0.1:{port}", database_url=database_url, env=env, process=process)
        server.manage("migrate", "-v0")
        server.manage("seed_shop", "-v0", *seed_args)
        with process:
            process.wait_healthy(f"{server.url}/healthz")
            yield server


@contextmanager
def running_upstream(tmp_path: Path, name: str = "upstream") -> Iterator[tuple[str, ManagedProcess]]:
    """A fake backend (tests/support/upstream.py) on a free port: yields (base URL, process)."""
    port = free_port()
    process = ManagedProcess(f"upstream-{name}", [PYTHON, "-m", "tests.support.upstream", "--port", str(port),
                                                  "--name", name],
                             log_path=tmp_path / f"upstream-{name}.log", cwd=ROOT)
    with process:
        process.wait_healthy(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", process


@contextmanager
def running_router(tmp_path: Path, routes_yaml: str, *, env: dict[str, str] | None = None, workers: int = 1
                   ) -> Iterator[tuple[str, ManagedProcess, Path]]:
    """``python -m router serve`` with the given routes file on a free port: yields (base URL, process, file).

    ``routes_yaml`` may use ``{listen}`` and ``{admin_listen}``; both get free ports (the admin API's URL is
    the base URL's port + nothing: read it from ``process.admin_url``). ``workers``: ``--workers`` (one
    process unless a test is about several).
    """
    port, admin_port = free_port(), free_port()
    config = tmp_path / "routes.yaml"
    config.write_text(routes_yaml.replace("{listen}", f"127.0.0.1:{port}")
                      .replace("{admin_listen}", f"127.0.0.1:{admin_port}"))
    process = ManagedProcess("router", [PYTHON, "-m", "router", "serve", "--config", str(config),
                                        "--listen", f"127.0.0.1:{port}", "--admin-listen",
                                        f"127.0.0.1:{admin_port}", "--workers", str(workers)],
                             log_path=tmp_path / "router.log", env=env, cwd=ROOT)
    process.admin_url = f"http://127.0.0.1:{admin_port}"  # type: ignore[attr-defined]
    with process:
        process.wait_healthy(f"http://127.0.0.1:{port}/__router/health")
        if workers > 1:  # the admin API opens once every worker serves
            process.wait_healthy(f"http://127.0.0.1:{admin_port}/healthz")
        yield f"http://127.0.0.1:{port}", process, config
