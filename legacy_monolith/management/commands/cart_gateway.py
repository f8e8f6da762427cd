"""``python manage.py cart_gateway {local,remote,status}``: where the monolith's legacy code finds carts.

``remote`` sends the cart pages, the header's item count, the login merge and checkout's read and clear of the
cart to the cart service (the carts' owner once the cart is cut over); ``local`` returns them to the monolith's
own tables. The switch lives in the database (``FeatureSwitch`` ``cart_gateway.remote``), so every worker sees
a flip within a second; the command waits that second out before it returns, so whoever runs it (the cart plan's
hook at the cutover, its undo at a rollback) knows no worker still uses the old side when it lifts the write
freeze.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from legacy_monolith import switches
from legacy_monolith.cart import gateway
from legacy_monolith.models import FeatureSwitch


class Command(BaseCommand):
    help = ("Switch the cart gateway: 'remote' (carts at the cart service, after the cart's cutover), "
            "'local' (the monolith's own cart tables, before cutover or after a rollback) or show it ('status').")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("mode", choices=["local", "remote", "status"])
        parser.add_argument("--no-probe", action="store_true",
                            help="remote: switch without first checking that the service answers and takes the token")
        parser.add_argument("--no-wait", action="store_true",
                            help=f"return at once instead of waiting {switches.CACHE_SECONDS:g}s for every "
                                 "worker's cached switch to expire")
        parser.add_argument("--json", action="store_true", dest="as_json", help="status as JSON")

    def handle(self, *args, mode: str, no_probe: bool, no_wait: bool, as_json: bool, **options) -> None:
        if mode == "status":
            self._status(as_json=as_json)
            return
        if mode == "remote":
            problems = gateway.remote_configuration_problems()
            if problems:
                raise CommandError("refusing to switch the cart gateway to remote: " + "; ".join(problems)
                                   + " (set them in the environment of the shop and of this command)")
            if not no_probe:
                problem = gateway.RemoteCart().probe()
                if problem:
                    raise CommandError(f"refusing to switch the cart gateway to remote: {problem} "
                                       "(--no-probe to switch anyway)")
        was = gateway.remote_enabled()
        switches.set_switch(gateway.SWITCH, mode == "remote",
                            note=f"python manage.py cart_gateway {mode}")
        where = f"the cart service at {settings.CART_SERVICE_URL}" if mode == "remote" else "the monolith"
        change = "unchanged" if was == (mode == "remote") else "switched"
        self.stdout.write(f"cart gateway: {mode} ({change}); pages, login and checkout find carts at {where}")
        if not no_wait:
            time.sleep(switches.CACHE_SECONDS)  # every process's cached value has expired by now

    def _status(self, *, as_json: bool) -> None:
        row = FeatureSwitch.objects.filter(name=gateway.SWITCH).first()
        mode = "remote" if row is not None and row.enabled else "local"
        problems = gateway.remote_configuration_problems()
        data = {
            "mode": mode,
            "switch": gateway.SWITCH,
            "changed_at": row.updated_at.isoformat() if row is not None else None,
            "service_url": settings.CART_SERVICE_URL,
            "token_configured": bool(settings.CART_SERVICE_TOKEN),
            "remote_ready": not problems,
            "problems": problems,
        }
        if as_json:
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(f"cart gateway: {mode}")
        self.stdout.write(f"  switch {gateway.SWITCH}: {'on' if mode == 'remote' else 'off'}"
                          + (f" (since {data['changed_at']})" if row is not None else " (never set)"))
        self.stdout.write(f"  cart service: {settings.CART_SERVICE_URL}, token "
                          f"{'configured' if data['token_configured'] else 'NOT configured'}")
        if problems:
            self.stdout.write("  remote not possible: " + "; ".join(problems))
