"""Requests per endpoint from a router access log (one JSON object a line with ``path``, as the router
writes), each path resolved against the project's URLconf to the pattern that serves it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from django.urls import Resolver404, resolve

from strangler.inventory.exceptions import TrafficLogError


def requests_per_route(log: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TrafficLogError(f"--traffic {log}: cannot read it ({exc})") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TrafficLogError(f"--traffic {log}:{number}: not a JSON line ({exc.msg})") from exc
        if not isinstance(entry, dict):
            raise TrafficLogError(f"--traffic {log}:{number}: expected an object, got {type(entry).__name__}")
        path = entry.get("path")
        if not isinstance(path, str):
            continue   # the router's own event lines (workers started, leases) carry no path
        try:
            match = resolve(path.split("?", 1)[0])
        except Resolver404:
            counts["(no pattern)"] += 1
            continue
        # Django keeps a regex pattern's closing anchor in ResolverMatch.route; the inventory lists it without.
        counts[match.route.replace("^", "").removesuffix("$")] += 1
    return counts
