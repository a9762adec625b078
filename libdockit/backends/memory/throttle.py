"""Failed-login counters in memory: the LoginFailureStore of the memory backend.

Shared by the threads of one process only; a server with several worker processes needs
a store they share (the SQL backend).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from ...clock import as_utc
from ...model import BackoffRule, LoginFailures, LoginReservation


def _active(row: LoginFailures, at: datetime, window: timedelta) -> bool:
    """Whether ``row`` still counts at ``at``: its window is on, or it is blocked."""
    blocked = row.blocked_until is not None and row.blocked_until > at
    return blocked or row.window_start + window > at


class MemoryLoginFailures:
    """LoginFailureStore."""

    def __init__(self) -> None:
        self._failures_lock = threading.Lock()
        self._failures: dict[str, LoginFailures] = {}
        #: key -> (keyed hash of the last wrong secret, when it was found wrong)
        self._wrong_secrets: dict[str, tuple[str, datetime]] = {}

    def login_failures(self, keys: Sequence[str]) -> list[LoginFailures]:
        with self._failures_lock:
            return [self._failures[k] for k in dict.fromkeys(keys) if k in self._failures]

    def record_login_failure(
        self, key: str, *, at: datetime, window: timedelta, backoff: BackoffRule
    ) -> LoginFailures:
        with self._failures_lock:
            return self._count(key, as_utc(at), window, backoff)

    def reserve_login_attempt(
        self,
        keys: Sequence[str],
        *,
        at: datetime,
        window: timedelta,
        backoff: BackoffRule,
        fingerprint: str | None = None,
        repeat_within: timedelta = timedelta(0),
    ) -> LoginReservation:
        at = as_utc(at)
        wanted = list(dict.fromkeys(keys))
        with self._failures_lock:
            rows = [self._failures[k] for k in wanted if k in self._failures]
            blocking = [r for r in rows if r.blocked_until and r.blocked_until > at]
            if blocking:
                return LoginReservation(
                    fingerprint,
                    blocked_until=max(r.blocked_until for r in blocking if r.blocked_until),
                    checking=any(r.checking > 0 for r in blocking),
                )
            counted: list[LoginFailures] = []
            before: list[datetime | None] = []
            repeated: list[str] = []
            for key in wanted:
                wrong = self._wrong_secrets.get(key)
                if wrong is not None and wrong[0] == fingerprint and wrong[1] > at - repeat_within:
                    repeated.append(key)
                    continue
                row = self._failures.get(key)
                before.append(None if row is None else row.blocked_until)
                counted.append(self._count(key, at, window, backoff, checking=True))
            return LoginReservation(
                fingerprint,
                counted=tuple(counted),
                blocks_before=tuple(before),
                repeated=tuple(repeated),
            )

    def confirm_login_failure(self, reservation: LoginReservation, *, at: datetime) -> None:
        with self._failures_lock:
            for counter in reservation.counted:
                row = self._failures.get(counter.key)
                if row is None:
                    continue
                self._failures[counter.key] = replace(row, checking=max(0, row.checking - 1))
                if reservation.fingerprint is not None:
                    self._wrong_secrets[counter.key] = (reservation.fingerprint, as_utc(at))

    def cancel_login_attempt(
        self, reservation: LoginReservation, *, clear: str | None = None
    ) -> None:
        with self._failures_lock:
            for counter, block_before in zip(
                reservation.counted, reservation.blocks_before, strict=True
            ):
                row = self._failures.get(counter.key)
                if row is None or row.failures <= 0 or counter.key == clear:
                    continue
                until = row.blocked_until
                if until == counter.blocked_until:  # nobody moved it since
                    until = block_before
                self._failures[counter.key] = replace(
                    row,
                    failures=row.failures - 1,
                    blocked_until=until,
                    checking=max(0, row.checking - 1),
                )
            if clear is not None:
                self._forget(clear)

    def _count(
        self,
        key: str,
        at: datetime,
        window: timedelta,
        backoff: BackoffRule,
        *,
        checking: bool = False,
    ) -> LoginFailures:
        """Count one failure under ``key`` (``checking``: ahead of its check, reserved); the
        caller holds the lock."""
        row = self._failures.get(key)
        pending = (0 if row is None else row.checking) + (1 if checking else 0)
        if row is None or not _active(row, at, window):
            row = LoginFailures(key, 1, at, checking=pending)
        else:
            row = replace(row, failures=row.failures + 1, checking=pending)
        block = backoff(row.failures)
        if block is not None:
            until = at + block
            if row.blocked_until is None or row.blocked_until < until:
                row = replace(row, blocked_until=until)
        self._failures[key] = row
        return row

    def clear_login_failures(self, key: str) -> None:
        with self._failures_lock:
            self._forget(key)

    def _forget(self, key: str) -> None:
        self._failures.pop(key, None)
        self._wrong_secrets.pop(key, None)

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
                self._forget(key)
            return len(doomed)
