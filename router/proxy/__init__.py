"""The forwarding core: the ASGI application that matches a request, runs the addon pipeline and forwards it.

    app.py         RouterApp: one HTTP request or WebSocket upgrade, from scope to answer
    flow.py        Flow: one request's journey, shared by the core and the addons
    pipeline.py    the addon interface (Addon, Reply)
    access_log.py  the access log, the last addon
    policy.py      the forwarding policy: headers sent upstream, request ids, upstream URLs, hop-by-hop removal
    exchange.py    the bytes of one exchange: request body in, response streamed out, the router's own answers
    websocket.py   relaying an upgraded connection's frames both ways
    balancing.py   choosing a target of a backend
    health.py      which targets may receive traffic: circuits and active checks
    background.py  a task that lives as long as the server (started and stopped with it)

Features on top of it (canary, freeze, identity, shadow, metrics) are addons (``router.addons``); the core
imports none of them.
"""
