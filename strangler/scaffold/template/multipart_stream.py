"""A multipart body cut into its parts: Django's ``LazyStream``, ``BoundaryIter`` and part-header reading.

Ported from ``django.http.multipartparser`` (BSD licence, Django Software Foundation) in the same shape, so
that odd bodies are cut where Django cuts them: the same boundary search (a CRLF or LF before the boundary
belongs to it), the same "unget" of what was read too far, the same give-up when a stream gets stuck, and
parts without headers kept as raw parts. :mod:`.multipart` makes fields and files of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from .exceptions import MultipartError, SuspiciousMultipart
from .negotiation import parse_header_parameters

RAW: Final = "raw"
FILE: Final = "file"
FIELD: Final = "field"
MAX_TOTAL_HEADER_SIZE: Final = 1024


class _Exhausted(Exception):
    """The body has no part left."""


class LazyStream:
    """Django's LazyStream: read, iterate and "unget" bytes from a producer of chunks."""

    def __init__(self, producer: Iterator[bytes]) -> None:
        self._producer: Iterator[bytes] = producer
        self._leftover = b""
        self._unget_history: list[int] = []

    def read(self, size: int) -> bytes:
        parts: list[bytes] = []
        remaining = size
        while remaining != 0:
            try:
                chunk = next(self)
            except StopIteration:
                break
            emitting = chunk[:remaining]
            self.unget(chunk[remaining:])
            remaining -= len(emitting)
            parts.append(emitting)
        return b"".join(parts)

    def __next__(self) -> bytes:
        if self._leftover:
            output = self._leftover
            self._leftover = b""
        else:
            output = next(self._producer)
            self._unget_history = []
        return output

    def __iter__(self) -> LazyStream:
        return self

    def unget(self, data: bytes) -> None:
        if not data:
            return
        self._unget_history = [len(data), *self._unget_history[:49]]
        # The same length put back again and again: a body crafted to make the parser loop (Django's guard).
        if len([n for n in self._unget_history if n == len(data)]) > 40:
            raise SuspiciousMultipart("The multipart parser got stuck.")
        self._leftover = data + self._leftover

    def exhaust(self) -> None:
        for _ in self:
            pass


class ChunkIter:
    """The body in chunks of ``chunk_size`` (Django reads uploads 64 KiB at a time)."""

    def __init__(self, body: bytes, chunk_size: int) -> None:
        self.body = body
        self.chunk_size = chunk_size
        self.position = 0

    def __next__(self) -> bytes:
        data = self.body[self.position:self.position + self.chunk_size]
        if not data:
            raise StopIteration
        self.position += len(data)
        return data

    def __iter__(self) -> ChunkIter:
        return self


class _BoundaryIter:
    """Yields the bytes of one part, up to (not including) the next boundary."""

    def __init__(self, stream: LazyStream, boundary: bytes) -> None:
        self._stream = stream
        self._boundary = boundary
        self._done = False
        # Enough bytes held back between reads that a boundary split across two chunks is still found.
        self._rollback = len(boundary) + 6
        unused = self._stream.read(1)
        if not unused:
            raise _Exhausted
        self._stream.unget(unused)

    def __iter__(self) -> _BoundaryIter:
        return self

    def __next__(self) -> bytes:
        if self._done:
            raise StopIteration
        stream, rollback = self._stream, self._rollback
        bytes_read = 0
        chunks: list[bytes] = []
        exhausted = True
        for data in stream:
            bytes_read += len(data)
            chunks.append(data)
            if bytes_read > rollback or not data:
                exhausted = False
                break
        if exhausted:
            self._done = True
        if not chunks:
            raise StopIteration
        chunk = b"".join(chunks)
        found = self._find_boundary(chunk)
        if found:
            end, after = found
            stream.unget(chunk[after:])
            self._done = True
            return chunk[:end]
        if not chunk[:-rollback]:
            self._done = True
            return chunk
        stream.unget(chunk[-rollback:])
        return chunk[:-rollback]

    def _find_boundary(self, data: bytes) -> tuple[int, int] | None:
        index = data.find(self._boundary)
        if index < 0:
            return None
        end = index
        after = index + len(self._boundary)
        last = max(0, end - 1)
        if data[last:last + 1] == b"\n":
            end -= 1
        last = max(0, end - 1)
        if data[last:last + 1] == b"\r":
            end -= 1
        return end, after


# (kind: RAW, FIELD or FILE; {header name: (main value, {parameter: bytes})}; the part's body)
Part = tuple[str, dict[str, tuple[str, dict[str, bytes]]], LazyStream]


def _parse_boundary_stream(stream: LazyStream, max_header_size: int) -> Part:
    headers_chunk_size = 1024
    while True:
        if headers_chunk_size > max_header_size:
            raise MultipartError("Request max total header size exceeded.")
        chunk = stream.read(headers_chunk_size)
        header_end = chunk.find(b"\r\n\r\n")
        if header_end != -1:
            break
        stream.unget(chunk)
        if len(chunk) < headers_chunk_size:
            return RAW, {}, stream
        headers_chunk_size *= 2
    header = chunk[:header_end]
    stream.unget(chunk[header_end + 4:])
    kind = RAW
    found: dict[str, tuple[str, dict[str, bytes]]] = {}
    for line in header.split(b"\r\n"):
        try:
            main_value, params = parse_header_parameters(line.decode())
            name, value = main_value.split(":", 1)
            encoded = {k: v.encode() for k, v in params.items()}
        except ValueError:  # invalid header (UnicodeDecodeError included), skipped
            continue
        if name == "content-disposition":
            kind = FIELD
            if encoded.get("filename"):
                kind = FILE
        found[name] = value, encoded
    if kind == RAW:
        stream.unget(chunk)
    return kind, found, stream


def parts(stream: LazyStream, boundary: bytes) -> Iterator[Part]:
    """The parts of the body in ``stream``, each with its headers read (``boundary`` without its ``--``)."""
    separator = b"--" + boundary
    while True:
        try:
            sub_stream = LazyStream(_BoundaryIter(stream, separator))
        except _Exhausted:
            return
        yield _parse_boundary_stream(sub_stream, MAX_TOTAL_HEADER_SIZE)
