"""The strangler facade: routing table, forwarding, canary, shadow, identity bridge.

One package per kind, each importing only those above it in this list (``lint-imports`` refuses a loop):

    parity/     the response comparison engine (public face: ``router.compare``) and the parity store
    routing/    the routing table and ``match()``, path normalisation, the header names the router owns
    config/     the routes file's schema and loader
    control/    the live table and what changes it: edits, reloads, leases, counting windows
    http/       the client side of HTTP/1.1: the protocol and its limits, refusals, the response cycle
    upstream/   the backend side: the transport interface and its transports (h1 pool, aiohttp, httpx)
    proxy/      the forwarding core: the ASGI app, the flow, the addon interface, the forwarding policy
    addons/     features as addons: write freeze, metrics, identity bridge, canary, shadow
    admin/      the admin API and the figures it shows
    server/     assembling and running it all, one process or a primary with workers
    export/     other proxies' configurations for a routes file (nginx)

Standalone: it never imports Django, the monolith, the extracted services or the migration engine.
"""
