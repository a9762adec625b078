"""Failed-login counters over SQL: the LoginFailureStore of
:class:`~libdockit.backends.sql.SqlBackend`.

One row per key in ``login_failures``. Counting a failure, and reserving an attempt, is one
transaction on both databases: the rows are read under a lock (``FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the database's write lock), missing
ones are made with ``INSERT ... ON CONFLICT DO NOTHING`` (on PostgreSQL ``RETURNING`` what it
made; one a concurrent attempt made first is read locked), and all are written back before
the lock is let go. So concurrent attempts in any number of processes each count once, a
blocked key lets none of them through, and ``blocked_until`` never moves back.

The statements are hand-written (:mod:`.login_failure_sql`, which says why).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from ...clock import as_utc
from ...errors import BackendUnavailable
from ...model import BackoffRule, LoginFailures, LoginReservation
from ...throttle import USER_KEY
from .login_failure_sql import (
    CLEAR_SQL,
    COUNT_SQL,
    FAILURE_WIDTH,
    LOOKUP_OTHER_SQL,
    LOOKUP_SQL,
    LOOKUP_USER_SQL,
    MAX_UNION_KEYS,
    TAKE_BACK_SQL,
    WITH_LOGIN,
    LockedCounter,
    confirm_sql,
    counter_from_row,
    delete_idle_sql,
    from_columns,
    key_rows,
    locked_sql,
    make_idle_returning_sql,
    make_idle_sql,
)
from .models import LoginFailureRow
from .records import time_to_column, to_db
from .session import SqlSession
from .users import LOGIN_WIDTH

#: Rounds of making counters on PostgreSQL while concurrent attempts make or drop them.
_MAKE_ATTEMPTS = 3


class SqlLoginFailures(SqlSession):
    """LoginFailureStore."""

    def login_failures(self, keys: Sequence[str]) -> list[LoginFailures]:
        """While a request holds its connection (see ``hold_connection``), a lookup with one
        user's key (``user:NAME``, the throttle's) also reads that user's login record in the
        same statement, for the :meth:`login_record` that follows: a warm login is then one
        statement."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        if len(wanted) <= 2 and getattr(self._pin, "active", False):  # held
            users = [key for key in wanted if key.startswith(USER_KEY)]
            if len(users) == 1:
                return self._with_login(users[0], wanted)
        # Hand-written: every login reads this, and there is rarely a row to find.
        if len(wanted) <= MAX_UNION_KEYS:
            sql = " UNION ALL ".join(
                LOOKUP_USER_SQL if key.startswith(USER_KEY) else LOOKUP_OTHER_SQL for key in wanted
            )
        else:
            marks = ", ".join("?" for _ in wanted)
            sql = LOOKUP_SQL + f"({marks})"  # only "?" placeholders are joined in
        rows = self._read(sql, tuple(wanted))
        return [from_columns(*row) for row in rows]

    def _with_login(self, user: str, wanted: list[str]) -> list[LoginFailures]:
        """``wanted``: ``user`` and at most one other key."""
        username = user[len(USER_KEY) :]
        if len(wanted) == 1:
            params: tuple[str, ...] = (username, user)
        else:
            params = (username, user, wanted[1] if wanted[0] == user else wanted[0])
        [row] = self._read(WITH_LOGIN[len(params) - 1], params)
        parsed = self._parsed_lookups.get(user, row)
        if parsed is None:  # not the row converted last time
            login = row[:LOGIN_WIDTH] if row[0] is not None else None
            found = tuple(
                from_columns(*row[start : start + FAILURE_WIDTH])
                for start in range(LOGIN_WIDTH, len(row), FAILURE_WIDTH)
                if row[start] is not None  # the counter's key: it has a row
            )
            parsed = self._parsed_lookups.put(user, row, (login, found))
        self._read_ahead(username, parsed[0])
        return list(parsed[1])

    def record_login_failure(
        self, key: str, *, at: datetime, window: timedelta, backoff: BackoffRule
    ) -> LoginFailures:
        now = as_utc(at)
        with self._cursor() as cursor:
            rows = self._locked(cursor, [key]) or self._made(cursor, [key], now)
            return self._count(cursor, rows[key], now, window, backoff)

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
        now = as_utc(at)
        wanted = list(dict.fromkeys(keys))
        with self._cursor() as cursor:
            rows = self._locked(cursor, wanted)
            blocked = _latest_block(rows.values(), now)
            if blocked is not None:
                return _refused(fingerprint, rows.values(), blocked, now)
            missing = [key for key in wanted if key not in rows]
            if missing:
                rows.update(self._made(cursor, missing, now))
                blocked = _latest_block(rows.values(), now)
                if blocked is not None:  # a concurrent attempt made a row first, and blocked it
                    self._execute(cursor, delete_idle_sql(len(missing)), missing)
                    return _refused(fingerprint, rows.values(), blocked, now)
            counted: list[LoginFailures] = []
            before: list[datetime | None] = []
            repeated: list[str] = []
            for key in wanted:
                row = rows[key]
                if _repeats(row, fingerprint, now - repeat_within):
                    repeated.append(key)
                    continue
                before.append(row.blocked_until)
                counted.append(self._count(cursor, row, now, window, backoff, checking=True))
        return LoginReservation(
            fingerprint,
            counted=tuple(counted),
            blocks_before=tuple(before),
            repeated=tuple(repeated),
        )

    def confirm_login_failure(self, reservation: LoginReservation, *, at: datetime) -> None:
        if not reservation.counted:
            return
        keys = [counter.key for counter in reservation.counted]
        params: list[object] = []
        if reservation.fingerprint is not None:
            params += (reservation.fingerprint, self._time(as_utc(at)))
        sql = confirm_sql(len(keys), remember=bool(params))
        with self._cursor(write=False) as cursor:  # one UPDATE, committed on its own
            self._execute(cursor, sql, [*params, *keys])

    def cancel_login_attempt(
        self, reservation: LoginReservation, *, clear: str | None = None
    ) -> None:
        taken_back = [c.key for c in reservation.counted if c.key != clear]
        if not taken_back and clear is None:
            return
        with self._cursor() as cursor:
            rows = self._locked(cursor, taken_back)
            for counter, block_before in zip(
                reservation.counted, reservation.blocks_before, strict=True
            ):
                row = rows.get(counter.key)
                if row is None or row.failures <= 0:
                    continue
                until = row.blocked_until
                if until == counter.blocked_until:  # nobody moved it since
                    until = block_before
                params = (row.failures - 1, self._time(until), row.key)
                self._execute(cursor, TAKE_BACK_SQL, params)
            if clear is not None:
                self._execute(cursor, CLEAR_SQL, (clear,))

    @contextmanager
    def _cursor(self, *, write: bool = True) -> Iterator[Any]:
        """A driver cursor in a session of its own (``write``: in one transaction)."""
        with self._session(write=write) as db:
            cursor = db.cursor()  # type: ignore[no-untyped-call]
            try:
                yield cursor
            finally:
                cursor.close()

    def _locked(self, cursor: Any, keys: Sequence[str]) -> dict[str, LockedCounter]:
        """The counters of ``keys`` that exist, read under the transaction's lock."""
        if not keys:
            return {}
        self._execute(cursor, locked_sql(len(keys), postgres=self._postgres), keys)
        return {row[0]: counter_from_row(row) for row in cursor.fetchall()}

    def _made(self, cursor: Any, keys: Sequence[str], now: datetime) -> dict[str, LockedCounter]:
        """Counters made for ``keys``, which had none when read under the lock.

        On SQLite the write transaction holds the database's only write lock, so every one
        is made, as written. On PostgreSQL a concurrent attempt may make one first (it is
        then read under the lock), or remove one between the two (it is made again): at
        most :data:`_MAKE_ATTEMPTS` rounds, then a 503 rather than a half-counted attempt.
        """
        start = self._time(now)
        if not self._postgres:
            self._execute(cursor, make_idle_sql(len(keys)), key_rows(keys, start))
            return {key: LockedCounter(key, 0, now, None, 0, None, None) for key in keys}
        made: dict[str, LockedCounter] = {}
        wanted = list(keys)
        for _ in range(_MAKE_ATTEMPTS):
            self._execute(cursor, make_idle_returning_sql(len(wanted)), key_rows(wanted, start))
            made.update((row[0], counter_from_row(row)) for row in cursor.fetchall())
            wanted = [key for key in wanted if key not in made]
            if wanted:
                made.update(self._locked(cursor, wanted))
                wanted = [key for key in wanted if key not in made]
            if not wanted:
                return made
        raise BackendUnavailable(
            "the failed-login counters kept changing under this login; try again"
        )

    def _count(
        self,
        cursor: Any,
        row: LockedCounter,
        now: datetime,
        window: timedelta,
        backoff: BackoffRule,
        *,
        checking: bool = False,
    ) -> LoginFailures:
        """Count one failure on a row read under the lock, and write it back; ``checking``:
        an attempt counted ahead of its check (a reservation)."""
        failures, started, until = row.failures, row.window_start, row.blocked_until
        if failures and not _blocked(row, now) and started + window <= now:
            failures, started, until = 0, now, None
        failures += 1
        block = backoff(failures)
        if block is not None and (until is None or until < now + block):
            until = now + block
        added = 1 if checking else 0
        params = (failures, self._time(started), self._time(until), added, row.key)
        self._execute(cursor, COUNT_SQL, params)
        return LoginFailures(row.key, failures, started, until, row.checking + added)

    def _time(self, value: datetime | None) -> object:
        return None if value is None else time_to_column(value, text=not self._postgres)

    def clear_login_failures(self, key: str) -> None:
        with self._cursor(write=False) as cursor:  # one DELETE, committed on its own
            self._execute(cursor, CLEAR_SQL, (key,))

    def prune_login_failures(self, before: datetime) -> int:
        cutoff = to_db(before)
        with self._session() as db:
            query = LoginFailureRow.delete().where(
                (LoginFailureRow.window_start < cutoff)
                & (
                    LoginFailureRow.blocked_until.is_null()
                    | (LoginFailureRow.blocked_until <= cutoff)
                )
            )
            return int(query.execute(db))


def _blocked(row: LockedCounter, now: datetime) -> bool:
    return row.blocked_until is not None and row.blocked_until > now


def _refused(
    fingerprint: str | None, rows: Iterable[LockedCounter], blocked: datetime, now: datetime
) -> LoginReservation:
    """The reservation of an attempt refused for a block that ends at ``blocked``."""
    checking = any(row.checking > 0 for row in rows if _blocked(row, now))
    return LoginReservation(fingerprint, blocked_until=blocked, checking=checking)


def _latest_block(rows: Iterable[LockedCounter], now: datetime) -> datetime | None:
    """The latest ``blocked_until`` still ahead of ``now`` among ``rows``; None if none."""
    ahead = [row.blocked_until for row in rows if row.blocked_until and row.blocked_until > now]
    return max(ahead) if ahead else None


def _repeats(row: LockedCounter, fingerprint: str | None, since: datetime) -> bool:
    """Whether the row's last wrong secret is ``fingerprint``, seen after ``since``."""
    return (
        fingerprint is not None
        and row.wrong_secret == fingerprint
        and row.wrong_secret_at is not None
        and row.wrong_secret_at > since
    )
