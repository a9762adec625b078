"""Failed-login counters in memory: the LoginFailureStore of the memory backend.

Shared by the threads of one process only; a server with several worker processes needs
a store they share (the SQL backend).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from ..model import as_utc
from .base import BackoffRule, LoginFailures


def _active(row: LoginFailures, at: datetime, window: timedelta) -> bool:
    """Whether ``row`` still counts at ``at``: its window is on, or it is blocked."""
    blocked = row.blocked_until is not None and row.blocked_until > at
    return blocked or row.window_start + window > at


class MemoryLoginFailures:
    """LoginFailureStore."""

    def __init__(self) -> None:
        self._failures_lock = threading.Lock()
        self._failures: dict[str, LoginFailures] = {}

    def login_failures(self, keys: Sequence[str]) -> list[LoginFailures]:
        with self._failures_lock:
            return [self._failures[k] for k in dict.fromkeys(keys) if k in self._failures]

    def record_login_failure(
        self, key: str, *, at: datetime, window: timedelta, backoff: BackoffRule
    ) -> LoginFailures:
        at = as_utc(at)
        with self._failures_lock:
            row = self._failures.get(key)
            if row is None or not _active(row, at, window):
                row = LoginFailures(key, 1, at)
            else:
                row = replace(row, failures=row.failures + 1)
            block = backoff(row.failures)
            if block is not None:
                until = at + block
                if row.blocked_until is None or row.blocked_until < until:
                    row = replace(row, blocked_until=until)
            self._failures[key] = row
            return row

    def clear_login_failures(self, key: str) -> None:
        with self._failures_lock:
            self._failures.pop(key, None)

    def prune_login_failures(self, before: datetime) -> int:
        before = as_utc(before)
        with self._failures_lock:
            doomed = [
                key
                for key, row in self._failures.items()
                if row.window_start < before
                and (row.blocked_until is None or row.blocked_until <= before)
            ]
            for key in doomed:
                del self._failures[key]
            return len(doomed)
