"""The service's logs: one JSON object a line on stderr, with the extra fields (request id, status, ...) as keys."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import orjson

LEVEL_ENV = "ORDERS_LOG_LEVEL"


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the extra fields (request id, status, ...) as keys."""

    _standard = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._standard and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get(LEVEL_ENV, "INFO"))
