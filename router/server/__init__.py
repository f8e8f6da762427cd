"""Assembling and running the router: the forwarding core, its addons and the admin API put together
(``assembly``), how each process runs uvicorn (``running``), and ``serve()`` (``launch``): one process, or a
primary with worker processes (``router.server.workers``)."""

from router.server.assembly import Router
from router.server.launch import serve

__all__ = ["Router", "serve"]
