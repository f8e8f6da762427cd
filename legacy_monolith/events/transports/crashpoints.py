"""Named points where a test kills the process on purpose (``EVENTS_CRASH_AT=relay.after_publish``): the
relay and the inbox are proved by SIGKILLing them between their two writes. Unset, a point costs one lookup."""

from __future__ import annotations

import os
import signal
import sys

ENV_VAR = "EVENTS_CRASH_AT"


def reached(name: str, env_var: str = ENV_VAR) -> None:
    """Kills this process when ``name`` is among the comma-separated points ``env_var`` lists (another package's
    points may use a variable of their own)."""
    wanted = os.environ.get(env_var)
    if wanted and name in wanted.split(","):
        print(f"crashpoint {name}: killing process {os.getpid()}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
