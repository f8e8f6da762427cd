"""The router's response cycle (router/http/cycle.py): a head held for its body goes out with it in one write,
and nothing else about what the client receives changes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from router.http.cycle import HOLD_HEAD, RouterCycle

HEAD = {"type": "http.response.start", "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]}
BODY = {"type": "http.response.body", "body": b"{}", "more_body": False}
WIRE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"


class Transport:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def write(self, data: bytes) -> None:
        self.events.append(bytes(data))

    def close(self) -> None:
        self.events.append("close")

    def is_closing(self) -> bool:
        return "close" in self.events


class Flow:
    write_paused = False


def cycle(*, method: str = "GET", keep_alive: bool = True) -> tuple[RouterCycle, Transport, list[str]]:
    transport = Transport()
    done: list[str] = []
    log = logging.getLogger("test")
    built = RouterCycle(scope={"method": method, "type": "http"}, transport=transport,  # type: ignore[arg-type,typeddict-item]
                        flow=Flow(), logger=log, access_logger=log, access_log=False,  # type: ignore[arg-type]
                        default_headers=[], message_event=asyncio.Event(), expect_100_continue=False,
                        keep_alive=keep_alive, on_response=lambda: done.append("complete"))
    return built, transport, done


def run(*messages: dict[str, Any], **kwargs: Any) -> tuple[list[Any], list[str]]:
    async def main() -> tuple[list[Any], list[str]]:
        built, transport, done = cycle(**kwargs)
        for message in messages:
            await built.send(message)
        return transport.events, done
    return asyncio.run(main())


def test_a_held_head_goes_out_with_its_body_in_one_write() -> None:
    events, done = run({**HEAD, HOLD_HEAD: True}, BODY)
    assert events == [WIRE_HEAD + b"{}"]
    assert done == ["complete"]


def test_without_the_key_head_and_body_are_two_writes_as_uvicorn_does() -> None:
    events, _ = run(HEAD, BODY)
    assert events == [WIRE_HEAD, b"{}"]


def test_a_connection_that_closes_gets_the_whole_answer_before_the_close() -> None:
    events, _ = run({**HEAD, HOLD_HEAD: True}, BODY, keep_alive=False)
    assert events == [WIRE_HEAD.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n") + b"{}", "close"]


def test_a_head_request_has_no_body_to_wait_for_its_head_is_written_at_once() -> None:
    events, done = run({**HEAD, HOLD_HEAD: True}, {**BODY, "body": b""}, method="HEAD")
    assert events == [WIRE_HEAD]  # uvicorn writes no body for a HEAD
    assert done == ["complete"]


def test_a_streamed_body_after_a_held_head_goes_on_as_it_comes() -> None:
    events, _ = run({**HEAD, HOLD_HEAD: True}, {**BODY, "body": b"{", "more_body": True}, {**BODY, "body": b"}"})
    assert events == [WIRE_HEAD + b"{", b"}"]
