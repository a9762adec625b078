"""Many HTTP clients at once, as a cluster pulling one image: each opens its own connection
(plain or TLS), sends one request with ``Connection: close`` and reads the whole answer.

Every client starts when all have connected (a barrier), so the requests arrive together;
each answer's status, body and time (from sending to the last byte) are kept. Everything
is bounded by ``timeout``; a client that fails records the exception's name as its status
line instead of raising, so a caller can count what went wrong.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    status: int  # 0 when the client failed (see error)
    body: bytes
    seconds: float
    error: str = ""


def request_bytes(
    path: str, host: str, headers: tuple[tuple[str, str], ...] = (), body: bytes = b""
) -> bytes:
    method = "POST" if body else "GET"
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _parse(raw: bytes) -> tuple[int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    return int(status_line[1]), body


async def _client(
    host: str,
    port: int,
    payload: bytes,
    context: ssl.SSLContext | None,
    everyone_connected: asyncio.Event,
    connected: list[int],
    clients: int,
) -> Answer:
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
    except OSError as exc:
        connected.append(1)
        if len(connected) == clients:
            everyone_connected.set()
        return Answer(0, b"", 0.0, f"connect: {type(exc).__name__}: {exc}")
    try:
        connected.append(1)
        if len(connected) == clients:
            everyone_connected.set()
        await everyone_connected.wait()
        started = time.monotonic()
        writer.write(payload)
        await writer.drain()
        raw = await reader.read()
        seconds = time.monotonic() - started
        status, body = _parse(raw)
        return Answer(status, body, seconds)
    except (OSError, ValueError, IndexError) as exc:
        return Answer(0, b"", 0.0, f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def _storm(
    host: str, port: int, payload: bytes, clients: int, context: ssl.SSLContext | None
) -> list[Answer]:
    everyone_connected = asyncio.Event()
    connected: list[int] = []
    tasks = [
        _client(host, port, payload, context, everyone_connected, connected, clients)
        for _ in range(clients)
    ]
    return list(await asyncio.gather(*tasks))


def storm(
    host: str,
    port: int,
    payload: bytes,
    *,
    clients: int,
    timeout: float = 120.0,
    context: ssl.SSLContext | None = None,
) -> list[Answer]:
    """``clients`` connections at once, each sending ``payload`` (see :func:`request_bytes`)."""
    return asyncio.run(
        asyncio.wait_for(_storm(host, port, payload, clients, context), timeout=timeout)
    )
