"""The SQL backend on a real PostgreSQL 15: the shared suite plus server failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from libdockit.backends.sql.backend import SqlBackend
from libdockit.backends.sql.database import open_database
from libdockit.backends.sql.models import SCHEMA_VERSION
from libdockit.errors import BackendUnavailable, ConfigError
from libdockit.model import LoginReservation
from libdockit.testing.conformance import BackendConformance
from tests.backends.held_login import HeldLoginReads
from tests.support.postgres import TEST_PASSWORD, PostgresServer
from tests.support.procs import LOOPBACK, free_port

pytestmark = pytest.mark.postgres


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database with a linguistic (ICU en-US) collation, dropped afterwards."""
    name = postgres_server.create_database(icu_locale="en-US")
    yield name
    postgres_server.drop_database(name)


@pytest.fixture
def pg_backend(postgres_server: PostgresServer, database: str) -> Iterator[SqlBackend]:
    backend = SqlBackend(postgres_server.url_for(database))
    backend.migrate()
    yield backend
    backend.close()


class TestPostgresBackend(BackendConformance):
    @pytest.fixture
    def backend(self, pg_backend: SqlBackend) -> SqlBackend:
        return pg_backend

    @pytest.fixture
    def other_handle(self, postgres_server: PostgresServer, database: str) -> Iterator[SqlBackend]:
        """The same database opened again, as another Dockit instance would."""
        with SqlBackend(postgres_server.url_for(database)) as other:
            yield other


class TestPostgresHeldLogin(HeldLoginReads):
    @pytest.fixture
    def sql_backend(self, pg_backend: SqlBackend) -> SqlBackend:
        return pg_backend

    @pytest.fixture
    def other_sql_handle(
        self, postgres_server: PostgresServer, database: str
    ) -> Iterator[SqlBackend]:
        with SqlBackend(postgres_server.url_for(database)) as other:
            yield other


def run_sql(server: PostgresServer, database: str, statement: str) -> None:
    conn = psycopg2.connect(dbname=database, user="postgres", host=LOOPBACK, port=server.port)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()


def test_migrate_twice_is_idempotent(
    pg_backend: SqlBackend, postgres_server: PostgresServer, database: str
) -> None:
    pg_backend.create_user("alice", "h")
    assert pg_backend.migrate() == SCHEMA_VERSION
    with SqlBackend(postgres_server.url_for(database)) as again:
        assert again.migrate() == SCHEMA_VERSION
        assert again.schema_version() == SCHEMA_VERSION
        assert [u.username for u in again.list_users().items] == ["alice"]


def test_newer_schema_is_config_error(
    pg_backend: SqlBackend, postgres_server: PostgresServer, database: str
) -> None:
    run_sql(postgres_server, database, f"UPDATE dockit_schema SET version = {SCHEMA_VERSION + 1}")
    with SqlBackend(postgres_server.url_for(database)) as backend:
        with pytest.raises(ConfigError, match="newer than this Dockit"):
            backend.migrate()
        assert backend.schema_version() == SCHEMA_VERSION + 1


def test_server_stopped_is_unavailable_without_the_password(
    pg_backend: SqlBackend, postgres_server: PostgresServer
) -> None:
    pg_backend.create_user("alice", "h")  # a pooled connection is now open and idle
    postgres_server.stop()
    try:
        for call in (pg_backend.ping, lambda: pg_backend.get_user("alice")):
            with pytest.raises(BackendUnavailable) as caught:
                call()
            assert TEST_PASSWORD not in str(caught.value)
            assert TEST_PASSWORD not in repr(caught.value)
            assert "***" in str(caught.value)
        assert TEST_PASSWORD not in repr(pg_backend)
    finally:
        postgres_server.start()
    # Dead pooled connections are dropped, so the backend recovers on its own.
    assert pg_backend.get_user("alice").username == "alice"


def test_nothing_listening_is_unavailable() -> None:
    url = f"postgresql://dockit:{TEST_PASSWORD}@{LOOPBACK}:{free_port()}/dockit"
    with SqlBackend(url) as backend:
        with pytest.raises(BackendUnavailable, match="Connection refused") as caught:
            backend.migrate()
        assert TEST_PASSWORD not in str(caught.value)


def test_missing_database_is_unavailable(postgres_server: PostgresServer) -> None:
    backend = SqlBackend(postgres_server.url_for("no_such_database"))
    with backend, pytest.raises(BackendUnavailable, match="no_such_database"):
        backend.ping()


def test_password_with_special_characters_is_decoded_and_hidden(
    postgres_server: PostgresServer, database: str
) -> None:
    secret = "p@ss:w/rd%"
    encoded = "p%40ss%3Aw%2Frd%25"
    url = postgres_server.url_for(database, password=encoded)
    opened = open_database(url, busy_timeout=1.0, max_connections=1)
    assert opened.password == secret
    assert opened.db.connect_params["password"] == secret
    assert opened.db.connect_params["port"] == postgres_server.port
    assert secret not in opened.safe_url
    assert encoded not in opened.safe_url
    with SqlBackend(url) as backend:
        assert backend.migrate() == SCHEMA_VERSION  # the URL's parts reached the server
        assert secret not in repr(backend)
        assert encoded not in repr(backend)


# -- a reservation racing another attempt that makes the same counter --------------------------
_WINDOW = timedelta(minutes=15)
_T0 = datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def _from_third(failures: int) -> timedelta | None:
    return None if failures < 3 else timedelta(seconds=1)


@contextmanager
def _uncommitted_counter(
    server: PostgresServer, database: str, failures: int, blocked_until: datetime | None
) -> Iterator[Callable[[], None]]:
    """A counter for ``user:x`` made in another connection's open transaction (as a
    concurrent attempt makes one); the block gives a function that waits until a statement
    of another session waits for that row's lock, then commits."""
    conn = psycopg2.connect(dbname=database, user="postgres", host=LOOPBACK, port=server.port)
    cursor = conn.cursor()

    def commit_once_waited_on() -> None:
        for _ in range(500):  # at most ~5 s
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("no statement waited for the uncommitted counter")
        conn.commit()

    try:
        cursor.execute(
            'INSERT INTO "login_failures" ("key", "failures", "window_start", "blocked_until", '
            '"checking") VALUES (%s, %s, %s, %s, 0)',
            ("user:x", failures, _T0.replace(tzinfo=None), blocked_until),
        )
        yield commit_once_waited_on
    finally:
        conn.close()


def _stored_keys(server: PostgresServer, database: str) -> list[str]:
    """Every counter's key, idle ones too (a lookup leaves those out)."""
    conn = psycopg2.connect(dbname=database, user="postgres", host=LOOPBACK, port=server.port)
    try:
        with conn.cursor() as cursor:
            cursor.execute('SELECT "key" FROM "login_failures" ORDER BY "key"')
            return [key for (key,) in cursor.fetchall()]
    finally:
        conn.close()


def _reserve_while(
    backend: SqlBackend, commit_once_waited_on: Callable[[], None]
) -> LoginReservation:
    with ThreadPoolExecutor(max_workers=1) as pool:
        reserving = pool.submit(
            backend.reserve_login_attempt,
            ["user:x", "client:new"],
            at=_T0,
            window=_WINDOW,
            backoff=_from_third,
        )
        commit_once_waited_on()
        return reserving.result(timeout=10)


def test_a_counter_made_meanwhile_by_another_attempt_counts_this_one_too(
    pg_backend: SqlBackend, postgres_server: PostgresServer, database: str
) -> None:
    """Neither counter existed when the reservation read them; another attempt made the
    user's (with one failure) before this one's INSERT could: it is read under the lock and
    counted on, not lost or counted from zero."""
    with _uncommitted_counter(postgres_server, database, 1, None) as commit:
        done = _reserve_while(pg_backend, commit)
    assert [(c.key, c.failures, c.checking) for c in done.counted] == [
        ("user:x", 2, 1),
        ("client:new", 1, 1),
    ]
    found = {c.key: c.failures for c in pg_backend.login_failures(["user:x", "client:new"])}
    assert found == {"user:x": 2, "client:new": 1}


def test_a_counter_blocked_meanwhile_by_another_attempt_refuses_and_leaves_no_rows(
    pg_backend: SqlBackend, postgres_server: PostgresServer, database: str
) -> None:
    until = _T0 + timedelta(minutes=5)
    with _uncommitted_counter(postgres_server, database, 3, until.replace(tzinfo=None)) as commit:
        done = _reserve_while(pg_backend, commit)
    assert (done.blocked_until, done.counted) == (until, ())
    assert [c.failures for c in pg_backend.login_failures(["user:x"])] == [3]
    assert _stored_keys(postgres_server, database) == ["user:x"]  # the row it made is gone


def test_a_counter_that_keeps_vanishing_is_a_503_and_counts_nothing(
    pg_backend: SqlBackend,
    postgres_server: PostgresServer,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between the INSERT that finds a counter made by another attempt and the locked read
    of it, a third may remove it (a successful login clears the user's): the reservation
    makes it again, a few rounds at most, then answers 503 and leaves nothing half-counted.
    Here the locked reads never see the committed counter, as if that race won every round."""
    pg_backend.record_login_failure("user:x", at=_T0, window=_WINDOW, backoff=_from_third)
    monkeypatch.setattr(pg_backend, "_locked", lambda cursor, keys: {})
    with pytest.raises(BackendUnavailable):
        pg_backend.reserve_login_attempt(
            ["user:x", "client:new"], at=_T0, window=_WINDOW, backoff=_from_third
        )
    monkeypatch.undo()
    found = {c.key: c.failures for c in pg_backend.login_failures(["user:x", "client:new"])}
    assert found == {"user:x": 1}
    assert _stored_keys(postgres_server, database) == ["user:x"]  # the new one rolled back
