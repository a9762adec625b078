"""Schema version 9 on SQLite and PostgreSQL: a version-8 database with audit events of both
kinds upgrades with them counted, and retention's count bound then keeps the newest of each
kind by time, as before."""

from __future__ import annotations

from datetime import timedelta

import peewee as pw

from libdockit.backends.sql import migrations as sql_migrations
from libdockit.backends.sql.backend import SqlBackend
from libdockit.backends.sql.migrations import SchemaRow
from libdockit.backends.sql.models import SCHEMA_VERSION
from libdockit.testing.conformance import make_event
from tests.backends.schema_support import Fresh, build
from tests.backends.test_migrations import T1, new_database

__all__ = ["new_database"]  # the fixture, shared with the other schema tests

MINUTE = timedelta(minutes=1)


def test_version_9_counts_the_events_there_and_keeps_the_bounds(new_database: Fresh) -> None:
    database = new_database()

    def up_to_version_8(db: pw.Database) -> None:
        pw.SchemaManager(SchemaRow, db).create_table()
        for version in range(1, 9):
            sql_migrations.MIGRATIONS[version](db)
        SchemaRow.insert(version=8).execute(db)

    build(database, up_to_version_8)
    # Recorded out of time order, with ties: 6 token events and 3 admin events.
    minutes = {"t.0": 5, "a.0": 1, "t.1": 2, "t.2": 5, "a.1": 0, "t.3": 9, "t.4": 1, "a.2": 3}
    minutes["t.5"] = 2
    for action, minute in minutes.items():
        database.run(
            'INSERT INTO "audit_events" ("at", "kind", "actor", "action") VALUES (?, ?, ?, ?)',
            (
                (T1 + minute * MINUTE).isoformat(" "),
                "admin" if action[0] == "a" else "token",
                "user:root",
                action,
            ),
        )
    with SqlBackend(database.url) as backend:
        assert backend.migrate() == SCHEMA_VERSION == 9
        assert database.run('SELECT "kind", "events" FROM "audit_event_counts" ORDER BY 1') == [
            ("admin", 3),
            ("token", 6),
        ]
        assert backend.prune_events(keep_last=6, kind="token") == 0
        assert backend.prune_events(keep_last=3, kind="token") == 3  # t.4, then t.1 and t.5
        tokens = backend.query_events(kind="token").items
        assert [e.action for e in tokens] == ["t.3", "t.2", "t.0"]
        assert backend.prune_events(keep_last=2, kind="admin") == 1
        assert [e.action for e in backend.query_events(kind="admin").items] == ["a.2", "a.0"]

        backend.record_event(make_event("t.6", kind="token", at=T1))
        backend.record_events([make_event("t.7", kind="token", at=T1 + 7 * MINUTE)])
        assert backend.prune_events(keep_last=3, kind="token") == 2  # t.6 and t.0
        tokens = backend.query_events(kind="token").items
        assert [e.action for e in tokens] == ["t.3", "t.7", "t.2"]
