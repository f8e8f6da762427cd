"""The cart service's own errors, under the shared tree of :mod:`.exceptions`::

    Conflict
    └── OutOfStock           409 out_of_stock   (more than the catalog has in stock)
    Unavailable
    ├── CatalogUnavailable   503 catalog_unavailable  (the catalog's owner did not answer its batch read)
    └── SessionUnavailable   503 session_unavailable  (the sessions' owner did not answer)
"""

from __future__ import annotations

from .exceptions import Conflict, Unavailable


class OutOfStock(Conflict):
    code = "out_of_stock"


class CatalogUnavailable(Unavailable):
    """The catalog's owner (through the router) did not answer the batch read of products: nothing was written.
    The monolith's own code for the catalog service not answering its gateway."""

    code = "catalog_unavailable"


class SessionUnavailable(Unavailable):
    """The sessions' owner (the monolith) did not answer: the anonymous caller's cart cannot be found."""

    code = "session_unavailable"
