"""Reading a recorded flow file (mitmproxy's format) into requests to replay and the answers they got."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mitmproxy import exceptions, http
from mitmproxy.io import FlowReader

from router.compare import Response
from strangler.parity.exceptions import FlowFileError
from strangler.parity.redaction import carries_credentials

# Framing headers say how the bytes travelled, not what the answer is; bodies here are always decoded.
FRAMING = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass(frozen=True)
class RecordedRequest:
    index: int  # position in the file, from 0
    method: str
    path: str  # path and query, as sent
    host: str | None  # the Host header the client sent (recorded with keep_host_header)
    headers: tuple[tuple[str, str], ...]
    body: bytes
    response: Response | None  # the recorded (redacted) answer; None when the backend never answered
    credentials: bool  # the request authenticated itself (the credentials in the file are redacted)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def answer(response: http.Response) -> Response:
    headers = tuple((k, v) for k, v in response.headers.items(multi=True) if k.lower() not in FRAMING)
    return Response(response.status_code, headers, response.get_content(strict=False) or b"")


def iter_flows(path: Path) -> Iterator[http.HTTPFlow]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise FlowFileError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    with handle:
        try:
            for flow in FlowReader(handle).stream():
                if isinstance(flow, http.HTTPFlow):
                    yield flow
        except exceptions.FlowReadException as exc:
            raise FlowFileError(f"{path}: not a mitmproxy flow file ({exc})") from exc


def read_requests(path: Path | str) -> list[RecordedRequest]:
    out = []
    for index, flow in enumerate(iter_flows(Path(path))):
        request = flow.request
        out.append(RecordedRequest(
            index=index, method=request.method.upper(), path=request.path,
            host=request.headers.get("host") or None,
            headers=tuple((k, v) for k, v in request.headers.items(multi=True)),
            body=request.get_content(strict=False) or b"",
            response=answer(flow.response) if flow.response is not None else None,
            credentials=carries_credentials(request.headers),
        ))
    return out
