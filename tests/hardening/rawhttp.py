"""HTTP/1.1 over a raw socket, so malformed bytes reach the server exactly as written.

``urllib`` and ``http.client`` refuse CR, LF and NUL in header values and re-encode the
request target; the corpus needs to send those bytes, so it builds the request itself.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


def chunked(body: bytes, *, chunk_size: int = 4096, terminate: bool = True) -> bytes:
    """``body`` in HTTP/1.1 chunked framing (with the last, empty chunk unless told not to)."""
    framed = bytearray()
    for start in range(0, len(body), chunk_size):
        piece = body[start : start + chunk_size]
        framed += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    if terminate:
        framed += b"0\r\n\r\n"
    return bytes(framed)


def send_raw(
    host: str,
    port: int,
    method: bytes,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes | None = None,
    *,
    timeout: float = TIMEOUT,
    end_input: bool = False,
) -> RawResponse:
    """Send one request with ``Connection: close`` and read the whole answer.

    ``body`` goes as written; a ``Content-Length`` is added unless the headers carry one
    or a ``Transfer-Encoding`` (then ``body`` is expected in that framing, see :func:`chunked`).
    ``end_input`` shuts the sending side once the request is written, as a client that
    stops half-way through a body does.
    """
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + f"{host}:{port}".encode()]
    names = {name.lower() for name, _ in headers}
    lines.extend(name + b": " + value for name, value in headers)
    if body is not None and not names & {b"content-length", b"transfer-encoding"}:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    request = b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        if end_input:
            sock.shutdown(socket.SHUT_WR)
        chunks: list[bytes] = []
        received = 0
        while received <= MAX_RESPONSE_BYTES:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    raw = b"".join(chunks)
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise AssertionError(f"not an HTTP answer: {raw[:300]!r}")
    parsed = [
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in header_lines)
    ]
    response = RawResponse(int(parts[1]), parsed, payload)
    if (response.header("Transfer-Encoding") or "").lower() == "chunked":
        response = RawResponse(response.status, parsed, _dechunk(payload))
    return response
