"""Failed-login counters over SQL: the LoginFailureStore of
:class:`~libdockit.backends.sql.SqlBackend`.

One row per key in ``login_failures``. Counting a failure, and reserving an attempt, is one
transaction on both databases: the rows are read under a lock (``FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the database's write lock), missing
ones are made with ``INSERT ... ON CONFLICT DO NOTHING`` and read again locked, and all are
written back before the lock is let go. So concurrent attempts in any number of processes
each count once, a blocked key lets none of them through, and ``blocked_until`` never moves
back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import peewee as pw

from ...model import BackoffRule, LoginFailures, LoginReservation
from ...throttle import USER_KEY
from .models import LoginFailureRow
from .records import from_db, maybe_from_db, maybe_to_db, time_from_column, to_db
from .session import SqlSession
from .users import LOGIN_COLUMNS, LOGIN_WIDTH

_COLUMNS_SQL = 'SELECT "key", "failures", "window_start", "blocked_until", "checking" '
_LOOKUP_SQL = _COLUMNS_SQL + 'FROM "login_failures" WHERE "key" IN '
#: A counter with no failures and no block tells a lookup nothing, unless it is a user's: a
#: successful login of that user clears it (LoginThrottle.succeeded looks for it). Every
#: client that ever logged in keeps one (a login's reservation is taken back to zero), so
#: the lookup leaves out idle counters of other keys instead of reading and converting one
#: on every login. ``{f}`` names the counter's table.
_NOT_IDLE = '({f}."failures" <> 0 OR {f}."blocked_until" IS NOT NULL)'
_LOOKUP_USER_SQL = _COLUMNS_SQL + 'FROM "login_failures" WHERE "key" = ?'
_LOOKUP_OTHER_SQL = (
    _COLUMNS_SQL
    + 'FROM "login_failures" WHERE "key" = ? AND '
    + _NOT_IDLE.format(f='"login_failures"')
)
#: Up to this many keys are looked up one by one in a UNION ALL: SQLite answers an IN list
#: of two or more values through a temporary table, which cost a login 4x the two lookups.
_MAX_UNION_KEYS = 8
_FAILURE_COLUMNS = ("key", "failures", "window_start", "blocked_until", "checking")
_WIDTH = len(_FAILURE_COLUMNS)
#: A login's counters with the user's row and the policy version (see login_failures): one
#: row whatever exists, each counter and the user LEFT JOINed to a constant row.
_WITH_LOGIN_SQL = (
    "SELECT {login}, {failures} "
    'FROM (SELECT 1 AS "one") AS "one" LEFT JOIN "users" u ON u."username" = ? {joins}'
)


def _with_login_sql(count: int) -> str:
    """The SQL of a login's ``count`` counters read with its user's row: parameters the user
    name, the user's key, then the other keys (whose idle counters are left out)."""
    failures = ", ".join(f'f{n}."{column}"' for n in range(count) for column in _FAILURE_COLUMNS)
    joins = " ".join(
        f'LEFT JOIN "login_failures" f{n} ON f{n}."key" = ?'
        + (f" AND {_NOT_IDLE.format(f=f'f{n}')}" if n else "")
        for n in range(count)
    )
    return _WITH_LOGIN_SQL.format(login=LOGIN_COLUMNS, failures=failures, joins=joins)


_WITH_LOGIN = {count: _with_login_sql(count) for count in (1, 2)}
#: Users whose last lookup is kept converted (see SqlSession._parsed_lookups).
_MAX_PARSED = 4096


def _from_columns(
    key: str, failures: int, window_start: object, blocked_until: object, checking: int
) -> LoginFailures:
    started = time_from_column(window_start)
    assert started is not None  # NOT NULL
    until = time_from_column(blocked_until)
    return LoginFailures(key, int(failures), started, until, int(checking))


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
        if len(wanted) <= _MAX_UNION_KEYS:
            sql = " UNION ALL ".join(
                _LOOKUP_USER_SQL if key.startswith(USER_KEY) else _LOOKUP_OTHER_SQL
                for key in wanted
            )
        else:
            marks = ", ".join("?" for _ in wanted)
            sql = _LOOKUP_SQL + f"({marks})"  # only "?" placeholders are joined in
        rows = self._read(sql, tuple(wanted))
        return [_from_columns(*row) for row in rows]

    def _with_login(self, user: str, wanted: list[str]) -> list[LoginFailures]:
        """``wanted``: ``user`` and at most one other key."""
        username = user[len(USER_KEY) :]
        if len(wanted) == 1:
            params: tuple[str, ...] = (username, user)
        else:
            params = (username, user, wanted[1] if wanted[0] == user else wanted[0])
        [row] = self._read(_WITH_LOGIN[len(params) - 1], params)
        parsed = self._parsed_lookups.get(user)
        if parsed is None or parsed[0] is not row:  # not the row converted last time
            login = row[:LOGIN_WIDTH] if row[0] is not None else None
            found = tuple(
                _from_columns(*row[start : start + _WIDTH])
                for start in range(LOGIN_WIDTH, len(row), _WIDTH)
                if row[start] is not None  # the counter's key: it has a row
            )
            parsed = (row, login, found)
            if len(self._parsed_lookups) >= _MAX_PARSED:
                self._parsed_lookups.clear()
            self._parsed_lookups[user] = parsed  # holds the row: its id cannot be reused
        self._read_ahead(username, parsed[1])
        return list(parsed[2])

    def record_login_failure(
        self, key: str, *, at: datetime, window: timedelta, backoff: BackoffRule
    ) -> LoginFailures:
        now = to_db(at)
        with self._session(write=True) as db:
            LoginFailureRow.insert(
                key=key, failures=0, window_start=now
            ).on_conflict_ignore().execute(db)
            [row] = self._locked(db, [key])
            return self._count(db, row, now, window, backoff)

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
        now = to_db(at)
        wanted = list(dict.fromkeys(keys))
        with self._session(write=True) as db:
            rows = {row.key: row for row in self._locked(db, wanted)}
            blocked = _latest_block(rows.values(), now)
            if blocked is not None:
                return _refused(fingerprint, rows.values(), blocked, now)
            missing = [key for key in wanted if key not in rows]
            if missing:
                LoginFailureRow.insert_many(
                    [{"key": key, "failures": 0, "window_start": now} for key in missing]
                ).on_conflict_ignore().execute(db)
                rows.update((row.key, row) for row in self._locked(db, missing))
                blocked = _latest_block(rows.values(), now)
                if blocked is not None:  # a concurrent attempt made a row first, and blocked it
                    LoginFailureRow.delete().where(
                        LoginFailureRow.key.in_(missing) & (LoginFailureRow.failures == 0)
                    ).execute(db)
                    return _refused(fingerprint, rows.values(), blocked, now)
            counted: list[LoginFailures] = []
            before: list[datetime | None] = []
            repeated: list[str] = []
            for key in wanted:
                row = rows[key]
                if _repeats(row, fingerprint, now - repeat_within):
                    repeated.append(key)
                    continue
                before.append(maybe_from_db(row.blocked_until))
                counted.append(self._count(db, row, now, window, backoff, checking=True))
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
        checked = _checked()
        changes: dict[Any, Any] = {LoginFailureRow.checking: checked}
        if reservation.fingerprint is not None:
            changes[LoginFailureRow.wrong_secret] = reservation.fingerprint
            changes[LoginFailureRow.wrong_secret_at] = to_db(at)
        with self._session() as db:  # one UPDATE, committed on its own
            LoginFailureRow.update(changes).where(LoginFailureRow.key.in_(keys)).execute(db)

    def cancel_login_attempt(
        self, reservation: LoginReservation, *, clear: str | None = None
    ) -> None:
        taken_back = [c for c in reservation.counted if c.key != clear]
        if not taken_back and clear is None:
            return
        with self._session(write=True) as db:
            rows = {row.key: row for row in self._locked(db, [c.key for c in taken_back])}
            for counter, block_before in zip(
                reservation.counted, reservation.blocks_before, strict=True
            ):
                row = rows.get(counter.key)
                if row is None or row.failures <= 0:
                    continue
                until = row.blocked_until
                if until == maybe_to_db(counter.blocked_until):  # nobody moved it since
                    until = maybe_to_db(block_before)
                LoginFailureRow.update(
                    failures=row.failures - 1, blocked_until=until, checking=_checked()
                ).where(LoginFailureRow.key == counter.key).execute(db)
            if clear is not None:
                LoginFailureRow.delete().where(LoginFailureRow.key == clear).execute(db)

    def _locked(self, db: pw.Database, keys: Sequence[str]) -> list[LoginFailureRow]:
        if not keys:
            return []
        query = LoginFailureRow.select().where(LoginFailureRow.key.in_(list(keys)))
        if self._postgres:
            query = query.for_update()
        return list(query.execute(db))

    @staticmethod
    def _count(
        db: pw.Database,
        row: LoginFailureRow,
        now: datetime,
        window: timedelta,
        backoff: BackoffRule,
        *,
        checking: bool = False,
    ) -> LoginFailures:
        """Count one failure on a row read under the lock, and write it back; ``checking``:
        an attempt counted ahead of its check (a reservation)."""
        blocked = _blocked(row, now)
        if row.failures and not blocked and row.window_start + window <= now:
            row.failures, row.window_start, row.blocked_until = 0, now, None
        failures = row.failures + 1
        until = row.blocked_until
        block = backoff(failures)
        if block is not None and (until is None or until < now + block):
            until = now + block
        LoginFailureRow.update(
            failures=failures,
            window_start=row.window_start,
            blocked_until=until,
            checking=LoginFailureRow.checking + (1 if checking else 0),
        ).where(LoginFailureRow.key == row.key).execute(db)
        return LoginFailures(
            row.key,
            failures,
            from_db(row.window_start),
            maybe_from_db(until),
            row.checking + (1 if checking else 0),
        )

    def clear_login_failures(self, key: str) -> None:
        with self._session() as db:  # one DELETE, committed on its own
            LoginFailureRow.delete().where(LoginFailureRow.key == key).execute(db)

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


def _blocked(row: LoginFailureRow, now: datetime) -> bool:
    return row.blocked_until is not None and row.blocked_until > now


def _checked() -> Any:
    """``checking`` one fewer, never below 0 (a counter pruned and made anew meanwhile)."""
    return pw.Case(None, [(LoginFailureRow.checking > 0, LoginFailureRow.checking - 1)], 0)


def _refused(
    fingerprint: str | None, rows: Iterable[LoginFailureRow], blocked: datetime, now: datetime
) -> LoginReservation:
    """The reservation of an attempt refused for a block that ends at ``blocked``."""
    checking = any(row.checking > 0 for row in rows if _blocked(row, now))
    return LoginReservation(fingerprint, blocked_until=from_db(blocked), checking=checking)


def _latest_block(rows: Iterable[LoginFailureRow], now: datetime) -> datetime | None:
    """The latest ``blocked_until`` still ahead of ``now`` among ``rows``; None if none."""
    ahead = [row.blocked_until for row in rows if row.blocked_until and row.blocked_until > now]
    return max(ahead) if ahead else None


def _repeats(row: LoginFailureRow, fingerprint: str | None, since: datetime) -> bool:
    """Whether the row's last wrong secret is ``fingerprint``, seen after ``since``."""
    return (
        fingerprint is not None
        and row.wrong_secret == fingerprint
        and row.wrong_secret_at is not None
        and row.wrong_secret_at > since
    )
