"""A routing table as an nginx configuration: ``render_nginx(config) -> (nginx.conf text, warnings)``.

Pure: no I/O, no nginx needed. The result is a complete ``nginx.conf`` (``nginx -c FILE``) whose runtime
files (pid, logs, temp dirs) live under one prefix directory that must exist and be writable.

How the router's behaviour maps onto nginx (each point is also explained in the generated file):

- backends -> ``upstream`` blocks (``least_conn`` for least_busy; ``max_fails``/``fail_timeout`` for the
  circuit; ``keepalive``);
- route selection -> one location per route path (``=`` for exact and the bare form of a prefix, ``^~`` for
  literal prefixes, ordered ``~`` regexes for ``{param}`` patterns). nginx picks a location by path only and
  with its own precedence, so each location only *dispatches*: a ``map`` over the request's condition flags
  (method set, header, idempotency) and the path re-checks, in the router's most-specific-first order,
  every route that can match a path reaching that location, and names the *action* (a named location:
  route x backend) that serves it. Whatever location nginx picks, the same route wins as in
  ``RouteTable.match()``;
- canary -> ``split_clients`` on a sticky key (session cookie, else client address), salted with the
  route's backend like ``router.addons.canary``;
- fallback -> ``proxy_intercept_errors`` + ``error_page 5xx = @fallback`` for idempotent requests without
  a body only (the dispatch map sends the others to a variant without interception: never sent twice);
- shadow -> ``mirror`` to an internal location that drops methods the route does not shadow.

The package, by what each module holds:

- ``syntax``: the export's fixed names and paths, nginx tokens (``q``) and a pattern's path regex;
- ``plan``: the model: the routes nginx can serve, their identifiers and condition flags, the locations and
  their candidate routes (``overlap``, ``covers``), and the notes on what nginx cannot do;
- ``maps``: the http-level maps and each location's dispatch map;
- ``server``: the upstreams and the server block with its actions (named locations), fallbacks and shadows;
- ``render``: ``render_nginx`` and the file around those sections.
"""

from __future__ import annotations

from router.export.nginx.plan import covers, overlap
from router.export.nginx.render import render_nginx
from router.export.nginx.syntax import (
    DEFAULT_PREFIX,
    DISPATCH_STATUS,
    FALLBACK_STATUSES,
    LIVENESS_PATH,
    SHADOW_PREFIX,
    path_regex,
    q,
)

__all__ = ["DEFAULT_PREFIX", "DISPATCH_STATUS", "FALLBACK_STATUSES", "LIVENESS_PATH", "SHADOW_PREFIX", "covers",
           "overlap", "path_regex", "q", "render_nginx"]
