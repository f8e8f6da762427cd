"""The ``record`` and ``replay`` subcommands of ``manage.py strangler``: their arguments and their runs.

Kept here so the management command only wires them in (two ``add_*`` calls and two branches).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from strangler.arguments import positive_float, positive_int
from strangler.parity.environment import AUTH_TOKEN_ENV
from strangler.parity.exceptions import ParityError


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


RECORD_SUMMARY = "record real traffic through mitmdump (reverse proxy) into a redacted flow file"
RECORD_DESCRIPTION = """\
Run mitmdump as a reverse proxy in front of a backend and write the traffic to a flow file (mitmproxy's
format), secrets redacted before writing. Stops after --duration or on Ctrl-C; stops writing (and says so)
when --max-bytes or --max-flows is reached."""


REPLAY_SUMMARY = "replay a flow file against a target and compare the answers"
REPLAY_DESCRIPTION = """\
Send the recorded requests to --against and compare each answer with the recorded one, or with --baseline's
live answer to the same request (router.compare, rules from --rules). Prints a table per route; exit status 1
on any difference or error."""


def add_record_parser(groups: Any) -> None:
    p = groups.add_parser("record", help=RECORD_SUMMARY, description=RECORD_DESCRIPTION)
    p.add_argument("--to", required=True, type=Path, metavar="FILE", help="the flow file to write (overwritten)")
    p.add_argument("--upstream", required=True, metavar="URL", help="the backend, e.g. http://127.0.0.1:8000")
    p.add_argument("--listen", default="127.0.0.1:8090", metavar="HOST:PORT",
                   help="where clients connect (default 127.0.0.1:8090)")
    p.add_argument("--max-bytes", type=positive_int, default=10 * 1024 * 1024, metavar="N",
                   help="never grow the file past N bytes (default 10 MiB)")
    p.add_argument("--max-flows", type=positive_int, metavar="N", help="stop writing after N flows")
    p.add_argument("--duration", type=positive_float, metavar="S", help="stop recording after S seconds")
    p.add_argument("--redact-header", type=_names, action="extend", default=[], metavar="NAMES",
                   help="more headers to redact (comma-separated), beside Authorization, Cookie, X-Identity-Token...")
    p.add_argument("--redact-field", type=_names, action="extend", default=[], metavar="NAMES",
                   help="more body/query fields to redact, beside password, token, secret, csrfmiddlewaretoken")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def add_replay_parser(groups: Any) -> None:
    p = groups.add_parser("replay", help=REPLAY_SUMMARY, description=REPLAY_DESCRIPTION)
    p.add_argument("flows", type=Path, metavar="FILE", help="a flow file written by `strangler record`")
    p.add_argument("--against", required=True, metavar="URL", help="the target, e.g. the router or a service")
    p.add_argument("--baseline", metavar="URL", help="compare with this server's live answers, not the recording")
    p.add_argument("--concurrency", type=positive_int, default=8, metavar="N", help="requests in flight (default 8)")
    p.add_argument("--rules", type=Path, metavar="FILE",
                   help="comparison rules (YAML: ignore, unordered, headers, ignore_headers, max_differences: "
                        "the keys of a route's shadow in routes.yaml)")
    p.add_argument("--include-writes", action="store_true",
                   help="also send POST/PUT/PATCH/DELETE (needs --i-know-this-writes)")
    p.add_argument("--i-know-this-writes", dest="writes_confirmed", action="store_true",
                   help="confirm that --against (and --baseline) run on disposable databases")
    p.add_argument("--auth-token", default=os.environ.get(AUTH_TOKEN_ENV), metavar="TOKEN",
                   help=f"re-authenticate requests that were recorded with credentials (default: ${AUTH_TOKEN_ENV}); "
                        "without it they are skipped and counted")
    p.add_argument("--auth-scheme", default="Token", metavar="SCHEME",
                   help="Authorization scheme for --auth-token (default Token)")
    p.add_argument("--host-header", choices=("recorded", "target"), default="recorded",
                   help="send the recorded Host (default: absolute links then agree) or the target's")
    p.add_argument("--path-prefix", metavar="PREFIX", help="replay only requests whose path starts with PREFIX")
    p.add_argument("--timeout", type=positive_float, default=30.0, metavar="S", help="per request (default 30)")
    p.add_argument("--junit", type=Path, metavar="PATH", help="write a JUnit XML report (one testcase per request)")
    p.add_argument("--json", dest="json_path", type=Path, metavar="PATH", help="write the JSON report here")
    p.add_argument("--quiet", action="store_true", help="no table; only the verdict line")


def run_record(o: dict[str, Any], stdout: Any) -> None:
    from strangler.parity.record import RecordSettings, parse_listen, record

    try:
        host, port = parse_listen(o["listen"])
        settings = RecordSettings(to=o["to"], upstream=o["upstream"], listen_host=host, listen_port=port,
                                  max_bytes=o["max_bytes"] or 0, max_flows=o["max_flows"] or 0,
                                  duration=o["duration"], redact_headers=tuple(o["redact_header"]),
                                  redact_fields=tuple(o["redact_field"]))
        summary = record(settings, say=lambda text: print(text, file=sys.stderr, flush=True))
    except ParityError as exc:
        raise CommandError(f"record: {exc}", returncode=2) from exc
    if o["json"]:
        stdout.write(json.dumps(summary, indent=2))
        return
    limit = f"; stopped writing at {summary['limit_reached']} ({summary['dropped']} flows not written)" \
        if summary.get("limit_reached") else ""
    stdout.write(f"recorded {summary['flows']} flows ({summary['bytes']} bytes) to {summary['file']}, "
                 f"{summary['redacted_values']} values redacted{limit}; stopped by {summary['stopped_by']}")


def run_replay(o: dict[str, Any], stdout: Any) -> None:
    import logging

    from rich.console import Console

    from router.compare import Rules, RulesError
    from strangler.parity.flows import read_requests
    from strangler.parity.replay import ReplaySettings, replay

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the table
    try:
        try:
            rules = Rules.load(o["rules"]) if o["rules"] else Rules()
        except (RulesError, ValueError) as exc:
            raise CommandError(f"replay: --rules {o['rules']}: {exc}", returncode=2) from exc
        settings = ReplaySettings(
            against=o["against"], baseline=o["baseline"], concurrency=o["concurrency"],
            include_writes=o["include_writes"], writes_confirmed=o["writes_confirmed"], rules=rules,
            auth_token=o["auth_token"] or None, auth_scheme=o["auth_scheme"], host_header=o["host_header"],
            path_prefix=o["path_prefix"], timeout=o["timeout"])
        report = replay(read_requests(o["flows"]), settings, source=str(o["flows"]))
    except ParityError as exc:
        raise CommandError(f"replay: {exc}", returncode=2) from exc
    if o["junit"]:
        report.write_junit(o["junit"])
    if o["json_path"]:
        report.write_json(o["json_path"])
    console = Console(file=stdout, width=max(100, Console().width), soft_wrap=False)
    if o["quiet"]:
        t = report.totals()
        console.print(f"{'OK' if report.ok else 'DIFFERENCES'}: {t['equal']} equal, {t['different']} different, "
                      f"{t['errors']} errors, {t['skipped']} skipped of {t['recorded']} recorded")
    else:
        report.render(console)
    if not report.ok:
        t = report.totals()
        raise CommandError(f"replay: {t['different']} of {t['sent']} requests differ, {t['errors']} failed",
                           returncode=1)
