"""The SQL backend's pool checkout and check-in (``database._QuickCheckout``) on SQLite: the
pool's bound, and its handling of broken, stale and dirty connections, hold on the quick
way as on peewee's own."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playhouse.pool import MaxConnectionsExceeded

from libdockit.backends.sql.database import open_database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Any]:
    opened = open_database(f"sqlite:///{tmp_path / 'pool.db'}", busy_timeout=0.5, max_connections=2)
    database: Any = opened.db
    database.connect()
    database.execute_sql('CREATE TABLE "t" ("n" INTEGER)')
    database.close()  # one idle connection from now on: later checkouts take the quick way
    yield database
    database.close_all()


def raw(db: Any) -> sqlite3.Connection:
    conn: sqlite3.Connection = db._state.conn
    return conn


def test_a_checked_in_connection_is_reused_and_the_pool_keeps_count(db: Any) -> None:
    db.connect()
    first = raw(db)
    assert len(db._in_use) == 1
    assert db._connections == []
    db.close()
    assert db._in_use == {}
    assert len(db._connections) == 1
    db.connect()
    assert raw(db) is first
    db.close()


def test_the_bound_holds_across_threads(db: Any) -> None:
    db.connect()  # this thread's connection, one of two
    taken = threading.Event()
    release = threading.Event()

    def hold() -> None:
        db.connect()
        taken.set()
        release.wait(10)
        db.close()

    other = threading.Thread(target=hold)
    other.start()
    assert taken.wait(10)
    assert len(db._in_use) == 2  # the bound: a third checkout would have to wait
    with pytest.raises(MaxConnectionsExceeded):
        db._connect()  # the pool's own check of the bound, as a third checkout makes it
    release.set()
    other.join(10)
    db.close()
    assert db._in_use == {}
    assert len(db._connections) == 2


def test_a_broken_idle_connection_is_dropped(db: Any) -> None:
    db.connect()
    broken = raw(db)
    db.close()
    broken.close()  # closed under the pool (as a driver does when the link dies)
    db.connect()
    assert raw(db) is not broken
    assert db.execute_sql("SELECT 1").fetchall() == [(1,)]
    db.close()
    assert broken not in [conn for _, _, conn in db._connections]


def test_a_stale_connection_is_closed_at_checkout_and_at_check_in(db: Any) -> None:
    db.connect()
    old = raw(db)
    db.close()
    db._connections[:] = [(ts - 3600, n, conn) for ts, n, conn in db._connections]
    db.connect()  # the idle one is older than stale_timeout (600 s): closed, a new one
    fresh = raw(db)
    assert fresh is not old
    with pytest.raises(sqlite3.ProgrammingError):
        old.execute("SELECT 1")
    key = id(fresh)
    db._in_use[key] = db._in_use[key]._replace(timestamp=db._in_use[key].timestamp - 3600)
    db.close()  # stale at check-in: closed, not kept
    assert db._connections == []
    assert db._in_use == {}
    with pytest.raises(sqlite3.ProgrammingError):
        fresh.execute("SELECT 1")


def test_an_open_transaction_is_rolled_back_at_check_in(db: Any) -> None:
    db.connect()
    conn = raw(db)
    conn.execute("BEGIN")
    conn.execute('INSERT INTO "t" VALUES (1)')
    db.close()  # peewee saw no transaction of its own: the quick way checks it in
    db.connect()
    assert raw(db) is conn
    assert db.execute_sql('SELECT COUNT(*) FROM "t"').fetchall() == [(0,)]
    db.close()
