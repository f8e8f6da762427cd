"""Serializer fields shared by the apps' APIs."""

from __future__ import annotations

from rest_framework import serializers


class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key written as an id, parsed as a whole number before the lookup.

    DRF's own field hands the raw JSON value to the ORM, which truncates ``1.5`` to ``1`` (the wrong row) and
    crashes on ``1e400`` (a float infinity: OverflowError, a 500). Parsed first, both are a 400.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("pk_field", serializers.IntegerField())
        super().__init__(**kwargs)
