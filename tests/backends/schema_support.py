"""Databases for the migration tests: version 1's DDL as it was sent, fresh SQLite and
PostgreSQL databases reachable three ways, and a comparable description of a schema.

The version-1 DDL below is what Dockit's version-1 ``migrate()`` sent (captured from its query
log), kept independently of :mod:`libdockit.backends.sql.migrations`'s frozen copy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee as pw

from tests.support.postgres import SUPERUSER, PostgresServer
from tests.support.procs import LOOPBACK

Row = tuple[Any, ...]
Fresh = Callable[[], "Database"]  # makes another empty database of the same dialect

V1_DDL = (
    'CREATE TABLE "dockit_schema" ("id" {plain_id} NOT NULL PRIMARY KEY,'
    ' "version" INTEGER NOT NULL)',
    'CREATE TABLE "users" ("id" {id}, "username" TEXT NOT NULL, "password_hash" TEXT NOT NULL,'
    ' "enabled" {bool} NOT NULL, "is_admin" {bool} NOT NULL, "created_at" {ts} NOT NULL,'
    ' "updated_at" {ts} NOT NULL)',
    'CREATE UNIQUE INDEX "users_username" ON "users" ("username")',
    'CREATE TABLE "groups" ("id" {id}, "name" TEXT NOT NULL, "enabled" {bool} NOT NULL,'
    ' "created_at" {ts} NOT NULL)',
    'CREATE UNIQUE INDEX "groups_name" ON "groups" ("name")',
    'CREATE TABLE "memberships" ("id" {id}, "user_id" INTEGER NOT NULL,'
    ' "group_id" INTEGER NOT NULL,'
    ' FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("group_id") REFERENCES "groups" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "memberships_user_id" ON "memberships" ("user_id")',
    'CREATE INDEX "memberships_group_id" ON "memberships" ("group_id")',
    'CREATE UNIQUE INDEX "memberships_user_id_group_id" ON "memberships" ("user_id", "group_id")',
    'CREATE TABLE "grants" ("id" {id}, "subject" TEXT NOT NULL, "resource_type" TEXT NOT NULL,'
    ' "pattern" TEXT NOT NULL, "actions" TEXT NOT NULL, "created_at" {ts} NOT NULL)',
    'CREATE UNIQUE INDEX "grants_subject_resource_type_pattern"'
    ' ON "grants" ("subject", "resource_type", "pattern")',
    'CREATE TABLE "signing_keys" ("kid" TEXT NOT NULL PRIMARY KEY, "algorithm" TEXT NOT NULL,'
    ' "private_key_pem" {blob} NOT NULL, "certificate_chain_pem" {blob} NOT NULL,'
    ' "state" TEXT NOT NULL, "created_at" {ts} NOT NULL, "not_after" {ts} NOT NULL,'
    ' "activated_at" {ts}, "retired_at" {ts})',
    'CREATE UNIQUE INDEX "one_active_key" ON "signing_keys" ("state") WHERE ("state" = \'active\')',
    'INSERT INTO "dockit_schema" ("version") VALUES (1)',
)
V1_TYPES = {
    "sqlite": {
        "plain_id": "INTEGER",
        "id": "INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT",
        "bool": "INTEGER",
        "ts": "DATETIME",
        "blob": "BLOB",
    },
    "postgres": {
        "plain_id": "SERIAL",
        "id": "SERIAL NOT NULL PRIMARY KEY",
        "bool": "BOOLEAN",
        "ts": "TIMESTAMP",
        "blob": "BYTEA",
    },
}


@dataclass
class Database:
    """One empty database, reachable by the backend (``url``), raw SQL and peewee."""

    dialect: str
    url: str
    _connect: Callable[[], Any]
    _peewee: Callable[[], pw.Database]

    def run(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement behind the backend's back; ``?`` placeholders in both dialects."""
        if self.dialect == "postgres":
            statement = statement.replace("?", "%s")
        with closing(self._connect()) as conn:
            cursor = conn.cursor()
            try:
                cursor.execute(statement, tuple(params))
                rows = cursor.fetchall() if cursor.description else []
            finally:
                cursor.close()
            conn.commit()
        return [tuple(row) for row in rows]

    def create_version_1(self) -> None:
        for statement in V1_DDL:
            self.run(statement.format(**V1_TYPES[self.dialect]))

    def peewee(self) -> pw.Database:
        return self._peewee()


def sqlite_databases(directory: Path) -> Fresh:
    counter = iter(range(1_000_000))

    def make() -> Database:
        path = directory / f"db{next(counter)}.sqlite"
        return Database(
            "sqlite",
            f"sqlite:///{path}",
            lambda: sqlite3.connect(path),
            lambda: pw.SqliteDatabase(str(path), pragmas={"foreign_keys": 1}),
        )

    return make


@contextmanager
def postgres_databases(server: PostgresServer) -> Iterator[Fresh]:
    """Databases on ``server``, dropped when the block ends."""
    import psycopg2

    names: list[str] = []

    def make() -> Database:
        name = server.create_database()
        names.append(name)
        params: dict[str, Any] = {"user": SUPERUSER, "host": LOOPBACK, "port": server.port}
        return Database(
            "postgres",
            server.url_for(name),
            lambda: psycopg2.connect(dbname=name, **params),
            lambda: pw.PostgresqlDatabase(name, **params),
        )

    try:
        yield make
    finally:
        for name in names:
            server.drop_database(name)


def schema_of(database: Database) -> dict[str, Any]:
    """Tables, columns, indexes and foreign keys (with their ON DELETE), comparably."""
    db = database.peewee()
    db.connect()
    try:
        schema: dict[str, Any] = {}
        for table in sorted(t for t in db.get_tables() if not t.startswith("sqlite_")):
            columns = sorted(
                (c.name, c.data_type.lower(), c.null, c.primary_key, c.default)
                for c in db.get_columns(table)
            )
            indexes = sorted(
                (i.name, tuple(i.columns), i.unique, i.sql) for i in db.get_indexes(table)
            )
            schema[table] = (columns, indexes, on_delete_rules(database, table))
            if database.dialect == "sqlite":  # ids never reused: not in the column metadata
                (create,) = database.run("SELECT sql FROM sqlite_master WHERE name = ?", (table,))
                schema[table] += ("AUTOINCREMENT" in create[0],)
        return schema
    finally:
        db.close()


def on_delete_rules(database: Database, table: str) -> list[Row]:
    if database.dialect == "sqlite":
        rows = database.run(f'PRAGMA foreign_key_list("{table}")')
        return sorted((row[3], row[2], row[4], row[6]) for row in rows)
    return sorted(
        database.run(
            "SELECT kcu.column_name, ccu.table_name, ccu.column_name, rc.delete_rule"
            " FROM information_schema.referential_constraints rc"
            " JOIN information_schema.key_column_usage kcu"
            "  ON kcu.constraint_name = rc.constraint_name"
            " JOIN information_schema.constraint_column_usage ccu"
            "  ON ccu.constraint_name = rc.constraint_name"
            " WHERE kcu.table_name = ?",
            (table,),
        )
    )


def build(database: Database, step: Callable[[pw.Database], None]) -> None:
    db = database.peewee()
    db.connect()
    try:
        with db.atomic():
            step(db)
    finally:
        db.close()
