"""``multipart/form-data`` bodies, read as the monolith reads them (DRF's MultiPartParser over Django's).

A port of the algorithm of ``django.http.multipartparser`` (BSD licence, Django Software Foundation), kept
in the same shape so that odd bodies get the same answer: the same boundary rules, the same 64 KiB chunks,
the same handling of parts without headers, of ``Content-Transfer-Encoding: base64``, of file parts with
and without a usable file name, and the same limits (1000 fields, 100 files, 1 MiB of field data). The
service does not depend on Django (services share no code with the monolith), hence the copy.

:func:`parse_multipart` returns what DRF's ``request.data`` holds for such a body: the fields, then the
files (a file part wins over a field part of the same name, as ``QueryDict.update`` makes it), each name
mapped to its last value. A file is an :class:`UploadedFile`, which validation sees as DRF sees Django's:
``str()`` is its file name, and it is neither a string nor a number.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
from collections.abc import Iterator
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Final

from extracted.catalog.exceptions import BadRequest, ParseError

RAW: Final = "raw"
FILE: Final = "file"
FIELD: Final = "field"
MAX_TOTAL_HEADER_SIZE: Final = 1024
CHUNK_SIZE: Final = 64 * 2**10  # Django's upload handlers' chunk size
MAX_NUMBER_FIELDS: Final = 1000  # DATA_UPLOAD_MAX_NUMBER_FIELDS
MAX_NUMBER_FILES: Final = 100  # DATA_UPLOAD_MAX_NUMBER_FILES
MAX_MEMORY_SIZE: Final = 1024 * 1024  # DATA_UPLOAD_MAX_MEMORY_SIZE
_BOUNDARY: Final = re.compile(r"[ -~]{0,200}[!-~]")


class MultiPartParserError(Exception):
    pass


class _Suspicious(Exception):
    """Django's SuspiciousOperation family here: the monolith answers them 400 ``Bad request.``."""


class _Exhausted(Exception):
    pass


class UploadedFile:
    """A file part: its sanitised name and content. DRF's fields see ``str(file)``, the name."""

    def __init__(self, name: str, content: bytes, content_type: str) -> None:
        self.name = name
        self.content = content
        self.content_type = content_type

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<UploadedFile: {self.name} ({self.content_type})>"


def parse_header_parameters(line: str) -> tuple[str, dict[str, str]]:
    """Django's ``parse_header_parameters``: the lower-cased main value and the parameters (raises
    ValueError for an RFC 2231 value in an unknown charset)."""
    if not line:
        return "", {}
    if ";" not in line:
        return line.strip().lower(), {}
    message = Message()
    message["content-type"] = line
    params = message.get_params()
    assert params is not None  # noqa: S101 - a header that is set always has its main value
    key = params.pop(0)[0].lower()
    result: dict[str, str] = {}
    for name, value in params:
        if not name:
            continue
        if isinstance(value, tuple):
            charset = value[0]
            if charset:
                try:
                    codecs.lookup(charset)
                except LookupError:
                    raise ValueError(f"Invalid encoding {charset!r} for RFC 2231 param.") from None
            value = collapse_rfc2231_value(value)
        result[name] = value
    return key, result


class _LazyStream:
    """Django's LazyStream: read, iterate and "unget" bytes from a producer of chunks."""

    def __init__(self, producer: Iterator[bytes]) -> None:
        self._producer: Iterator[bytes] = producer
        self._leftover = b""
        self._unget_history: list[int] = []

    def read(self, size: int | None = None) -> bytes:
        if size is None:
            return b"".join(self)
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

    def __iter__(self) -> _LazyStream:
        return self

    def unget(self, data: bytes) -> None:
        if not data:
            return
        self._unget_history = [len(data), *self._unget_history[:49]]
        if len([n for n in self._unget_history if n == len(data)]) > 40:
            raise _Suspicious("The multipart parser got stuck.")
        self._leftover = data + self._leftover


class _ChunkIter:
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

    def __iter__(self) -> _ChunkIter:
        return self


class _BoundaryIter:
    """Yields the bytes of one part, up to (not including) the next boundary."""

    def __init__(self, stream: _LazyStream, boundary: bytes) -> None:
        self._stream = stream
        self._boundary = boundary
        self._done = False
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


def _exhaust(stream: _LazyStream) -> None:
    for _ in stream:
        pass


Part = tuple[str, dict[str, tuple[str, dict[str, bytes]]], _LazyStream]


def _parse_boundary_stream(stream: _LazyStream, max_header_size: int) -> Part:
    headers_chunk_size = 1024
    while True:
        if headers_chunk_size > max_header_size:
            raise MultiPartParserError("Request max total header size exceeded.")
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


def _parts(stream: _LazyStream, boundary: bytes) -> Iterator[Part]:
    separator = b"--" + boundary
    while True:
        try:
            sub_stream = _LazyStream(_BoundaryIter(stream, separator))
        except _Exhausted:
            return
        yield _parse_boundary_stream(sub_stream, MAX_TOTAL_HEADER_SIZE)


def _sanitize_file_name(file_name: str) -> str | None:
    file_name = html.unescape(file_name)
    file_name = file_name.rsplit("/")[-1]
    file_name = file_name.rsplit("\\")[-1]
    file_name = "".join(ch for ch in file_name if ch.isprintable())
    if file_name in {"", ".", ".."}:
        return None
    return file_name


def _force_str(value: str | bytes, encoding: str) -> str:
    return value.decode(encoding, errors="replace") if isinstance(value, bytes) else value


def _decode_base64_file(field_stream: _LazyStream) -> bytes:
    out: list[bytes] = []
    remainder = b""
    for chunk in field_stream:
        stripped = remainder + b"".join(chunk.split())
        aligned = len(stripped) // 4 * 4
        remainder = stripped[aligned:]
        if not aligned:
            continue
        try:
            out.append(base64.b64decode(stripped[:aligned]))
        except Exception as exc:  # noqa: BLE001 - like Django: any decoding error is one parse error
            raise MultiPartParserError("Could not decode base64 data.") from exc
    if remainder:
        raise MultiPartParserError("Could not decode base64 data.")
    return b"".join(out)


def _check_content_type(content_type: str) -> bytes:
    if not content_type.startswith("multipart/"):
        raise MultiPartParserError(f"Invalid Content-Type: {content_type}")
    try:
        content_type.encode("ascii")
    except UnicodeEncodeError:
        raise MultiPartParserError(f"Invalid non-ASCII Content-Type in multipart: {content_type}") from None
    _, opts = parse_header_parameters(content_type)
    boundary = opts.get("boundary")
    if not boundary or not _BOUNDARY.fullmatch(boundary):
        raise MultiPartParserError(f"Invalid boundary in multipart: {boundary}")
    return boundary.encode("ascii")


def parse_multipart(body: bytes, content_type: str, encoding: str) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """``(fields, files)`` of a multipart body (each name's last value); ``content_type`` is the request's
    media type with its parameters. Raises ParseError (400 ``Multipart form parse error - ...``) or
    BadRequest (400, what Django refuses as suspicious: too many fields or files, too much field data)."""
    try:
        return _parse(body, content_type, encoding)
    except MultiPartParserError as exc:
        raise ParseError(f"Multipart form parse error - {exc}") from None
    except _Suspicious:
        raise BadRequest() from None


def _parse(body: bytes, content_type: str, encoding: str) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    boundary = _check_content_type(content_type)
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    if not body:
        return fields, files
    stream = _LazyStream(_ChunkIter(body, CHUNK_SIZE))
    num_bytes_read = 0
    num_post_keys = 0
    num_files = 0
    # Like Django, a file is complete (and kept) only once the next part starts: a body that ends inside a
    # file part loses that file.
    pending: tuple[str, UploadedFile] | None = None
    for item_type, meta_data, field_stream in _parts(stream, boundary):
        if pending is not None:
            files[pending[0]] = pending[1]
            pending = None
        if item_type in (FIELD, RAW):
            num_post_keys += 1
            if MAX_NUMBER_FIELDS + 2 < num_post_keys:
                raise _Suspicious("too many fields")
        try:
            disposition = meta_data["content-disposition"][1]
            field_name = disposition["name"].strip()
        except (KeyError, IndexError, AttributeError):
            continue
        transfer = meta_data.get("content-transfer-encoding")
        transfer_encoding = transfer[0].strip() if transfer is not None else None
        name = _force_str(field_name, encoding)
        if item_type == FIELD:
            read_size = MAX_MEMORY_SIZE - num_bytes_read
            data = field_stream.read(size=read_size)
            num_bytes_read += len(data)
            if transfer_encoding == "base64":
                try:
                    data = base64.b64decode(data)
                except binascii.Error:
                    pass
            num_bytes_read += len(name) + 2
            if num_bytes_read > MAX_MEMORY_SIZE:
                raise _Suspicious("field data too big")
            fields[name] = _force_str(data, encoding)
        elif item_type == FILE:
            num_files += 1
            if num_files > MAX_NUMBER_FILES:
                raise _Suspicious("too many files")
            raw_name = disposition.get("filename")
            file_name = _sanitize_file_name(_force_str(raw_name, encoding)) if raw_name else None
            if not file_name:
                continue
            part_type = meta_data.get("content-type", ("", {}))[0].strip()
            if transfer_encoding == "base64":
                content = _decode_base64_file(field_stream)
            else:
                content = b"".join(field_stream)
            pending = name, UploadedFile(file_name, content, part_type)
        else:
            _exhaust(field_stream)
    _exhaust(stream)
    return fields, files

