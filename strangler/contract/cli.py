"""``python manage.py strangler contract PLAN [--examples N] [--seed S] [--json]``: parsing and printing only."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from typing import Any

from django.core.management.base import CommandError

from strangler.arguments import Output, positive_float, positive_int

SUMMARY = "generated requests to scratch copies of the monolith and the service, compared"
DESCRIPTION = """\
Property-based differential check of a plan's endpoints: requests generated from the monolith's OpenAPI schema
(valid and invalid bodies, query parameters, content types, Accept, identities) go to the monolith and the
service, each started on scratch copies of the databases behind a router of their own; answers are compared
with the plan's rules and every kind of difference is shrunk to its smallest request, printed as a curl pair
and a pytest case. Exit status 1 when more kinds of difference are found than the plan's contract step allows
(max_differences, default 0), 2 when the check cannot run."""


def add_parser(groups: Any) -> None:
    p = groups.add_parser("contract", help=SUMMARY, description=DESCRIPTION)
    p.add_argument("plan", metavar="PLAN", help="the plan file, e.g. migration_plans/catalog.yaml")
    p.add_argument("--examples", type=positive_int, metavar="N",
                   help="requests to generate (default: the plan's contract step, else 500)")
    p.add_argument("--seed", type=int, metavar="S", help="the generation's seed (default: the step's, else random; "
                                                         "printed either way, to reproduce a run)")
    p.add_argument("--timeout", type=positive_float, metavar="S",
                   help="stop exploring and shrinking after S seconds (default: the step's, 600)")
    p.add_argument("--identities", type=_identities, metavar="NAMES",
                   help="who requests are sent as, comma-separated: anonymous, user, staff, bad-token, revoked-token "
                        "(default: the step's, else all five)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, databases)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _identities(text: str) -> list[str]:
    from strangler.contract.requests import IDENTITIES

    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in IDENTITIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(IDENTITIES)}, got {text!r}")
    return names


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def handle(options: dict[str, Any], out: Output) -> None:
    from strangler.contract.check import run_contract
    from strangler.contract.exceptions import ContractError

    logging.getLogger("httpx").setLevel(logging.WARNING)
    # A plain SIGTERM would skip clean-up and leave the check's servers running: make it unwind instead.
    signal.signal(signal.SIGTERM, _terminate)
    quiet = options["json"]

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        report = run_contract(options["plan"], examples=options["examples"], seed=options["seed"],
                              timeout=options["timeout"], keep=options["keep"], say=say,
                              identities=options["identities"])
    except ContractError as exc:
        raise CommandError(f"contract: {exc}", returncode=2) from exc
    out.write(json.dumps(report.to_dict(), indent=2, default=str) + "\n" if quiet else report.render() + "\n")
    if not report.ok:
        first = report.findings[0]
        raise CommandError(f"contract: {len(report.findings)} kind(s) of difference > {report.max_differences} "
                           f"allowed; the first: {first.kind}: {first.best.request.describe()}", returncode=1)
