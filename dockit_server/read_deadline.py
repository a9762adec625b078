"""A deadline on reading requests from a client connection (see :mod:`.worker`).

gunicorn's gevent worker bounds the wait for a request's head (``keepalive`` seconds) but
not the TLS handshake before it, nor the body the app reads after it: a client that opens
a TLS connection and sends nothing, or sends its body one byte a second, keeps that
connection (a socket and a slot of the worker) for as long as it likes.
:class:`DeadlineSocket` wraps each accepted socket so that every read has a deadline:

* the TLS handshake, and the first byte of each request (on a new or a kept-alive
  connection), must arrive within ``limit`` seconds of when the server is ready for them;
* the rest of the request, its head and its body, within ``limit`` seconds of its first
  byte.

When a deadline passes the connection is cut and counted by reason (:data:`REASONS`):
``idle`` and ``slow_head`` read as the client closing (gunicorn then closes the connection
without an answer), ``slow_body`` raises :class:`RequestTimeout` into the app, which answers
408 before gunicorn closes the connection, and ``tls_handshake`` closes it at once. Writes
are bounded by ``limit`` too, so a client that never reads its answer cannot hold the
connection either.

Nothing here imports gevent: under the gevent worker the wrapped socket is gevent's, and
its ``settimeout`` waits cooperatively.
"""

from __future__ import annotations

import enum
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("dockit.server")

#: Reasons a connection is cut, the label values of ``dockit_connections_cut_total``.
REASONS = ("idle", "slow_head", "slow_body", "tls_handshake")
SETTING = "server.read_timeout"


class RequestTimeout(Exception):
    """The body of a request did not arrive in time (the app answers 408). Not an OSError,
    so that code reading the body, which turns a failed read into a 400, lets it through."""

    def __init__(self, limit: float) -> None:
        super().__init__(
            f"the request did not arrive within {limit:g} s ({SETTING}); send it faster"
        )


class _Phase(enum.Enum):
    IDLE = "idle"  # waiting for the first byte of a request
    HEAD = "slow_head"  # some of the request's head is in
    BODY = "slow_body"  # the head is parsed; the app reads the body


class DeadlineSocket:
    """A client socket whose reads must arrive in time (see the module docs); any other
    attribute is the wrapped socket's."""

    def __init__(
        self,
        sock: Any,
        limit: float,
        on_cut: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sock = sock
        self._limit = limit
        self._on_cut = on_cut
        self._clock = clock
        self._phase = _Phase.IDLE
        self._deadline = clock() + limit
        self._cut = False
        self._request: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    # -- what the worker calls ------------------------------------------------------------
    def handshake(self) -> bool:
        """Finish the TLS handshake in time: False (counted if late) when it did not."""
        try:
            self._sock.settimeout(self._limit)
            self._sock.do_handshake()
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            if self._clock() >= self._deadline:
                self._count("tls_handshake")
            else:
                log.debug("TLS handshake failed: %s", exc)
            return False
        self._deadline = self._clock() + self._limit
        return True

    def request_started(self, request: Any) -> None:
        """``request``'s head is parsed; its body is read within the same deadline."""
        self._phase = _Phase.BODY
        self._request = request

    def request_done(self) -> None:
        """The answer is sent: the next request's first byte is due within the limit."""
        self._phase = _Phase.IDLE
        self._deadline = self._clock() + self._limit
        self._request = None

    # -- socket ---------------------------------------------------------------------------
    def recv(self, size: int) -> bytes:
        if self._cut:
            return self._expired()
        remaining = self._deadline - self._clock()
        if remaining <= 0:
            return self._expired()
        self._sock.settimeout(remaining)
        try:
            data: bytes = self._sock.recv(size)
        except (TimeoutError, ssl.SSLError):
            # gevent's TLS sockets time out with an SSLError, not TimeoutError.
            if self._clock() < self._deadline:
                raise
            return self._expired()
        if data and self._phase is _Phase.IDLE:
            self._phase = _Phase.HEAD
            self._deadline = self._clock() + self._limit
        return data

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._limit)
        self._sock.sendall(data)

    def send(self, data: bytes) -> int:
        self._sock.settimeout(self._limit)
        sent: int = self._sock.send(data)
        return sent

    def _expired(self) -> bytes:
        if not self._cut:
            self._cut = True
            self._count(self._phase.value)
        if self._phase is _Phase.BODY:
            if self._request is not None:
                self._request.must_close = True  # gunicorn answers "Connection: close"
            raise RequestTimeout(self._limit)
        return b""  # as if the client had closed: gunicorn closes without an answer

    def _count(self, reason: str) -> None:
        log.debug("connection cut: %s after %g s", reason, self._limit)
        self._on_cut(reason)
