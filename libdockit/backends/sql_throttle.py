"""Failed-login counters over SQL: the LoginFailureStore of
:class:`~libdockit.backends.sql.SqlBackend`.

One row per key in ``login_failures``. Counting a failure is one transaction on both
databases: ``INSERT ... ON CONFLICT DO NOTHING`` makes sure the row exists, then the row is
read under a lock (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds
the database's write lock) and written back, so concurrent failures in any number of
processes each count once and ``blocked_until`` never moves back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from .base import BackoffRule, LoginFailures
from .sql_models import LoginFailureRow, from_db, maybe_from_db, time_from_column, to_db
from .sql_session import SqlSession

_LOOKUP_SQL = (
    'SELECT "key", "failures", "window_start", "blocked_until" FROM "login_failures" '
    'WHERE "key" IN '
)
_LOOKUP_ONE_SQL = (
    'SELECT "key", "failures", "window_start", "blocked_until" FROM "login_failures" '
    'WHERE "key" = ?'
)
#: Up to this many keys are looked up one by one in a UNION ALL: SQLite answers an IN list
#: of two or more values through a temporary table, which cost a login 4x the two lookups.
_MAX_UNION_KEYS = 8


def _from_columns(
    key: str, failures: int, window_start: object, blocked_until: object
) -> LoginFailures:
    started = time_from_column(window_start)
    assert started is not None  # NOT NULL
    return LoginFailures(
        key=key,
        failures=int(failures),
        window_start=started,
        blocked_until=time_from_column(blocked_until),
    )


class SqlLoginFailures(SqlSession):
    """LoginFailureStore."""

    def login_failures(self, keys: Sequence[str]) -> list[LoginFailures]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        # Hand-written: every login reads this, and there is rarely a row to find.
        if len(wanted) <= _MAX_UNION_KEYS:
            sql = " UNION ALL ".join([_LOOKUP_ONE_SQL] * len(wanted))
        else:
            marks = ", ".join("?" for _ in wanted)
            sql = _LOOKUP_SQL + f"({marks})"  # only "?" placeholders are joined in
        rows = self._read(sql, tuple(wanted))
        return [_from_columns(*row) for row in rows]

    def record_login_failure(
        self, key: str, *, at: datetime, window: timedelta, backoff: BackoffRule
    ) -> LoginFailures:
        now = to_db(at)
        with self._session(write=True) as db:
            LoginFailureRow.insert(
                key=key, failures=0, window_start=now
            ).on_conflict_ignore().execute(db)
            query = LoginFailureRow.select().where(LoginFailureRow.key == key)
            if self._postgres:
                query = query.for_update()
            row = query.get(db)
            blocked = row.blocked_until is not None and row.blocked_until > now
            if row.failures and not blocked and row.window_start + window <= now:
                row.failures, row.window_start, row.blocked_until = 0, now, None
            failures = row.failures + 1
            until = row.blocked_until
            block = backoff(failures)
            if block is not None and (until is None or until < now + block):
                until = now + block
            LoginFailureRow.update(
                failures=failures, window_start=row.window_start, blocked_until=until
            ).where(LoginFailureRow.key == key).execute(db)
            return LoginFailures(key, failures, from_db(row.window_start), maybe_from_db(until))

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
