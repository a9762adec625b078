"""A client-side deadline on PostgreSQL round trips (psycopg2's wait callback).

A server that stops answering (paused, or behind a network that drops packets) would leave
psycopg2 waiting in C for as long as TCP lets it: the server-side ``statement_timeout``
cannot help when the server is the one not answering, and under gevent the wait would
stall every request of the worker process, since the C call never yields. psycopg2 lets
one Python function do all its waiting (:func:`psycopg2.extensions.set_wait_callback`):
:func:`wait` waits with ``select.poll`` (which gevent makes cooperative once it has
patched the process) and gives up at the deadline. psycopg2 then marks the connection
broken, the pool discards it, and the call raises ``OperationalError`` (so
BackendUnavailable, HTTP 503). Nothing is kept of the outage: the next call connects
afresh, so the first request after the server is back succeeds.

The deadline is per call of the SQL backend (:func:`deadline`, entered by
:class:`~.sql_session.SqlSession` for each call): a hang costs a call ``database.timeout``
in all, whatever number of statements, pool checks and reconnects it would have made.
Waits outside a call (the pool rolling back a connection as it takes it back) get the
connection's own ``wait_seconds``.

The callback is process-wide (psycopg2 has one): :func:`connection_class` installs it
when the first PostgreSQL database is opened.
"""

from __future__ import annotations

import contextvars
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions

__all__ = ["connection_class", "deadline", "wait"]

_deadline: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "dockit_sql_deadline", default=None
)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every wait for the server in this block ends ``seconds`` from now at the latest
    (nested blocks keep the outer deadline)."""
    if _deadline.get() is not None:
        yield
        return
    token = _deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def wait(conn: Any) -> None:
    """psycopg2's wait callback: poll the connection until it is done or the deadline."""
    seconds = float(getattr(conn, "wait_seconds", 30.0))
    until = time.monotonic() + seconds
    call = _deadline.get()
    if call is not None and call[0] < until:
        until, seconds = call
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        if state == psycopg2.extensions.POLL_READ:
            events = select.POLLIN
        elif state == psycopg2.extensions.POLL_WRITE:
            events = select.POLLOUT
        else:
            raise psycopg2.OperationalError(f"unexpected poll state {state}")
        left = until - time.monotonic()
        if left <= 0:
            raise psycopg2.OperationalError(
                f"no answer within {seconds:g} s (database.timeout); the connection is dropped"
            )
        poller = select.poll()
        poller.register(conn.fileno(), events)
        poller.poll(left * 1000.0)


def connection_class(wait_seconds: float) -> type[Any]:
    """A psycopg2 connection class whose waits outside a call end after ``wait_seconds``;
    installs :func:`wait` for the whole process."""
    if psycopg2.extensions.get_wait_callback() is not wait:
        psycopg2.extensions.set_wait_callback(wait)
    return type(
        "DeadlineConnection", (psycopg2.extensions.connection,), {"wait_seconds": wait_seconds}
    )
