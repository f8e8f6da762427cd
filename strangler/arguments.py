"""Argument types shared by the ``strangler`` command's groups (errors in argparse's own words), and what
they write their output to."""

from __future__ import annotations

import argparse
from typing import Protocol


class Output(Protocol):
    """Where a command group writes: Django's ``OutputWrapper`` (``self.stdout``), a file, a StringIO."""

    def write(self, text: str, /) -> object: ...


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number")
    return value
