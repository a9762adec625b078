"""The SQL of the failed-login counters (``login_failures``) and the rows it reads.

Hand-written, reads and writes: every login looks counters up, every cold login reserves an
attempt and takes it back (or confirms it), every failed one counts, and building these
statements with peewee (and a model instance per row) cost several times what running them
does. :class:`~.throttle.SqlLoginFailures` runs them, with ``?`` placeholders, which the
session passes on to either database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from ...model import LoginFailures
from .records import time_from_column
from .users import LOGIN_COLUMNS

COLUMNS_SQL = 'SELECT "key", "failures", "window_start", "blocked_until", "checking" '
LOOKUP_SQL = COLUMNS_SQL + 'FROM "login_failures" WHERE "key" IN '
#: A counter with no failures and no block tells a lookup nothing, unless it is a user's: a
#: successful login of that user clears it (LoginThrottle.succeeded looks for it). Every
#: client that ever logged in keeps one (a login's reservation is taken back to zero), so
#: the lookup leaves out idle counters of other keys instead of reading and converting one
#: on every login. ``{f}`` names the counter's table.
NOT_IDLE = '({f}."failures" <> 0 OR {f}."blocked_until" IS NOT NULL)'
LOOKUP_USER_SQL = COLUMNS_SQL + 'FROM "login_failures" WHERE "key" = ?'
LOOKUP_OTHER_SQL = (
    COLUMNS_SQL
    + 'FROM "login_failures" WHERE "key" = ? AND '
    + NOT_IDLE.format(f='"login_failures"')
)
#: Up to this many keys are looked up one by one in a UNION ALL: SQLite answers an IN list
#: of two or more values through a temporary table, which cost a login 4x the two lookups.
MAX_UNION_KEYS = 8
FAILURE_COLUMNS = ("key", "failures", "window_start", "blocked_until", "checking")
FAILURE_WIDTH = len(FAILURE_COLUMNS)
#: A login's counters with the user's row and the policy version (see login_failures): one
#: row whatever exists, each counter and the user LEFT JOINed to a constant row.
WITH_LOGIN_SQL = (
    "SELECT {login}, {failures} "
    'FROM (SELECT 1 AS "one") AS "one" LEFT JOIN "users" u ON u."username" = ? {joins}'
)


def with_login_sql(count: int) -> str:
    """The SQL of a login's ``count`` counters read with its user's row: parameters the user
    name, the user's key, then the other keys (whose idle counters are left out)."""
    failures = ", ".join(f'f{n}."{column}"' for n in range(count) for column in FAILURE_COLUMNS)
    joins = " ".join(
        f'LEFT JOIN "login_failures" f{n} ON f{n}."key" = ?'
        + (f" AND {NOT_IDLE.format(f=f'f{n}')}" if n else "")
        for n in range(count)
    )
    return WITH_LOGIN_SQL.format(login=LOGIN_COLUMNS, failures=failures, joins=joins)


WITH_LOGIN = {count: with_login_sql(count) for count in (1, 2)}


# -- the writes ------------------------------------------------------------------------------
#: A counter as a write reads it under the lock (see LockedCounter); ``{marks}``: one ``?`` a key.
LOCKED_SQL = (
    'SELECT "key", "failures", "window_start", "blocked_until", "checking", "wrong_secret", '
    '"wrong_secret_at" FROM "login_failures" WHERE "key" IN ({marks})'
)
#: New counters at zero, ``{rows}`` of them.
MAKE_IDLE_SQL = (
    'INSERT INTO "login_failures" ("key", "failures", "window_start", "checking") '
    "VALUES {rows} ON CONFLICT DO NOTHING"
)
#: PostgreSQL's: RETURNING gives those made, in the columns of LOCKED_SQL (not one a
#: concurrent attempt made first). SQLite needs none (see
#: SqlLoginFailures._made), nor SQLite 3.35 for it.
RETURNING_COLUMNS = (
    ' RETURNING "key", "failures", "window_start", "blocked_until", "checking", '
    '"wrong_secret", "wrong_secret_at"'
)
DELETE_IDLE_SQL = 'DELETE FROM "login_failures" WHERE "key" IN ({marks}) AND "failures" = 0'
COUNT_SQL = (
    'UPDATE "login_failures" SET "failures" = ?, "window_start" = ?, "blocked_until" = ?, '
    '"checking" = "checking" + ? WHERE "key" = ?'
)
#: Here and in CONFIRM_SQL, ``checking`` one fewer, never below 0 (a counter pruned and
#: made anew meanwhile).
TAKE_BACK_SQL = (
    'UPDATE "login_failures" SET "failures" = ?, "blocked_until" = ?, '
    '"checking" = CASE WHEN "checking" > 0 THEN "checking" - 1 ELSE 0 END WHERE "key" = ?'
)
CONFIRM_SQL = (
    'UPDATE "login_failures" SET {remember}'
    '"checking" = CASE WHEN "checking" > 0 THEN "checking" - 1 ELSE 0 END '
    'WHERE "key" IN ({marks})'
)
REMEMBER_FINGERPRINT_SQL = '"wrong_secret" = ?, "wrong_secret_at" = ?, '
CLEAR_SQL = 'DELETE FROM "login_failures" WHERE "key" = ?'


def placeholders(count: int) -> str:
    return ", ".join(["?"] * count)


@lru_cache(maxsize=16)
def locked_sql(count: int, *, postgres: bool) -> str:
    """The read of ``count`` keys' counters under the lock: SQLite's write transaction
    holds it already (BEGIN IMMEDIATE); PostgreSQL locks the rows."""
    sql = LOCKED_SQL.format(marks=placeholders(count))
    return sql + " FOR UPDATE" if postgres else sql


@lru_cache(maxsize=8)
def make_idle_sql(count: int) -> str:
    """Parameters: each key and its window start (:func:`key_rows`)."""
    return MAKE_IDLE_SQL.format(rows=", ".join(["(?, 0, ?, 0)"] * count))


@lru_cache(maxsize=8)
def make_idle_returning_sql(count: int) -> str:
    return make_idle_sql(count) + RETURNING_COLUMNS


def key_rows(keys: Sequence[str], start: object) -> list[object]:
    return [value for key in keys for value in (key, start)]


@lru_cache(maxsize=8)
def delete_idle_sql(count: int) -> str:
    return DELETE_IDLE_SQL.format(marks=placeholders(count))


@lru_cache(maxsize=16)
def confirm_sql(count: int, *, remember: bool) -> str:
    """Parameters: (with ``remember``) the wrong secret's fingerprint and time, the keys."""
    return CONFIRM_SQL.format(
        remember=REMEMBER_FINGERPRINT_SQL if remember else "", marks=placeholders(count)
    )


class LockedCounter(NamedTuple):
    """A row of ``login_failures`` read under the lock; times aware UTC."""

    key: str
    failures: int
    window_start: datetime
    blocked_until: datetime | None
    checking: int
    wrong_secret: str | None
    wrong_secret_at: datetime | None


def counter_from_row(row: Sequence[Any]) -> LockedCounter:
    """A row in the columns of :data:`LOCKED_SQL`."""
    key, failures, window_start, blocked_until, checking, secret, secret_at = row
    started = time_from_column(window_start)
    assert started is not None  # NOT NULL
    until, seen = time_from_column(blocked_until), time_from_column(secret_at)
    return LockedCounter(key, int(failures), started, until, int(checking), secret, seen)


def from_columns(
    key: str, failures: int, window_start: object, blocked_until: object, checking: int
) -> LoginFailures:
    started = time_from_column(window_start)
    assert started is not None  # NOT NULL
    until = time_from_column(blocked_until)
    return LoginFailures(key, int(failures), started, until, int(checking))
