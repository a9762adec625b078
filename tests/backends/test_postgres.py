"""The SQL backend on a real PostgreSQL 15: the shared suite plus server failures."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2
import pytest

from libdockit.backends.sql.backend import SqlBackend
from libdockit.backends.sql.database import open_database
from libdockit.backends.sql.models import SCHEMA_VERSION
from libdockit.errors import BackendUnavailable, ConfigError
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
