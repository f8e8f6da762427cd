"""What a request is for: the routing table and its ``match()`` (``table``), the one reading of a path
(``paths``), and the header names whose meaning the router owns (``headers``).

Plain data and pure functions, no I/O: the routes file's schema (``router.config``), the forwarding core
(``router.proxy``) and the nginx export (``router.export``) all build on it, and it imports none of them.
"""
