"""One deadline for all the directory work of a call, and a bound on calls at once.

A login may need the pooled connection, a fresh one to each URL in turn, a search, a bind
and the group searches; each has a per-server timeout (``connect_timeout``,
``receive_timeout``), but a hanging directory would make them add up. :class:`CallLimit`
gives the whole call one deadline (``ldap.timeout``): every connect and every read waits
at most for what is left of it, so a hang costs the call that much in total, whatever
the number of URLs.

It is also the directory's bulkhead: at most ``max_concurrent`` calls of one process talk
to the directory at once; more wait for a turn within their own deadline. While the
directory hangs, those calls wait (each for ``ldap.timeout`` at most) and end in
BackendUnavailable, and nothing else in the process waits with them.

The deadline lives in a context variable, so it follows the call into the group resolver
and the TLS wrapper without being passed along, and each thread (or, under gevent, each
greenlet) has its own.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ...errors import BackendUnavailable

__all__ = ["CallLimit", "DeadlinePassed", "arm", "remaining"]

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "dockit_ldap_deadline", default=None
)


class DeadlinePassed(TimeoutError):
    """The call's time (``ldap.timeout``) is up before a step could start."""


def remaining(cap: float) -> float:
    """Seconds the next step may wait: ``cap``, or less when the call's deadline is nearer.
    Raises DeadlinePassed when nothing is left."""
    deadline = _deadline.get()
    if deadline is None:
        return cap
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlinePassed("ldap.timeout passed")
    return min(cap, left)


def arm(sock: Any, cap: float) -> None:
    """Let the next reads and writes on ``sock`` wait at most :func:`remaining` seconds."""
    if sock is not None:
        sock.settimeout(remaining(cap))


class CallLimit:
    """``with limit.call():`` around a call's directory work (nested calls share the
    outer one's deadline and turn)."""

    def __init__(self, timeout: float, max_concurrent: int) -> None:
        self._timeout = timeout
        self._max = max_concurrent
        self._turns = threading.BoundedSemaphore(max_concurrent)

    @contextmanager
    def call(self) -> Iterator[None]:
        if _deadline.get() is not None:
            yield
            return
        deadline = time.monotonic() + self._timeout
        if not self._turns.acquire(timeout=self._timeout):
            raise BackendUnavailable(
                f"the LDAP directory is busy: {self._max} calls (ldap.max_concurrent) have "
                f"been waiting for it for more than ldap.timeout ({self._timeout:g} s)"
            )
        token = _deadline.set(deadline)
        try:
            yield
        finally:
            _deadline.reset(token)
            self._turns.release()
