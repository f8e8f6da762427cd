"""Events the monolith publishes to the services (a transactional outbox and its relay).

Shipping, still in the monolith, tells the orders service about its shipments: ``shipping.shipment.changed``
is written by :func:`outbox.record` in the transaction that creates or moves a shipment, and
``python manage.py publish_events`` (the relay) publishes the outbox to the bus ``EVENTS_URL`` names: the
same envelope, the same buses and the same guarantees as the services' ``events/`` package (publish, then
mark; the bus drops a second publish by event id).
"""
