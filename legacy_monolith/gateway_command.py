"""``python manage.py <name>_gateway {local,remote,status}``: one command per gateway (branch by abstraction),
each saying where the monolith's remaining code reaches one capability: its own tables (``local``) or the
service that owns them after the cutover (``remote``).

The switch lives in the database (``FeatureSwitch``), so every worker sees a flip within a second; the command
waits that second out before it returns, so whoever runs it (a migration plan's hook at the cutover, its undo at
a rollback) knows no worker still uses the old side when it lifts the write freeze. ``remote`` refuses while the
settings are incomplete, or (unless ``--no-probe``) while the service does not answer an authorised probe.

With ``STRANGLER_HOOK_GO=stdin`` in its environment (a plan's hook marked ``prepare: true``, started before the
write freeze) the command does its start-up and its checks, prints ``ready``, and reads one line from stdin: on
``go`` it switches (and waits out the second) as above; on anything else, or at the end of its input (the plan's
runner gave up or died), it exits with status 3 and leaves the switch as it was.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from legacy_monolith import switches
from legacy_monolith.models import FeatureSwitch

GO_ENV = "STRANGLER_HOOK_GO"  # the plan runner's go protocol (strangler.plans.hooks), by its environment variable
NO_GO_STATUS = 3


class GatewayCommand(BaseCommand):
    gateway = ""          # "catalog": the command's and the messages' name
    switch = ""           # the FeatureSwitch's name
    url_setting = ""      # the service's URL setting, e.g. "CATALOG_SERVICE_URL"
    token_setting = ""    # the token setting, e.g. "CATALOG_SERVICE_TOKEN"
    remote_means = ""     # what "remote" changes, for the message: "orders reserve and release stock"
    problems: Callable[[], list[str]]   # what stops remote with these settings (empty: it can be switched on)
    probe: Callable[[], str | None]     # None when the service answers and takes the token

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("mode", choices=["local", "remote", "status"])
        parser.add_argument("--no-probe", action="store_true",
                            help="remote: switch without first checking that the service answers and takes the token")
        parser.add_argument("--no-wait", action="store_true",
                            help=f"return at once instead of waiting {switches.CACHE_SECONDS:g}s for every "
                                 "worker's cached switch to expire")
        parser.add_argument("--json", action="store_true", dest="as_json", help="status as JSON")

    def handle(self, *args, mode: str, no_probe: bool, no_wait: bool, as_json: bool, **options) -> None:
        if mode == "remote":
            problems = type(self).problems()
            if problems:
                raise CommandError(f"refusing to switch the {self.gateway} gateway to remote: " + "; ".join(problems)
                                   + " (set them in the environment of the shop and of this command)")
            if not no_probe:
                problem = type(self).probe()
                if problem:
                    raise CommandError(f"refusing to switch the {self.gateway} gateway to remote: {problem} "
                                       "(--no-probe to switch anyway)")
        if os.environ.get(GO_ENV) == "stdin":
            self._wait_for_go(mode)
        if mode == "status":
            self._status(as_json=as_json)
            return
        was = switches.is_enabled(self.switch)
        switches.set_switch(self.switch, mode == "remote", note=f"python manage.py {self.gateway}_gateway {mode}")
        where = (f"the {self.gateway} service at {getattr(settings, self.url_setting)}" if mode == "remote"
                 else "the monolith")
        change = "unchanged" if was == (mode == "remote") else "switched"
        self.stdout.write(f"{self.gateway} gateway: {mode} ({change}); {self.remote_means} at {where}")
        if not no_wait:
            time.sleep(switches.CACHE_SECONDS)  # every process's cached value has expired by now
        self.switched(mode)

    def _wait_for_go(self, mode: str) -> None:
        """Ready (started, checked): the runner's ``go`` on stdin lets the command act; nothing else does."""
        self.stdout.write("ready")
        self.stdout.flush()
        line = sys.stdin.readline()
        if line.strip() != "go":
            said = f"got {line.strip()!r}" if line else "its input ended"
            raise CommandError(f"{self.gateway} gateway: no go from the plan's runner ({said}); {mode} not done, the "
                               "switch is as it was", returncode=NO_GO_STATUS)

    def switched(self, mode: str) -> None:
        """What a gateway does once every worker uses the side ``mode`` names (nothing, by default)."""

    def _status(self, *, as_json: bool) -> None:
        row = FeatureSwitch.objects.filter(name=self.switch).first()
        mode = "remote" if row is not None and row.enabled else "local"
        problems = type(self).problems()
        data = {
            "mode": mode,
            "switch": self.switch,
            "changed_at": row.updated_at.isoformat() if row is not None else None,
            "service_url": getattr(settings, self.url_setting),
            "token_configured": bool(getattr(settings, self.token_setting)),
            "remote_ready": not problems,
            "problems": problems,
        }
        if as_json:
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(f"{self.gateway} gateway: {mode}")
        self.stdout.write(f"  switch {self.switch}: {'on' if mode == 'remote' else 'off'}"
                          + (f" (since {data['changed_at']})" if row is not None else " (never set)"))
        self.stdout.write(f"  {self.gateway} service: {data['service_url']}, token "
                          f"{'configured' if data['token_configured'] else 'NOT configured'}")
        if problems:
            self.stdout.write("  remote not possible: " + "; ".join(problems))
