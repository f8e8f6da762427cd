"""Small tools for driving a real router process: raw HTTP over sockets, the fake upstream's journal,
routes files, and a process's memory as the kernel reports it."""

from __future__ import annotations

import json
import socket
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from strangler.processes import ManagedProcess, free_port


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RawExchange:
    responses: list[RawResponse] = field(default_factory=list)
    closed: bool = False  # the server closed the connection (rather than our read timing out)
    rest: bytes = b""  # bytes that did not parse as a response


def _hostport(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def raw_http(base_url: str, data: bytes, *, timeout: float = 5.0) -> RawExchange:
    """Sends ``data`` as it is and parses every response that comes back until the server closes the
    connection or nothing arrives for ``timeout`` seconds."""
    received = bytearray()
    closed = False
    with socket.create_connection(_hostport(base_url), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    closed = True
                    break
                received.extend(chunk)
        except TimeoutError:
            pass
        except ConnectionResetError:
            closed = True
    exchange = RawExchange(closed=closed)
    rest = bytes(received)
    while rest:
        parsed = parse_response(rest)
        if parsed is None:
            break
        response, rest = parsed
        exchange.responses.append(response)
    exchange.rest = rest
    return exchange


def parse_response(data: bytes) -> tuple[RawResponse, bytes] | None:
    """The first complete response in ``data`` and what follows it; None while it is incomplete."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    _version, status, *reason = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    response = RawResponse(int(status), reason[0] if reason else "", headers, b"")
    length = response.header("content-length")
    if (response.header("transfer-encoding") or "").lower() == "chunked":
        body = bytearray()
        while True:
            size_line, sep, rest = rest.partition(b"\r\n")
            if not sep:
                return None
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                _trailers, sep, rest = rest.partition(b"\r\n")
                break
            if len(rest) < size + 2:
                return None
            body.extend(rest[:size])
            rest = rest[size + 2:]
        response.body = bytes(body)
    elif length is not None:
        if len(rest) < int(length):
            return None
        response.body, rest = rest[: int(length)], rest[int(length):]
    else:
        response.body, rest = rest, b""
    return response, rest


def request_bytes(method: str, target: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"",
                  *, host: str = "shop.example") -> bytes:
    """One HTTP/1.1 request, written out by hand (``Connection: close`` unless the caller says otherwise)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    names = {name.lower() for name, _ in headers or []}
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
    if "connection" not in names:
        lines.append("Connection: close")
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def journal(upstream_url: str, *, clear: bool = False) -> list[dict[str, Any]]:
    """What the fake upstream has seen (asked directly, not through the router)."""
    response = httpx.get(f"{upstream_url}/__journal", params={"clear": "1"} if clear else None, timeout=5)
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()
    return entries


def seen_paths(upstream_url: str) -> list[str]:
    return [entry["raw_path"] for entry in journal(upstream_url)]


def seen_with_id(upstream_url: str, request_id: str) -> list[dict[str, Any]]:
    return [entry for entry in journal(upstream_url) if entry["request_id"] == request_id]


def header_values(echo: dict[str, Any], name: str) -> list[str]:
    """Every value the backend received for header ``name`` (from an /echo answer or a journal entry)."""
    return [value for key, value in echo["headers"] if key.lower() == name.lower()]


def routes_file(body: str, *, max_body: str = "1MiB") -> str:
    """A complete routes file for ``running_router``: free ports for the router and its admin API."""
    return textwrap.dedent("""\
        version: 1
        listen: "{listen}"
        max_body: %s
        admin: {listen: "{admin_listen}"}
        """) % max_body + textwrap.dedent(body)


def dead_url() -> str:
    """A URL where nothing listens (a port that was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}"


def memory_kib(process: ManagedProcess) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB, from /proc (psutil is not installed)."""
    assert process.proc is not None
    out = {}
    for line in Path(f"/proc/{process.proc.pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def wait_for(condition: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> float:
    """Polls until ``condition()`` holds; returns the seconds it took, or fails the test."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
