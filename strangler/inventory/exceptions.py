"""Errors of the inventory.

Tree::

    InventoryError          the inventory cannot be taken (an app named that is not installed, a traffic log
    │                       that cannot be read); the message names what and where
    └── TrafficLogError     a line of the traffic log is not a router access-log line
"""

from __future__ import annotations


class InventoryError(Exception):
    pass


class TrafficLogError(InventoryError):
    pass
