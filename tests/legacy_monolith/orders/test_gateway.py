"""The orders gateway's switch (``python manage.py orders_gateway``): refused while the settings are incomplete
or the service does not answer; status as text and JSON; the receiver and the checkout page follow it (their
remote side runs against the real service in tests/extracted/orders/)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from legacy_monolith import switches
from legacy_monolith.orders import gateway
from strangler.processes import free_port

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("orders_gateway", *args, stdout=out)
    return out.getvalue()


def test_remote_is_refused_without_a_token_or_an_answering_service(settings) -> None:
    settings.ORDERS_SERVICE_TOKEN = ""
    with pytest.raises(CommandError, match="ORDERS_SERVICE_TOKEN is not set"):
        run("remote", "--no-wait")
    settings.ORDERS_SERVICE_TOKEN = "t"
    settings.ORDERS_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError, match="does not answer"):
        run("remote", "--no-wait")
    assert not gateway.remote_enabled()
    settings.ORDERS_SERVICE_URL = "ftp://x"
    with pytest.raises(CommandError, match="is not an http"):
        run("remote", "--no-wait")


def test_switching_and_status(settings) -> None:
    settings.ORDERS_SERVICE_TOKEN, settings.ORDERS_SERVICE_URL = "t", "http://127.0.0.1:8103"
    assert "orders gateway: remote (switched)" in run("remote", "--no-probe", "--no-wait")
    switches.clear_cache()
    assert gateway.remote_enabled()
    status = json.loads(run("status", "--json"))
    assert (status["mode"], status["switch"], status["remote_ready"]) == ("remote", "orders_gateway.remote", True)
    assert "orders gateway: local (switched)" in run("local", "--no-wait")
    assert "switch orders_gateway.remote: off" in run("status")
