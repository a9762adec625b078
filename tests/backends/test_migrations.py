"""Schema versions on SQLite and PostgreSQL: a real version-1 database upgrades with its data,
the frozen steps match what version 1 created, and every path ends where the models are."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import peewee as pw
import pytest

from libdockit.backends.sql import migrations as sql_migrations
from libdockit.backends.sql.backend import SqlBackend
from libdockit.backends.sql.migrations import SchemaRow
from libdockit.backends.sql.models import SCHEMA_VERSION, TABLES
from libdockit.errors import BackendUnavailable
from libdockit.model import AuditEvent, Grant, StoredKey
from libdockit.testing.conformance import make_refresh_token
from tests.backends.schema_support import (
    Database,
    Fresh,
    build,
    postgres_databases,
    schema_of,
    sqlite_databases,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fresh]:
    """Makes empty databases of one dialect (each test runs on both)."""
    if request.param == "sqlite":
        yield sqlite_databases(tmp_path)
        return
    with postgres_databases(request.getfixturevalue("postgres_server")) as make:
        yield make


def test_frozen_version_1_is_what_version_1_created(new_database: Fresh) -> None:
    real = new_database()
    real.create_version_1()
    frozen = new_database()

    def version_1_only(db: pw.Database) -> None:
        pw.SchemaManager(SchemaRow, db).create_table()
        sql_migrations.MIGRATIONS[1](db)

    build(frozen, version_1_only)
    assert schema_of(frozen) == schema_of(real)


def test_every_path_ends_where_the_models_are(new_database: Fresh) -> None:
    from_models = new_database()

    def create_from_models(db: pw.Database) -> None:
        for model in (SchemaRow, *TABLES):
            pw.SchemaManager(model, db).create_all()

    build(from_models, create_from_models)
    fresh, upgraded = new_database(), new_database()
    upgraded.create_version_1()
    for database in (fresh, upgraded):
        with SqlBackend(database.url) as backend:
            assert backend.migrate() == SCHEMA_VERSION
    expected = schema_of(from_models)
    assert {"audit_events", "refresh_tokens", "users"} <= set(expected)
    assert schema_of(fresh) == expected
    assert schema_of(upgraded) == expected


def test_steps_run_once_in_order(new_database: Fresh, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[int] = []

    def recording(version: int) -> Callable[[pw.Database], None]:
        step = sql_migrations.MIGRATIONS[version]

        def run(db: pw.Database) -> None:
            ran.append(version)
            step(db)

        return run

    steps = {version: recording(version) for version in sql_migrations.MIGRATIONS}
    monkeypatch.setattr(sql_migrations, "MIGRATIONS", steps)
    fresh, old = new_database(), new_database()
    old.create_version_1()
    with SqlBackend(fresh.url) as backend:
        backend.migrate()
        assert ran == [1, 2, 3, 4, 5, 6, 7, 8, 9]
        ran.clear()
        backend.migrate()
        assert ran == []
    with SqlBackend(old.url) as backend:
        backend.migrate()
        assert ran == [2, 3, 4, 5, 6, 7, 8, 9]


def test_a_failing_step_leaves_the_database_as_it_was(
    new_database: Fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = new_database()
    database.create_version_1()
    upgrade = sql_migrations.MIGRATIONS[2]

    def half_way(db: pw.Database) -> None:
        upgrade(db)  # every statement of the step runs, then something goes wrong
        raise RuntimeError("interrupted")

    before = schema_of(database)
    monkeypatch.setitem(sql_migrations.MIGRATIONS, 2, half_way)
    with SqlBackend(database.url) as backend, pytest.raises(RuntimeError, match="interrupted"):
        backend.migrate()
    assert schema_of(database) == before
    monkeypatch.undo()
    with SqlBackend(database.url) as backend:
        assert backend.schema_version() == 1
        assert backend.migrate() == SCHEMA_VERSION


T1 = datetime(2029, 6, 1, 12, 30, 15, 250000)  # naive UTC, as version 1 stored times


def at(offset: timedelta = timedelta(0)) -> datetime:
    return (T1 + offset).replace(tzinfo=UTC)


def fill_version_1(database: Database) -> None:
    """What a version-1 Dockit would have written, row by row."""
    stamp = T1.isoformat(" ")
    for name, enabled, admin in (
        ("alice", True, False),
        ("root", True, True),
        ("carol", False, False),
    ):
        database.run(
            'INSERT INTO "users" ("username", "password_hash", "enabled", "is_admin",'
            ' "created_at", "updated_at") VALUES (?, ?, ?, ?, ?, ?)',
            (name, f"hash-of-{name}", enabled, admin, stamp, stamp),
        )
    for name, enabled in (("devs", True), ("old", False)):
        database.run(
            'INSERT INTO "groups" ("name", "enabled", "created_at") VALUES (?, ?, ?)',
            (name, enabled, stamp),
        )
    for user, group in (("alice", "devs"), ("carol", "devs"), ("alice", "old")):
        database.run(
            'INSERT INTO "memberships" ("user_id", "group_id") SELECT u.id, g.id'
            ' FROM "users" u, "groups" g WHERE u.username = ? AND g.name = ?',
            (user, group),
        )
    for subject, pattern, actions in (
        ("user:alice", "alice/*", "pull,push"),
        ("group:devs", "devs/**", "pull"),
        ("anonymous", "public/*", "pull"),
        ("user:carol", "gone/*", "pull"),
    ):
        database.run(
            'INSERT INTO "grants" ("subject", "resource_type", "pattern", "actions",'
            ' "created_at") VALUES (?, ?, ?, ?, ?)',
            (subject, "repository", pattern, actions, stamp),
        )
    database.run('DELETE FROM "grants" WHERE "pattern" = \'gone/*\'')  # id 4 is used up
    for key in KEYS:
        database.run(
            'INSERT INTO "signing_keys" ("kid", "algorithm", "private_key_pem",'
            ' "certificate_chain_pem", "state", "created_at", "not_after", "activated_at",'
            ' "retired_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
            (
                key.kid,
                key.algorithm,
                key.private_key_pem,
                key.certificate_chain_pem,
                key.state,
                *(
                    None if t is None else t.replace(tzinfo=None).isoformat(" ")
                    for t in (key.created_at, key.not_after, key.activated_at, key.retired_at)
                ),
            ),
        )


KEYS = [
    StoredKey(
        "kid-old",
        "ES256",
        b"-----BEGIN PRIVATE KEY-----\nold\x00\xff\n",
        b"-----BEGIN CERTIFICATE-----\nold\n",
        "retired",
        at(),
        at(timedelta(days=365)),
        at(timedelta(hours=1)),
        at(timedelta(days=30)),
    ),
    StoredKey(
        "kid-new",
        "RS256",
        b"-----BEGIN PRIVATE KEY-----\nnew\n",
        b"-----BEGIN CERTIFICATE-----\nnew\n",
        "active",
        at(timedelta(days=29)),
        at(timedelta(days=400)),
        at(timedelta(days=30)),
    ),
]


def test_a_version_1_database_upgrades_with_its_data(new_database: Fresh) -> None:
    database = new_database()
    database.create_version_1()
    fill_version_1(database)
    with SqlBackend(database.url) as backend:
        assert backend.schema_version() == 1
        with pytest.raises(BackendUnavailable, match="schema version 1"):
            backend.get_user("alice")
        assert backend.migrate() == SCHEMA_VERSION
        assert backend.schema_version() == SCHEMA_VERSION

        # Everything version 1 stored is there, as it was.
        users = backend.list_users()
        assert [(u.username, u.enabled, u.is_admin, u.groups) for u in users.items] == [
            ("alice", True, False, ("devs", "old")),
            ("carol", False, False, ("devs",)),
            ("root", True, True, ()),
        ]
        assert {(u.created_at, u.updated_at) for u in users.items} == {(at(), at())}
        credentials = backend.get_credentials("alice")
        assert credentials is not None
        assert credentials[1] == "hash-of-alice"
        assert backend.get_group("devs").members == ("alice", "carol")
        assert backend.get_group("old").enabled is False
        assert backend.groups_for("alice") == ("devs",)
        assert backend.list_grants().items == [
            Grant("user:alice", "repository", "alice/*", ("pull", "push"), 1, at()),
            Grant("group:devs", "repository", "devs/**", ("pull",), 2, at()),
            Grant("anonymous", "repository", "public/*", ("pull",), 3, at()),
        ]
        assert backend.list_keys() == KEYS
        new_grant = backend.add_grant(Grant("user:root", "repository", "x/*", ("*",)))
        assert new_grant.id == 5  # 4 was handed out by version 1: never again
        assert database.run('SELECT DISTINCT "credential_version" FROM "users"') == [(0,)]

        # The new features work on the old rows.
        versions = {name: backend.credential_version(name) for name in ("alice", "carol")}
        assert None not in versions.values()
        assert versions["alice"] != versions["carol"]
        backend.set_password_hash("alice", "new-hash")
        assert backend.credential_version("alice") == (versions["alice"] or 0) + 1
        token = make_refresh_token("t1", "alice", created_at=at())
        backend.add_refresh_token(token)
        assert backend.find_refresh_token(token.token_hash) == token
        recorded = backend.record_event(
            AuditEvent("admin", "user:root", "user.delete", "user:alice", before={"n": "é"})
        )
        backend.delete_user("alice")  # the foreign key from the new table cascades
        assert backend.find_refresh_token(token.token_hash) is None
        assert backend.credential_version("alice") is None
        assert backend.get_group("devs").members == ("carol",)
        assert backend.query_events().items == [recorded]


def test_version_5_keeps_refresh_tokens_and_lets_directory_users_hold_them(
    new_database: Fresh,
) -> None:
    """A version-4 database with a local user's token: after step 5 the token is there as a
    ``local`` one, a directory user (no local row) can hold one, and deleting the local user
    takes only the local user's tokens."""
    database = new_database()

    def up_to_version_4(db: pw.Database) -> None:
        pw.SchemaManager(SchemaRow, db).create_table()
        for version in range(1, 5):
            sql_migrations.MIGRATIONS[version](db)
        SchemaRow.insert(version=4).execute(db)

    build(database, up_to_version_4)
    stamp = T1.isoformat(" ")
    database.run(
        'INSERT INTO "users" ("username", "password_hash", "enabled", "is_admin",'
        ' "created_at", "updated_at") VALUES (?, ?, ?, ?, ?, ?)',
        ("alice", "hash-of-alice", True, False, stamp, stamp),
    )
    database.run(
        'INSERT INTO "refresh_tokens" ("id", "token_hash", "username", "service", "client_id",'
        ' "created_at") VALUES (?, ?, ?, ?, ?, ?)',
        ("t-old", "hash-old", "alice", "registry.test", "docker", stamp),
    )
    with SqlBackend(database.url) as backend:
        assert backend.migrate() == SCHEMA_VERSION
        kept = backend.find_refresh_token("hash-old")
        assert kept is not None
        assert (kept.id, kept.username, kept.source, kept.created_at) == (
            "t-old",
            "alice",
            "local",
            at(),
        )
        directory = make_refresh_token("t-dir", username="dora", source="ldap")
        backend.add_refresh_token(directory)
        namesake = make_refresh_token("t-alice-dir", username="alice", source="ldap")
        backend.add_refresh_token(namesake)
        backend.delete_user("alice")
        remaining = [t.id for t in backend.list_refresh_tokens().items]
        assert sorted(remaining) == ["t-alice-dir", "t-dir"]


def test_version_6_keeps_failed_login_counters_and_remembers_wrong_secrets(
    new_database: Fresh,
) -> None:
    """A version-5 database with counters (one blocked): after step 6 they count and block
    as before, and a wrong secret sent again counts once."""
    database = new_database()

    def up_to_version_5(db: pw.Database) -> None:
        pw.SchemaManager(SchemaRow, db).create_table()
        for version in range(1, 6):
            sql_migrations.MIGRATIONS[version](db)
        SchemaRow.insert(version=5).execute(db)

    build(database, up_to_version_5)
    for key, failures, blocked in (("user:alice", 2, None), ("client:10.0.0.1", 5, T1)):
        database.run(
            'INSERT INTO "login_failures" ("key", "failures", "window_start", "blocked_until")'
            " VALUES (?, ?, ?, ?)",
            (key, failures, T1.isoformat(" "), None if blocked is None else blocked.isoformat(" ")),
        )
    window, second = timedelta(minutes=15), timedelta(seconds=1)

    def never(failures: int) -> timedelta | None:
        return None

    with SqlBackend(database.url) as backend:
        assert backend.migrate() == SCHEMA_VERSION
        assert sorted(
            (f.key, f.failures, f.blocked_until)
            for f in backend.login_failures(["user:alice", "client:10.0.0.1"])
        ) == [("client:10.0.0.1", 5, at()), ("user:alice", 2, None)]
        refused = backend.reserve_login_attempt(
            ["user:alice", "client:10.0.0.1"], at=at(-second), window=window, backoff=never
        )
        assert refused.blocked_until == at()
        first = backend.reserve_login_attempt(
            ["user:alice"],
            at=at(),
            window=window,
            backoff=never,
            fingerprint="fp",
            repeat_within=timedelta(seconds=60),
        )
        assert [c.failures for c in first.counted] == [3]
        backend.confirm_login_failure(first, at=at())
        again = backend.reserve_login_attempt(
            ["user:alice"],
            at=at(second),
            window=window,
            backoff=never,
            fingerprint="fp",
            repeat_within=timedelta(seconds=60),
        )
        assert again.known_wrong
        assert [f.failures for f in backend.login_failures(["user:alice"])] == [3]
