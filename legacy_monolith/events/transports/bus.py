"""Which bus: ``EVENTS_URL`` = ``nats://host:port[?ack_wait=SECONDS]`` for NATS JetStream (:mod:`.jetstream`),
``sqlite:////abs/events.sqlite3`` for the embedded bus (:mod:`.embedded`); unset, the embedded bus in
``<var dir>/events.sqlite3`` (every service on the machine opens the same file)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl

from .exceptions import BusConfigError
from .transport import Transport

ENV_VAR = "EVENTS_URL"


def events_url(var_dir: Path) -> str:
    return os.environ.get(ENV_VAR) or f"sqlite:///{var_dir / 'events.sqlite3'}"


async def connect(url: str) -> Transport:
    """The bus ``url`` names (errors name ``EVENTS_URL`` and the value)."""
    if url.startswith("nats://") or url.startswith("tls://"):
        from .jetstream import ACK_WAIT_SECONDS, JetStream

        base, _, query = url.partition("?")
        options = dict(parse_qsl(query, keep_blank_values=True))
        unknown = sorted(set(options) - {"ack_wait"})
        if unknown:
            raise BusConfigError(f"{ENV_VAR}: {url!r}: unknown option {unknown[0]!r} (known: ack_wait)")
        try:
            ack_wait = float(options.get("ack_wait", ACK_WAIT_SECONDS))
        except ValueError:
            ack_wait = -1.0
        if not 0.1 <= ack_wait <= 3600:
            raise BusConfigError(f"{ENV_VAR}: {url!r}: ack_wait={options['ack_wait']!r} is not seconds from 0.1 "
                                 "to 3600 (how long JetStream waits for an acknowledgement before it redelivers)")
        return await JetStream.connect(base, ack_wait=ack_wait)
    if url.startswith("sqlite:///"):
        from .embedded import EmbeddedBus

        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_absolute() or path.name in ("", ":memory:"):
            raise BusConfigError(f"{ENV_VAR}: {url!r} names no absolute SQLite file "
                                 "(expected sqlite:////abs/path/events.sqlite3)")
        return EmbeddedBus(path)
    raise BusConfigError(f"{ENV_VAR}: {url!r} is not a bus this service knows "
                         "(expected nats://host:4222 or sqlite:////abs/path/events.sqlite3)")
