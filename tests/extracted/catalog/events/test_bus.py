"""The bus interface on both buses (extracted/catalog/events/: embedded.py, jetstream.py): a publish of an
event id already stored is dropped, wildcards filter alike, a durable subscription redelivers what was not
acknowledged and never what was, nak delays, and a bad URL names EVENTS_URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from extracted.catalog.events.bus import connect, events_url
from extracted.catalog.events.exceptions import BusConfigError
from extracted.catalog.events.transport import Message, check_subject, matches


def run(loop: asyncio.AbstractEventLoop, coro):  # type: ignore[no-untyped-def]
    return loop.run_until_complete(coro)


def test_a_second_publish_of_an_event_is_dropped_and_filters_match_alike(loop, bus_url, unique) -> None:
    async def scenario() -> None:
        bus = await connect(bus_url)
        try:
            assert await bus.publish(f"{unique}.stock.changed", f"{unique}-e1", b"one")
            assert not await bus.publish(f"{unique}.stock.changed", f"{unique}-e1", b"one again")  # the relay's retry
            assert await bus.publish(f"{unique}.order.placed", f"{unique}-e2", b"two")
            assert await bus.publish(f"{unique}.stock.changed.deep", f"{unique}-e3", b"three")
            stock = await bus.subscribe(f"{unique}-stock", f"{unique}.stock.*")
            got = await stock.fetch(10, 2.0)
            assert [(m.subject, m.msg_id, m.payload) for m in got] == [
                (f"{unique}.stock.changed", f"{unique}-e1", b"one")]
            everything = await bus.subscribe(f"{unique}-all", f"{unique}.>")
            got = await everything.fetch(10, 2.0)
            assert [m.msg_id for m in got] == [f"{unique}-e1", f"{unique}-e2", f"{unique}-e3"]
            assert got[0].seq < got[1].seq < got[2].seq and all(m.deliveries == 1 for m in got)
        finally:
            await bus.close()

    run(loop, scenario())


def test_what_was_not_acknowledged_comes_again_and_what_was_does_not(loop, bus_url, unique) -> None:
    def ids(messages: list[Message]) -> set[str]:
        return {m.msg_id.removeprefix(f"{unique}-") for m in messages}

    async def scenario() -> None:
        bus = await connect(bus_url)
        try:
            for i in range(4):
                await bus.publish(f"{unique}.x", f"{unique}-m{i}", str(i).encode())
            sub = await bus.subscribe(unique, f"{unique}.x")
            first = await sub.fetch(10, 2.0)
            assert [m.msg_id.removeprefix(f"{unique}-") for m in first] == ["m0", "m1", "m2", "m3"]
            await sub.ack(first[0])
            await sub.ack(first[1])
            for m in first[2:]:  # what a consumer does when its handler fails on m2: m2 and what it fetched after
                await sub.nak(m, 0.3)
            again = []
            for _ in range(30):
                again += await sub.fetch(10, 0.5)
                if {"m2", "m3"} <= ids(again):
                    break
            assert "m0" not in ids(again) and "m1" not in ids(again)
            m2 = next(m for m in again if m.msg_id.endswith("-m2"))
            assert m2.deliveries >= 2
            for m in again:
                await sub.ack(m)
            assert await sub.fetch(10, 0.5) == []
        finally:
            await bus.close()
        # A new connection (a restarted consumer) finds the durable where it was left.
        bus = await connect(bus_url)
        try:
            await bus.publish(f"{unique}.x", f"{unique}-m4", b"4")
            sub = await bus.subscribe(unique, f"{unique}.x")
            assert ids(await sub.fetch(10, 2.0)) == {"m4"}
        finally:
            await bus.close()

    run(loop, scenario())


def test_nats_wildcards() -> None:
    assert matches("a.*", "a.b") and not matches("a.*", "a.b.c") and not matches("a.*", "a")
    assert matches("a.>", "a.b.c") and not matches("a.>", "a")
    assert matches("a.b", "a.b") and not matches("a.b", "a.c")
    with pytest.raises(ValueError, match="word 2"):
        check_subject("a..b")
    with pytest.raises(ValueError, match="word 1"):
        check_subject("*.b")
    assert check_subject("*.b.>", pattern=True)


@pytest.mark.parametrize(("url", "says"), [
    ("redis://127.0.0.1/0", "is not a bus this service knows"),
    ("sqlite:///relative/events.sqlite3", "names no absolute SQLite file"),
    ("sqlite:///:memory:", "names no absolute SQLite file"),
    ("nats://127.0.0.1:4222?ack_wiat=2", "unknown option 'ack_wiat'"),
    ("nats://127.0.0.1:4222?ack_wait=soon", "ack_wait='soon' is not seconds"),
    ("nats://127.0.0.1:4222?ack_wait=0", "ack_wait='0' is not seconds"),
])
def test_a_bus_url_that_cannot_be_used_names_the_variable_and_the_value(loop, url: str, says: str) -> None:
    with pytest.raises(BusConfigError) as refused:
        run(loop, connect(url))
    assert str(refused.value).startswith(f"EVENTS_URL: {url!r}") and says in str(refused.value)


def test_unset_the_embedded_bus_lives_in_the_var_directory(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVENTS_URL", raising=False)
    assert events_url(tmp_path) == f"sqlite:///{tmp_path / 'events.sqlite3'}"
    monkeypatch.setenv("EVENTS_URL", "nats://nats.example:4222")
    assert events_url(tmp_path) == "nats://nats.example:4222"


def test_a_postponed_event_comes_again_and_holds_back_those_after_it(loop, bus_url, unique, tmp_path: Path,
                                                                        monkeypatch) -> None:
    """A handler that cannot apply an event yet (its tables are read-only before a cutover) raises Postpone: the
    event and the ones after it come again, and are applied once the handler can."""
    import json

    from sqlalchemy import MetaData, create_engine, func, select

    from extracted.catalog.events import inbox as inbox_module
    from extracted.catalog.events.exceptions import Postpone
    from extracted.catalog.events.inbox import Consumer
    from extracted.catalog.events.tables import inbox_table

    monkeypatch.setattr(inbox_module, "POSTPONE_SECONDS", 0.05)
    engine = create_engine(f"sqlite:///{tmp_path / 'consumer.sqlite3'}")
    table = inbox_table(MetaData())
    table.metadata.create_all(engine)
    seen: list[str] = []
    ready = {"now": False}

    def handler(conn, event) -> None:  # type: ignore[no-untyped-def]
        if not ready["now"]:
            raise Postpone("the tables are the monolith's until the cutover")
        seen.append(event.id)

    async def scenario() -> None:
        bus = await connect(bus_url)
        try:
            for n in range(3):
                body = {"id": f"{unique}-{n}", "subject": f"{unique}.x", "source": "t", "at": "now", "data": {}}
                await bus.publish(f"{unique}.x", f"{unique}-{n}", json.dumps(body).encode())
            consumer = Consumer(engine, table, bus, name=unique, subject_filter=f"{unique}.>", handler=handler)
            assert await consumer.run_once(timeout=2) == 0 and seen == []
            await asyncio.sleep(0.1)
            assert await consumer.run_once(timeout=2) == 0
            ready["now"] = True
            await asyncio.sleep(0.1)
            deadline = asyncio.get_running_loop().time() + 20
            while len(seen) < 3 and asyncio.get_running_loop().time() < deadline:
                await consumer.run_once(timeout=1)
            assert seen == [f"{unique}-{n}" for n in range(3)]
            assert consumer.applied == 3
        finally:
            await bus.close()

    run(loop, scenario())
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 3
    engine.dispose()
