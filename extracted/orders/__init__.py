"""The orders service: the monolith's ``/api/orders/`` served from its own database (``ORDERS_DATABASE_URL``).

Phase 1 (issue 15): its data (``orders``, ``order_lines``, and ``order_shipments``, the snapshot of what an order
shows of its shipment) and its read contract: ``GET /api/orders/``, ``GET /api/orders/{id}/`` and the internal
``GET /api/orders/product-references/{id}/``, answered as the monolith answers them. Its writes
(``POST /api/orders/checkout/``, ``POST /api/orders/{id}/cancel/``) answer 503 ``not_yet``: the checkout saga
comes next, and until then the router sends them to the monolith.

``python -m extracted.orders`` serves it (uvicorn, port 8103); ``python -m extracted.orders migrate`` brings its
database to the Alembic head. See ``app`` for how the API is put together, ``models`` and ``migrations/`` for the
tables. The monolith's pages (``/checkout/``, ``/orders/``) stay the monolith's.
"""
