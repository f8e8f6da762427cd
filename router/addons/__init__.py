"""Router features layered over the forwarding core as addons (``router.proxy.pipeline.Addon``), called in the
order ``router.server.assembly.Router`` gives them, for plain HTTP and WebSocket upgrades alike:

    freeze.py     the write freeze: a frozen route's writes are answered 503 with Retry-After
    metrics.py    Prometheus metrics and the per-route figures the admin API and the gates read
    identity.py   the identity bridge: a signed token saying who is calling, for extracted services
    canary.py     a sticky share of a route's traffic to the route's backend, the rest to the default
    shadow.py     mirroring a route's requests to a second backend and comparing the answers
"""
