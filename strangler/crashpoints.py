"""Named points where a test kills or slows the process on purpose.

The write-ledger tests prove "no acknowledged write is lost, whatever dies where" by SIGKILLing the executor
at each of these points and running it again; and "whatever is slower than planned" by pausing at them::

    STRANGLER_CRASH_AT=cutover.after_flip             # SIGKILL this process when it gets there
    STRANGLER_PAUSE_AT=cutover.final_sync:8,hook:2    # sleep 8 s there (and 2 s at `hook`)

Names are ``<step>.<point>`` (``cutover.after_freeze``, ``rollback.mid_sync``, ``hook.catalog-gateway.running``,
...); :data:`REACHED` collects those a run passed, so a test can list every point of a step. Unset, a point
costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

REACHED: list[str] = []
_SCOPES: list[str] = []


@contextmanager
def scope(prefix: str) -> Iterator[None]:
    """Points reached inside are named ``<prefix>.<name>``: the data split's own points (``sync.after_slice``,
    ``verify.after_table``) say which step's sync or verify they are in."""
    _SCOPES.append(prefix)
    try:
        yield
    finally:
        _SCOPES.pop()


def _parse(value: str) -> dict[str, float]:
    points: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, seconds = item.partition(":")
        try:
            points[name] = float(seconds) if seconds else 0.0
        except ValueError:
            raise ValueError(f"STRANGLER_PAUSE_AT: {item!r} is not NAME:SECONDS") from None
    return points


def reached(name: str) -> None:
    if _SCOPES:
        name = f"{_SCOPES[-1]}.{name}"
    REACHED.append(name)
    trace = os.environ.get("STRANGLER_CRASHPOINTS_LOG")
    if trace:
        with open(trace, "a", encoding="utf-8") as fh:
            fh.write(name + "\n")
    pauses = os.environ.get("STRANGLER_PAUSE_AT")
    if pauses:
        seconds = _parse(pauses).get(name)
        if seconds:
            time.sleep(seconds)
    crash = os.environ.get("STRANGLER_CRASH_AT")
    if crash and name in _parse(crash):
        print(f"crashpoint {name}: killing process {os.getpid()}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
