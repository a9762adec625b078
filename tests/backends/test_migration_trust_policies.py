"""Schema version 8 on SQLite and PostgreSQL: a version-7 database with users, a grant and
a robot upgrades with its data, and then keeps trust policies, one per name enforced by the
database itself."""

from __future__ import annotations

import sqlite3

import peewee as pw
import psycopg2
import pytest

from libdockit.backends.sql import migrations as sql_migrations
from libdockit.backends.sql.backend import SqlBackend
from libdockit.backends.sql.migrations import SchemaRow
from libdockit.backends.sql.models import SCHEMA_VERSION
from libdockit.errors import Conflict
from libdockit.model import Page
from libdockit.testing.conformance import full_trust_policy, make_trust_policy
from tests.backends.schema_support import Fresh, build
from tests.backends.test_migrations import T1, new_database

__all__ = ["new_database"]  # the fixture, shared with the other schema tests


def test_version_8_keeps_the_data_and_stores_trust_policies(new_database: Fresh) -> None:
    database = new_database()

    def up_to_version_7(db: pw.Database) -> None:
        pw.SchemaManager(SchemaRow, db).create_table()
        for version in range(1, 8):
            sql_migrations.MIGRATIONS[version](db)
        SchemaRow.insert(version=7).execute(db)

    build(database, up_to_version_7)
    stamp = T1.isoformat(" ")
    database.run(
        'INSERT INTO "users" ("username", "password_hash", "enabled", "is_admin",'
        ' "created_at", "updated_at") VALUES (?, ?, ?, ?, ?, ?)',
        ("alice", "hash-of-alice", True, False, stamp, stamp),
    )
    database.run(
        'INSERT INTO "grants" ("subject", "resource_type", "pattern", "actions", "created_at")'
        " VALUES (?, ?, ?, ?, ?)",
        ("user:alice", "repository", "alice/*", '["push"]', stamp),
    )
    database.run(
        'INSERT INTO "access_credentials" ("id", "kind", "name", "owner", "owner_source",'
        ' "secret_hash", "scopes", "created_at", "enabled") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ("r1", "robot", "ci", "user:alice", "local", "hash-r1", "[]", stamp, True),
    )
    with SqlBackend(database.url) as backend:
        assert backend.migrate() == SCHEMA_VERSION
        assert [u.username for u in backend.list_users().items] == ["alice"]
        assert [g.pattern for g in backend.grants_for_subjects(["user:alice"])] == ["alice/*"]
        robot = backend.find_access_credential("hash-r1")
        assert robot is not None
        assert robot.name == "ci"
        assert backend.list_trust_policies() == Page([], 0)

        before = backend.trust_policy_version()
        policy = full_trust_policy()
        backend.add_trust_policy(policy)
        assert backend.get_trust_policy("github") == policy
        assert backend.get_trust_policy("github").static_jwks == policy.static_jwks
        assert backend.trust_policy_version() != before

        # The primary key, not only the store's own check, keeps names apart.
        with pytest.raises((sqlite3.IntegrityError, psycopg2.IntegrityError)):
            database.run(
                'INSERT INTO "trust_policies" ("name", "issuer", "document") VALUES (?, ?, ?)',
                ("github", "https://other.test", "{}"),
            )
        with pytest.raises(Conflict):
            backend.add_trust_policy(make_trust_policy("github"))
