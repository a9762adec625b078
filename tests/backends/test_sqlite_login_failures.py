"""Failed-login counters on a SQLite file: stored as the model stores them, and a login's
reservation and its take-back without a statement they do not need."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from libdockit.backends.sql.backend import SqlBackend
from libdockit.backends.sql.models import LoginFailureRow
from libdockit.backends.sql.records import to_db
from libdockit.testing.conformance import T0
from tests.backends.statement_log import StatementLog

WINDOW = timedelta(minutes=15)
REPEAT = timedelta(seconds=60)
TIME_COLUMNS = ("window_start", "blocked_until", "wrong_secret_at")


def one_second(failures: int) -> timedelta | None:
    return timedelta(seconds=1)


@pytest.fixture
def backend(db_path: Path) -> Iterator[SqlBackend]:
    with SqlBackend(f"sqlite:///{db_path}") as opened:
        opened.migrate()
        yield opened


def stored_times(db_path: Path, key: str) -> list[tuple[object, str]]:
    """Each time column of ``key``'s counter as stored, with its SQLite type."""
    columns = ", ".join(f'"{c}", typeof("{c}")' for c in TIME_COLUMNS)
    with closing(sqlite3.connect(db_path)) as conn:
        row = conn.execute(
            f'SELECT {columns} FROM "login_failures" WHERE "key" = ?',
            (key,),
        ).fetchone()
    return [(row[n], row[n + 1]) for n in range(0, len(row), 2)]


@pytest.mark.parametrize("at", [T0, T0.replace(microsecond=0)], ids=["fraction", "whole"])
def test_counters_are_stored_as_the_model_stores_them(
    backend: SqlBackend, db_path: Path, at: datetime
) -> None:
    """Text exactly as the peewee model writes the same times, so rows written either way
    compare, prune and read back alike."""
    done = backend.reserve_login_attempt(
        ["user:a"], at=at, window=WINDOW, backoff=one_second, fingerprint="fp"
    )
    backend.confirm_login_failure(done, at=at)
    until = to_db(at + timedelta(seconds=1))
    with backend._session() as db:
        LoginFailureRow.insert(
            key="user:model",
            failures=1,
            window_start=to_db(at),
            blocked_until=until,
            wrong_secret="fp",
            wrong_secret_at=to_db(at),
        ).execute(db)
        query = LoginFailureRow.select().where(LoginFailureRow.key == "user:a")
        [model] = query.execute(db)  # read back through the model
    assert stored_times(db_path, "user:a") == stored_times(db_path, "user:model")
    assert (model.window_start, model.blocked_until, model.wrong_secret_at) == (
        to_db(at),
        until,
        to_db(at),
    )


def test_a_login_reserves_and_takes_back_without_reading_a_row_twice(
    backend: SqlBackend, statements: StatementLog
) -> None:
    """The cold login of a client that logged in before: the user's counter is made (its
    row comes back from the INSERT), the client's was read with it; the take-back reads
    the client's once and drops the user's."""
    keys = ["user:alice", "client:192.0.2.7"]
    first = backend.reserve_login_attempt(keys, at=T0, window=WINDOW, backoff=lambda n: None)
    backend.cancel_login_attempt(first, clear="user:alice")
    statements.statements.clear()
    again = backend.reserve_login_attempt(keys, at=T0, window=WINDOW, backoff=lambda n: None)
    assert [c.failures for c in again.counted] == [1, 1]
    reserved = [s.split(" ", 1)[0] for s in statements.statements if not s.startswith("BEGIN")]
    assert reserved == ["SELECT", "INSERT", "UPDATE", "UPDATE"], statements.statements
    statements.statements.clear()
    backend.cancel_login_attempt(again, clear="user:alice")
    taken_back = [s.split(" ", 1)[0] for s in statements.statements if not s.startswith("BEGIN")]
    assert taken_back == ["SELECT", "UPDATE", "DELETE"], statements.statements
    assert backend.login_failures(keys) == []  # the user's is gone, the client's idle
    statements.statements.clear()
    backend.record_login_failure(keys[1], at=T0, window=WINDOW, backoff=lambda n: None)
    recorded = [s.split(" ", 1)[0] for s in statements.statements if not s.startswith("BEGIN")]
    assert recorded == ["SELECT", "UPDATE"], statements.statements
