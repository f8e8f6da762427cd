"""The backend side: one small interface for sending a request upstream (``interface``) and the transports that
implement it, by the name ``--transport`` takes (``transports``): the router's own HTTP/1.1 pool (``h1pool``,
``h1conn``, ``h1response``; the default) and the aiohttp and httpx clients (``libraries``) to measure against.

Transports know nothing of routes or addons: they take an ``UpstreamRequest`` and give an
``UpstreamResponse`` or raise an ``UpstreamError``.
"""
