"""The gateway commands' side of a prepared hook's go protocol (``legacy_monolith/gateway_command.py``): with
``STRANGLER_HOOK_GO=stdin`` a command does its checks, says ``ready``, and switches only on ``go`` from stdin; the
end of its input (the plan's runner gave up or died) leaves the switch as it was. Real processes, as the plan's
runner starts them, on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from legacy_monolith import switches
from legacy_monolith.cart import gateway
from legacy_monolith.models import FeatureSwitch

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def database_url(settings: dict[str, Any]) -> str:
    """The URL of the test database itself, for a subprocess that must see what this test sees."""
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user, host = settings.get("USER") or "postgres", settings.get("HOST") or "127.0.0.1"
    return f"postgresql://{user}@{host}:{settings.get('PORT') or 5432}/{settings['NAME']}"


def gateway_command(mode: str, stdin: str | None, **env: str) -> subprocess.CompletedProcess[str]:
    """``python manage.py cart_gateway MODE`` started as a prepared hook; ``stdin`` what the runner writes before
    closing its end (None: it writes nothing, as a runner that gave up or died)."""
    environment = {**os.environ, "MONOLITH_DATABASE_URL": database_url(connection.settings_dict),
                   "STRANGLER_HOOK_GO": "stdin", **env}
    environment.pop("CART_SERVICE_TOKEN", None)
    process = subprocess.Popen([sys.executable, "manage.py", "cart_gateway", mode, "--no-wait"], cwd=REPO,  # noqa: S603
                               env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None and process.stdin is not None
    first = process.stdout.readline()
    if first.strip() == "ready" and stdin is not None:
        process.stdin.write(stdin)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, first + out, err)


def remote() -> bool:
    return FeatureSwitch.objects.get(name=gateway.SWITCH).enabled


def test_local_switches_only_on_go() -> None:
    switches.set_switch(gateway.SWITCH, True, note="the test")
    done = gateway_command("local", None)
    assert done.stdout.startswith("ready\n")
    assert done.returncode == 3, done.stderr
    assert "cart gateway: no go from the plan's runner (its input ended); local not done" in done.stderr
    assert remote() is True  # unchanged

    done = gateway_command("local", "maybe\n")
    assert done.returncode == 3 and "(got 'maybe')" in done.stderr
    assert remote() is True

    done = gateway_command("local", "go\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ready\n") and "cart gateway: local (switched)" in done.stdout
    assert remote() is False


def test_remote_that_cannot_be_switched_fails_before_ready() -> None:
    switches.set_switch(gateway.SWITCH, False, note="the test")
    done = gateway_command("remote", "go\n")
    assert done.returncode == 1
    assert "ready" not in done.stdout  # its checks come first: the runner fails the step before any freeze
    assert "refusing to switch the cart gateway to remote: CART_SERVICE_TOKEN is not set" in done.stderr
    assert remote() is False
