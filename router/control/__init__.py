"""The live table and everything that changes what the router serves with, whoever asks for it:

    state.py     the table in use, swapped atomically, with a short history to roll back to
    edits.py     a route change (backend, canary, fallback, shadow), validated like the routes file
    reload.py    re-reading the routes file (SIGHUP, the file watcher, the admin API)
    leases.py    write freezes held as leases, and what a lapsed one changes
    windows.py   counting windows: the figures of the requests that started after a given moment

It knows nothing of HTTP: the admin API (``router.admin``) and the worker processes' control channel
(``router.server.workers``) drive it, the forwarding core (``router.proxy``) and the addons read it.
"""
