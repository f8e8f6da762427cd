"""What every service's URL table holds: ``{id:orders_id}`` in a path (registered on import) and the
``/healthz`` route (:data:`HEALTHZ`)."""

from __future__ import annotations

from typing import Final

from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Route

from .health import healthz


class IdConvertor(Convertor[int]):
    """A database id in a path: 1 to 18 digits (the monolith's ``id`` converter); anything else is a plain 404."""

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("orders_id", IdConvertor())

HEALTHZ: Final = Route("/healthz", healthz, methods=["GET", "HEAD"])
