"""A fresh, migrated store of each kind the library ships (memory, a SQLite file, a database
on the test PostgreSQL), for tests that run the same checks on all of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.backends.sql.backend import SqlBackend
from tests.support.postgres import PostgresServer

Backend = MemoryBackend | SqlBackend

#: ``@pytest.fixture(params=STORE_KINDS)``: PostgreSQL is marked, as its other tests are.
STORE_KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def fresh_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """An empty store of ``kind``, closed (and its PostgreSQL database dropped) afterwards."""
    if kind == "memory":
        yield MemoryBackend()
        return
    server: PostgresServer | None = None
    database = None
    if kind == "sqlite":
        backend = SqlBackend(f"sqlite:///{tmp_path / 'dockit.db'}")
    else:
        server = request.getfixturevalue("postgres_server")
        database = server.create_database()
        backend = SqlBackend(server.url_for(database))
    try:
        backend.migrate()
        yield backend
    finally:
        backend.close()
        if server is not None and database is not None:
            server.drop_database(database)
