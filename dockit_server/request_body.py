"""Read a request body of bounded size, sent with a ``Content-Length`` or chunked.

Falcon's ``bounded_stream`` reads ``Content-Length`` bytes, so a body sent with
``Transfer-Encoding: chunked`` (which has no length) reads as empty. containers/image
(skopeo, podman, buildah, CRI-O) sends its refresh-token form that way. gunicorn takes the
chunks apart and says so with ``wsgi.input_terminated``: its input then ends where the body
ends, so it may be read up to a limit. Either way at most ``limit + 1`` bytes are read, so
an endless body costs no more than a large one. A server that does not mark its input
that way gets a length-less body read as empty, as before (reading on could block).
"""

from __future__ import annotations

from typing import Protocol

import falcon
from gunicorn.http.errors import ParseException


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class BodyTooLarge(Exception):
    """The body is longer than the limit (by its ``Content-Length`` or as read)."""


class BodyUnreadable(Exception):
    """The body could not be read: broken chunked framing, or the client went away."""


def read_body(req: falcon.Request, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes; raises BodyTooLarge or BodyUnreadable."""
    length = req.content_length
    if length is not None:
        if length > limit:
            raise BodyTooLarge
        return _read(req.bounded_stream, limit)
    if req.env.get("wsgi.input_terminated"):
        return _read(req.stream, limit)
    return b""


def _read(stream: _Readable, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes (to tell "exactly limit" from "more"), asking again after
    a short read until the stream ends."""
    chunks: list[bytes] = []
    received = 0
    try:
        while received <= limit:
            chunk = stream.read(limit + 1 - received)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    except (OSError, ValueError, ParseException):
        raise BodyUnreadable from None
    if received > limit:
        raise BodyTooLarge
    return b"".join(chunks)
