"""``multipart/form-data`` bodies, read as the monolith reads them (DRF's MultiPartParser over Django's).

A port of the algorithm of ``django.http.multipartparser`` (BSD licence, Django Software Foundation), kept
in the same shape so that odd bodies get the same answer: the same boundary rules, the same 64 KiB chunks,
the same handling of parts without headers, of ``Content-Transfer-Encoding: base64``, of file parts with
and without a usable file name, and the same limits (1000 fields, 100 files, 1 MiB of field data). The
service does not depend on Django (services share no code with the monolith), hence the copy. Cutting the
body into parts is :mod:`.multipart_stream`; making fields and files of them is here.

:func:`parse_multipart` returns what DRF's ``request.data`` holds for such a body: the fields, then the
files (a file part wins over a field part of the same name, as ``QueryDict.update`` makes it), each name
mapped to its last value. A file is an :class:`UploadedFile`, which validation sees as DRF sees Django's:
``str()`` is its file name, and it is neither a string nor a number.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from typing import Final

from .exceptions import BadRequest, MultipartError, ParseError, SuspiciousMultipart
from .multipart_stream import FIELD, FILE, RAW, ChunkIter, LazyStream, parts
from .negotiation import parse_header_parameters
from .settings import (
    DATA_UPLOAD_MAX_MEMORY_SIZE,
    DATA_UPLOAD_MAX_NUMBER_FIELDS,
    DATA_UPLOAD_MAX_NUMBER_FILES,
)

CHUNK_SIZE: Final = 64 * 2**10  # Django's upload handlers' chunk size
_BOUNDARY: Final = re.compile(r"[ -~]{0,200}[!-~]")


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


def _decode_base64_file(field_stream: LazyStream) -> bytes:
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
            raise MultipartError("Could not decode base64 data.") from exc
    if remainder:
        raise MultipartError("Could not decode base64 data.")
    return b"".join(out)


def _check_content_type(content_type: str) -> bytes:
    if not content_type.startswith("multipart/"):
        raise MultipartError(f"Invalid Content-Type: {content_type}")
    try:
        content_type.encode("ascii")
    except UnicodeEncodeError:
        raise MultipartError(f"Invalid non-ASCII Content-Type in multipart: {content_type}") from None
    _, opts = parse_header_parameters(content_type)
    boundary = opts.get("boundary")
    if not boundary or not _BOUNDARY.fullmatch(boundary):
        raise MultipartError(f"Invalid boundary in multipart: {boundary}")
    return boundary.encode("ascii")


def parse_multipart(body: bytes, content_type: str, encoding: str) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """``(fields, files)`` of a multipart body (each name's last value); ``content_type`` is the request's
    media type with its parameters. Raises ParseError (400 ``Multipart form parse error - ...``) or
    BadRequest (400, what Django refuses as suspicious: too many fields or files, too much field data)."""
    try:
        return _parse(body, content_type, encoding)
    except MultipartError as exc:
        raise ParseError(f"Multipart form parse error - {exc}") from None
    except SuspiciousMultipart:
        raise BadRequest() from None


def _parse(body: bytes, content_type: str, encoding: str) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    boundary = _check_content_type(content_type)
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    if not body:
        return fields, files
    stream = LazyStream(ChunkIter(body, CHUNK_SIZE))
    num_bytes_read = 0
    num_post_keys = 0
    num_files = 0
    # Like Django, a file is complete (and kept) only once the next part starts: a body that ends inside a
    # file part loses that file.
    pending: tuple[str, UploadedFile] | None = None
    for item_type, meta_data, field_stream in parts(stream, boundary):
        if pending is not None:
            files[pending[0]] = pending[1]
            pending = None
        if item_type in (FIELD, RAW):
            num_post_keys += 1
            # Django's bound as Django writes it, "+ 2" included.
            if DATA_UPLOAD_MAX_NUMBER_FIELDS + 2 < num_post_keys:
                raise SuspiciousMultipart("too many fields")
        try:
            disposition = meta_data["content-disposition"][1]
            field_name = disposition["name"].strip()
        except (KeyError, IndexError, AttributeError):
            continue
        transfer = meta_data.get("content-transfer-encoding")
        transfer_encoding = transfer[0].strip() if transfer is not None else None
        name = _force_str(field_name, encoding)
        if item_type == FIELD:
            read_size = DATA_UPLOAD_MAX_MEMORY_SIZE - num_bytes_read
            data = field_stream.read(size=read_size)
            num_bytes_read += len(data)
            if transfer_encoding == "base64":
                try:
                    data = base64.b64decode(data)
                except binascii.Error:
                    pass
            num_bytes_read += len(name) + 2
            if num_bytes_read > DATA_UPLOAD_MAX_MEMORY_SIZE:
                raise SuspiciousMultipart("field data too big")
            fields[name] = _force_str(data, encoding)
        elif item_type == FILE:
            num_files += 1
            if num_files > DATA_UPLOAD_MAX_NUMBER_FILES:
                raise SuspiciousMultipart("too many files")
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
            field_stream.exhaust()
    stream.exhaust()
    return fields, files
