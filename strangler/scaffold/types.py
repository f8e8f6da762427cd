"""A Django field's column in the service: the SQLAlchemy type (as code for the generated files) and the
Python type of its values. ``ID`` and ``TIMESTAMP`` are the generated modules' own names for the two types
that differ by database (64-bit ids that SQLite still auto-increments; timestamps with their time zone, and
MariaDB's microseconds)."""

from __future__ import annotations

from typing import Any

from django.db import models

# (field class, type code, annotation), most specific first: BigAutoField is an AutoField's sibling, not child.
_TYPES: list[tuple[type, str, str]] = [
    (models.BigAutoField, "ID", "int"),
    (models.SmallAutoField, "sa.SmallInteger()", "int"),
    (models.AutoField, "sa.Integer()", "int"),
    (models.PositiveBigIntegerField, "sa.BigInteger()", "int"),
    (models.PositiveSmallIntegerField, "sa.SmallInteger()", "int"),
    (models.PositiveIntegerField, "sa.Integer()", "int"),
    (models.BigIntegerField, "sa.BigInteger()", "int"),
    (models.SmallIntegerField, "sa.SmallInteger()", "int"),
    (models.IntegerField, "sa.Integer()", "int"),
    (models.BooleanField, "sa.Boolean()", "bool"),
    (models.FloatField, "sa.Float()", "float"),
    (models.DateTimeField, "TIMESTAMP", "datetime"),
    (models.DateField, "sa.Date()", "date"),
    (models.TimeField, "sa.Time()", "time"),
    (models.DurationField, "sa.Interval()", "timedelta"),
    (models.UUIDField, "sa.Uuid()", "UUID"),
    (models.JSONField, "sa.JSON()", "Any"),
    (models.BinaryField, "sa.LargeBinary()", "bytes"),
    (models.TextField, "sa.Text()", "str"),
    (models.GenericIPAddressField, "sa.String(39)", "str"),
]


def column_type(f: Any) -> tuple[str, str]:
    if isinstance(f, models.DecimalField):
        return f"sa.Numeric({f.max_digits}, {f.decimal_places})", "Decimal"
    if isinstance(f, models.CharField | models.FileField):   # slugs, e-mails, URLs, file names
        return f"sa.String({f.max_length or 255})", "str"
    for cls, code, python in _TYPES:
        if isinstance(f, cls):
            return code, python
    return "sa.Text()", "str"   # a custom field: its values as text; the scaffold notes it
