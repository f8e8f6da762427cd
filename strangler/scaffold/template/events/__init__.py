"""Events between services: a transactional outbox, a relay, and an idempotent inbox.

This package is the same in every service (it comes from ``strangler/scaffold/template/events/``; a test keeps
the copies equal): it imports only SQLAlchemy, nats-py (when configured) and itself.

- :mod:`.outbox`: :func:`~.outbox.record` writes an event in the caller's transaction, beside the change it
  describes: both commit or neither does.
- :mod:`.relay`: publishes what the outbox holds, oldest first, and marks it published. A relay killed between
  the two publishes again; the bus drops the duplicate by event id (and the inbox would anyway).
- :mod:`.inbox`: a consumer applies each event in its own transaction together with a row of its id in its
  processed-events table; an event seen again (redelivery, a relay's second publish) is acknowledged and
  skipped. At-least-once delivery, exactly-once effect.
- the bus (:mod:`.bus` picks it, :mod:`.transport` is its interface): NATS JetStream when ``EVENTS_URL`` is
  ``nats://...``, else the embedded bus (:mod:`.embedded`), a SQLite file under the var directory, no broker.
"""
