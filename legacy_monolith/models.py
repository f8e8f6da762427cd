"""Shop-wide runtime switches: flags read by running code and flipped without a deploy.

A row per switch; no row means off. Read through :mod:`legacy_monolith.switches` (cached for at most a
second per process), written by management commands (``catalog_gateway``) and the admin of old.
"""

from __future__ import annotations

from django.db import models


class FeatureSwitch(models.Model):
    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}={'on' if self.enabled else 'off'}"
