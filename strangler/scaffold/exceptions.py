"""Errors of the scaffold.

Tree::

    ScaffoldError           the scaffold cannot be written: an app that is not installed or has no models, a
                            service name that is not a Python identifier, files that exist (without --force);
                            the message names what and where
"""

from __future__ import annotations


class ScaffoldError(Exception):
    pass
