"""Shared fixtures. Append new fixtures; keep each one small and its service real."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import PostgresServer, postgres_cluster

# The shared backend suite lives in the library; rewrite its asserts for readable failures.
pytest.register_assert_rewrite(
    "libdockit.testing.conformance", "libdockit.testing.auth_conformance"
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL 15 on a free loopback port for the whole session."""
    with postgres_cluster() as server:
        yield server
