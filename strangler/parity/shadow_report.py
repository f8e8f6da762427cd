"""``strangler parity report``: parity per route from the router's shadow store.

The store is the router's (``parity.store`` in the routes file, ``var/parity.sqlite3`` by default); reading it
is the router's code too (``router.parity.store``), so the file format has one owner.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from router.parity import store as parity_store

DEFAULT_STORE = Path("var/parity.sqlite3")
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class ReportError(ValueError):
    pass


def parse_since(text: str | None, *, now: float | None = None) -> float | None:
    """``30m``, ``2h``, ``7d``, ``1w`` (that long ago) or an ISO date/time (UTC unless it says otherwise)."""
    if text is None:
        return None
    found = DURATION.match(text)
    if found:
        return (now if now is not None else time.time()) - float(found.group(1)) * SECONDS[found.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"--since: {text!r} is neither a duration (30m, 2h, 7d) nor an ISO date/time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def build(store: Path, *, route: str | None = None, since: float | None = None, top: int = 5,
          latest: int = 0) -> dict[str, Any]:
    try:
        routes = parity_store.summarise(store, route=route, since=since)
        recent = parity_store.latest(store, route=route, since=since, limit=latest) if latest else []
    except FileNotFoundError as exc:
        raise ReportError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - sqlite3 errors: not a store, or a broken one
        raise ReportError(f"{store}: cannot read the parity store: {exc}") from None
    compared = sum(r.compared for r in routes)
    equal = sum(r.equal for r in routes)
    return {
        "store": str(store),
        "since": since,
        "routes": [r.as_dict(top) for r in routes],
        "total": {"compared": compared, "equal": equal, "different": compared - equal,
                  "errors": sum(r.errors for r in routes),
                  "rate": round(equal / compared, 6) if compared else None},
        "latest": recent,
    }


def render(report: dict[str, Any]) -> str:
    lines = [f"parity from {report['store']}"
             + (f" since {datetime.fromtimestamp(report['since'], timezone.utc).isoformat(timespec='seconds')}"
                if report["since"] is not None else "")]
    if not report["routes"]:
        lines.append("no comparisons recorded (yet)")
        return "\n".join(lines)
    width = max(5, *(len(r["route"]) for r in report["routes"]))
    lines.append(f"{'route':<{width}}  {'compared':>8}  {'equal':>8}  {'different':>9}  {'errors':>6}  {'rate':>8}")
    for r in [*report["routes"], {"route": "all", **report["total"]}]:
        rate = "-" if r["rate"] is None else f"{r['rate'] * 100:.2f}%"
        lines.append(f"{r['route']:<{width}}  {r['compared']:>8}  {r['equal']:>8}  {r['different']:>9}  "
                     f"{r['errors']:>6}  {rate:>8}")
    for r in report["routes"]:
        if r["top_paths"]:
            lines.append(f"\n{r['route']}: most frequent differences (comparisons with a difference there)")
            lines.extend(f"  {p['count']:>6}  {p['path']}" for p in r["top_paths"])
    if report["latest"]:
        lines.append("\nlatest differences")
        for row in report["latest"]:
            paths = ", ".join(d["path"] for d in row["differences"][:3]) or (row.get("error") or "")
            lines.append(f"  {row['route']} {row['method']} {row['target']} "
                         f"{row['primary_status']}/{row['shadow_status']}: {paths}")
    return "\n".join(lines)


def store_for(store: Path | None, routes: Path | None) -> Path:
    if store is not None:
        return store
    if routes is None:
        return DEFAULT_STORE
    from router.config import load
    from router.exceptions import ConfigError

    try:
        config = load(routes)
    except ConfigError as exc:
        raise ReportError("; ".join(exc.problems)) from None
    if config.parity.store is None:
        raise ReportError(f"{routes}: parity.store is null: this router keeps no parity store")
    return parity_store.store_path(config.parity.store, routes)


def add_parser(groups: Any) -> None:
    parity = groups.add_parser("parity", help="shadow parity from the router's store",
                               description="Parity between the monolith and the services, as the router's shadow "
                                           "measured it.")
    ops = parity.add_subparsers(dest="operation", metavar="OPERATION", required=True)
    report = ops.add_parser("report", help="per-route compared / equal / different / rate and frequent differences",
                            description="Per-route parity (compared, equal, different, errors, rate) and the most "
                                        "frequent difference paths, read from the router's parity store.")
    where = report.add_mutually_exclusive_group()
    where.add_argument("--store", type=Path, metavar="PATH",
                       help=f"the router's parity store (default: {DEFAULT_STORE}, or what --routes says)")
    where.add_argument("--routes", type=Path, metavar="FILE",
                       help="take the store from this routes file's parity.store, as the router does")
    report.add_argument("--route", metavar="NAME", help="only this route")
    report.add_argument("--since", metavar="WHEN", help="only comparisons since: 30m, 2h, 7d, or an ISO date/time")
    report.add_argument("--top", type=int, default=5, metavar="N", help="difference paths per route (default 5)")
    report.add_argument("--latest", type=int, default=0, metavar="N", help="also list the N latest differences")
    report.add_argument("--json", action="store_true", help="print the report as JSON")


def run(o: dict[str, Any], stdout: Any) -> None:
    from django.core.management.base import CommandError

    try:
        report = build(store_for(o.get("store"), o.get("routes")), route=o.get("route"),
                       since=parse_since(o.get("since")), top=o.get("top", 5), latest=o.get("latest", 0))
    except ReportError as exc:
        raise CommandError(str(exc)) from None
    stdout.write(json.dumps(report, indent=2) if o.get("json") else render(report))
