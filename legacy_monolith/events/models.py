from __future__ import annotations

from django.db import models


class OutboxEvent(models.Model):
    """One event to publish; the columns of the services' ``event_outbox`` (their ``events/tables.py``)."""

    event_id = models.CharField(max_length=36, unique=True)
    subject = models.CharField(max_length=200)
    payload = models.TextField()  # the whole envelope, as published
    created_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "event_outbox"
        ordering = ["id"]
        indexes = [models.Index(fields=["published_at", "id"], name="event_outbox_unpublished")]

    def __str__(self) -> str:
        return f"{self.subject} {self.event_id}"
