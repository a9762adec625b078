"""One check at a time for the same credentials in a process: the others take its answer.

A cluster that starts pulling with one account sends the same user and password many times
at once; before the first answer is remembered (the verified-credentials cache), each would
compute its own argon2id hash or bind to the directory, and each would be counted ahead of
its check by the failed-login throttle, enough to block the rest. Here the first caller
checks and the callers that arrive while it does wait for its answer: the same identity,
or the same error (wrong password, too many attempts, directory unavailable). The key is
a keyed hash of the credentials (never the password itself).

The locks are made when a :class:`SingleFlight` is made, so under gevent (whose worker
patches threading before it builds the app) they are gevent's.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Generic, TypeVar

T = TypeVar("T")

#: A caller waits this long for another's check at most, then checks on its own.
DEFAULT_PATIENCE = 60.0


class _Flight(Generic[T]):
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class SingleFlight(Generic[T]):
    def __init__(
        self,
        *,
        patience: float = DEFAULT_PATIENCE,
        while_waiting: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        """``while_waiting`` is entered around a wait for another's check (the server gives
        its database connection back meanwhile, so waiting logins cannot use up the pool)."""
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight[T]] = {}
        self._patience = patience
        self._while_waiting = while_waiting

    def run(self, key: str, check: Callable[[], T]) -> T:
        """``check()``, or the answer of the same key's check already under way."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            return self._follow(flight, check)
        try:
            flight.result = check()
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()

    def _follow(self, flight: _Flight[T], check: Callable[[], T]) -> T:
        with self._while_waiting():
            answered = flight.done.wait(self._patience)
        if not answered:
            return check()
        if isinstance(flight.error, Exception):
            raise copy.copy(flight.error) from None
        if flight.error is not None:  # the other caller was stopped, not answered
            return check()
        assert flight.result is not None
        return flight.result

    def __len__(self) -> int:
        """Checks under way (for tests)."""
        with self._lock:
            return len(self._flights)
