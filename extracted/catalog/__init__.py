"""The catalog service: the monolith's ``/api/catalog/`` served from its own database.

``python -m extracted.catalog`` serves it (uvicorn, port 8101); ``python -m extracted.catalog migrate`` brings
its database to the Alembic head. See ``app`` for how the API is put together, ``models`` and
``migrations/`` for the tables.
"""
