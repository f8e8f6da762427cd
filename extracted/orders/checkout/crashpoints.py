"""Named points where a test kills the process on purpose (``ORDERS_CRASH_AT=checkout.after_reserve``): the
saga is proved by SIGKILLing the service inside a step, after its effect and before DBOS records it. Unset, a
point costs one lookup."""

from __future__ import annotations

import os
import signal
import sys

ENV_VAR = "ORDERS_CRASH_AT"


def reached(name: str) -> None:
    wanted = os.environ.get(ENV_VAR)
    if wanted and name in wanted.split(","):
        print(f"crashpoint {name}: killing process {os.getpid()}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
