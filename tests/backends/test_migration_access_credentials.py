"""Schema version 7 on SQLite and PostgreSQL: a version-6 database with users, a group and
a refresh token upgrades with its data, and then keeps robots' and personal access tokens'
hashed secrets, one robot per name enforced by the database itself."""

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
from libdockit.testing.conformance import make_credential
from tests.backends.schema_support import Fresh, build
from tests.backends.test_migrations import T1, at, new_database

__all__ = ["new_database"]  # the fixture, shared with the other schema tests


def test_version_7_keeps_the_data_and_stores_access_credentials(new_database: Fresh) -> None:
    database = new_database()

    def up_to_version_6(db: pw.Database) -> None:
        pw.SchemaManager(SchemaRow, db).create_table()
        for version in range(1, 7):
            sql_migrations.MIGRATIONS[version](db)
        SchemaRow.insert(version=6).execute(db)

    build(database, up_to_version_6)
    stamp = T1.isoformat(" ")
    for name in ("alice", "bob"):
        database.run(
            'INSERT INTO "users" ("username", "password_hash", "enabled", "is_admin",'
            ' "created_at", "updated_at") VALUES (?, ?, ?, ?, ?, ?)',
            (name, "hash-of-" + name, True, False, stamp, stamp),
        )
    database.run(
        'INSERT INTO "groups" ("name", "enabled", "created_at") VALUES (?, ?, ?)',
        ("devs", True, stamp),
    )
    database.run(
        'INSERT INTO "refresh_tokens" ("id", "token_hash", "username", "service", "client_id",'
        ' "created_at") VALUES (?, ?, ?, ?, ?, ?)',
        ("t-old", "hash-old", "alice", "registry.test", "docker", stamp),
    )
    with SqlBackend(database.url) as backend:
        assert backend.migrate() == SCHEMA_VERSION
        assert [u.username for u in backend.list_users().items] == ["alice", "bob"]
        assert backend.get_group("devs").created_at == at()
        kept = backend.find_refresh_token("hash-old")
        assert kept is not None
        assert (kept.username, kept.created_at) == ("alice", at())
        assert backend.list_access_credentials() == Page([], 0)

        pat = make_credential("p1", scopes=("repository:alice/*:pull",))
        robot = make_credential("r1", "group:devs", kind="robot", name="ci")
        for credential in (pat, robot):
            assert backend.add_access_credential(credential) == credential
        assert backend.find_access_credential(pat.secret_hash) == pat

        # The partial unique index, not only the store's own check, keeps robot names apart.
        with pytest.raises((sqlite3.IntegrityError, psycopg2.IntegrityError)):
            database.run(
                'INSERT INTO "access_credentials" ("id", "kind", "name", "owner",'
                ' "owner_source", "secret_hash", "scopes", "created_at", "enabled")'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ("r2", "robot", "ci", "user:bob", "local", "other-hash", "[]", stamp, True),
            )
        with pytest.raises(Conflict):
            backend.add_access_credential(
                make_credential("r3", "user:bob", kind="robot", name="ci")
            )

        backend.delete_user("alice")
        backend.delete_group("devs")
        assert backend.list_access_credentials() == Page([], 0)
        assert backend.get_user("bob").username == "bob"
