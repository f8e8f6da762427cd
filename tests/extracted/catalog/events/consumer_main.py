"""A consumer process for the crash tests: applies ``catalog.stock.changed`` events to a tally of its own
(``tally``: product -> sum of deltas, count of events) through the events package's inbox, and exits once a
fetch brings nothing for ``--idle`` seconds. ``python -m tests.extracted.catalog.events.consumer_main DB_URL``;
the bus from EVENTS_URL; EVENTS_CRASH_AT kills it at a named point."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from sqlalchemy import Column, Connection, Integer, MetaData, Table, create_engine, insert, select, update

from extracted.catalog.events.bus import connect
from extracted.catalog.events.inbox import Consumer, Event
from extracted.catalog.events.tables import inbox_table

metadata = MetaData()
inbox = inbox_table(metadata)
tally = Table("tally", metadata, Column("product", Integer, primary_key=True), Column("total", Integer),
              Column("events", Integer))


def apply(conn: Connection, event: Event) -> None:
    product, delta = event.data["product"], event.data["delta"]
    if conn.execute(select(tally.c.product).where(tally.c.product == product)).first() is None:
        conn.execute(insert(tally).values(product=product, total=0, events=0))
    conn.execute(update(tally).where(tally.c.product == product)
                 .values(total=tally.c.total + delta, events=tally.c.events + 1))


async def main(db_url: str, durable: str, subject_filter: str, idle: float) -> int:
    engine = create_engine(db_url)
    metadata.create_all(engine)
    bus = await connect(os.environ["EVENTS_URL"])
    consumer = Consumer(engine, inbox, bus, name=durable, subject_filter=subject_filter, handler=apply)
    try:
        while await consumer.run_once(timeout=idle):
            pass
    finally:
        await bus.close()
        engine.dispose()
    print(f"applied {consumer.applied} skipped {consumer.skipped} refused {consumer.refused}", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("db_url")
    parser.add_argument("--durable", required=True)
    parser.add_argument("--filter", required=True)
    parser.add_argument("--idle", type=float, default=1.5)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.db_url, args.durable, args.filter, args.idle)))
