"""The SQL backend on SQLite files: the shared suite plus SQLite-specific behaviour."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from libdockit.backends.sql.access_credentials import _FIND_BY_HASH
from libdockit.backends.sql.backend import SqlBackend
from libdockit.backends.sql.models import SCHEMA_VERSION
from libdockit.backends.sql.records import ACCESS_CREDENTIAL_COLUMNS, time_from_column
from libdockit.errors import BackendUnavailable, ConfigError
from libdockit.model import AuditEvent, Grant
from libdockit.testing.conformance import T0, BackendConformance, make_key
from tests.backends.held_login import HeldLoginReads
from tests.backends.statement_log import StatementLog

WINDOW = timedelta(minutes=15)


def url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_backend(db_path: Path) -> Iterator[SqlBackend]:
    backend = SqlBackend(url(db_path))
    backend.migrate()
    yield backend
    backend.close()


def raw(path: Path) -> closing[sqlite3.Connection]:
    """A plain sqlite3 connection to look behind the backend's back."""
    return closing(sqlite3.connect(path, isolation_level=None))


class TestSqliteBackend(BackendConformance):
    @pytest.fixture
    def backend(self, sqlite_backend: SqlBackend) -> SqlBackend:
        return sqlite_backend

    @pytest.fixture
    def other_handle(self, db_path: Path) -> Iterator[SqlBackend]:
        """The same file opened again, as another worker process would."""
        with SqlBackend(url(db_path)) as other:
            yield other


class TestSqliteHeldLogin(HeldLoginReads):
    @pytest.fixture
    def sql_backend(self, sqlite_backend: SqlBackend) -> SqlBackend:
        return sqlite_backend

    @pytest.fixture
    def other_sql_handle(self, db_path: Path) -> Iterator[SqlBackend]:
        with SqlBackend(url(db_path)) as other:
            yield other


class TestSqliteInMemoryBackend(BackendConformance):
    """``sqlite:///:memory:``: one shared connection that threads take turns with."""

    @pytest.fixture
    def backend(self) -> Iterator[SqlBackend]:
        with SqlBackend("sqlite:///:memory:") as backend:
            backend.migrate()
            yield backend


def test_wal_mode_and_foreign_keys(sqlite_backend: SqlBackend, db_path: Path) -> None:
    sqlite_backend.create_user("alice", "h")
    sqlite_backend.create_group("devs")
    sqlite_backend.add_member("devs", "alice")
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT COUNT(*) FROM memberships").fetchone() == (1,)
    sqlite_backend.delete_user("alice")
    # The membership row itself is gone: the foreign key cascaded, so the pragma was on.
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM memberships").fetchone() == (0,)
    sqlite_backend.create_user("bob", "h")
    sqlite_backend.add_member("devs", "bob")
    sqlite_backend.delete_group("devs")
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM memberships").fetchone() == (0,)


def test_migrate_twice_is_idempotent(sqlite_backend: SqlBackend, db_path: Path) -> None:
    sqlite_backend.create_user("alice", "h")
    assert sqlite_backend.migrate() == SCHEMA_VERSION
    with SqlBackend(url(db_path)) as again:
        assert again.migrate() == SCHEMA_VERSION
        assert again.schema_version() == SCHEMA_VERSION
        assert [u.username for u in again.list_users().items] == ["alice"]
    with raw(db_path) as conn:
        assert conn.execute("SELECT version FROM dockit_schema").fetchall() == [(SCHEMA_VERSION,)]


def test_fresh_database_has_no_schema(db_path: Path) -> None:
    with SqlBackend(url(db_path)) as backend:
        assert backend.schema_version() == 0
        assert backend.migrate() == SCHEMA_VERSION
        assert backend.schema_version() == SCHEMA_VERSION


def test_newer_schema_is_config_error(sqlite_backend: SqlBackend, db_path: Path) -> None:
    with raw(db_path) as conn:
        conn.execute("UPDATE dockit_schema SET version = ?", (SCHEMA_VERSION + 1,))
    with SqlBackend(url(db_path)) as backend:
        assert backend.schema_version() == SCHEMA_VERSION + 1
        with pytest.raises(ConfigError, match="newer than this Dockit") as caught:
            backend.migrate()
        assert caught.value.key == "database.url"
    with raw(db_path) as conn:  # nothing was changed
        assert conn.execute("SELECT version FROM dockit_schema").fetchall() == [
            (SCHEMA_VERSION + 1,)
        ]


def test_one_active_key_is_enforced_by_the_database(
    sqlite_backend: SqlBackend, db_path: Path
) -> None:
    sqlite_backend.add_key(make_key("a", "active", activated_at=T0))
    with raw(db_path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO signing_keys (kid, algorithm, private_key_pem, certificate_chain_pem,"
            " state, created_at, not_after) VALUES ('b', 'ES256', x'00', x'00', 'active',"
            " '2030-01-01 00:00:00', '2031-01-01 00:00:00')"
        )


def test_unopenable_database_is_unavailable(tmp_path: Path) -> None:
    for target in (tmp_path, tmp_path / "missing-dir" / "dockit.db"):
        with SqlBackend(url(target)) as backend:
            with pytest.raises(BackendUnavailable, match="unable to open database"):
                backend.ping()
            with pytest.raises(BackendUnavailable):
                backend.migrate()


def test_locked_beyond_busy_timeout_is_unavailable(
    sqlite_backend: SqlBackend, db_path: Path
) -> None:
    sqlite_backend.create_user("alice", "h")
    with SqlBackend(url(db_path), busy_timeout=0.2) as impatient, raw(db_path) as conn:
        conn.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(BackendUnavailable, match="locked"):
                impatient.create_user("bob", "h")
            assert impatient.get_user("alice").username == "alice"  # WAL: readers go on
        finally:
            conn.execute("ROLLBACK")
        impatient.create_user("bob", "h")
    assert sqlite_backend.get_user("bob").username == "bob"


def test_writer_waits_for_a_short_lock(sqlite_backend: SqlBackend, db_path: Path) -> None:
    with closing(sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.3, lambda: conn.execute("ROLLBACK"))
        release.start()
        try:
            sqlite_backend.create_user("alice", "h")  # waits on busy_timeout, then succeeds
        finally:
            release.join()
    assert sqlite_backend.get_user("alice").username == "alice"


def test_data_persists_and_backends_do_not_share(tmp_path: Path) -> None:
    first, second = tmp_path / "one.db", tmp_path / "two.db"
    with SqlBackend(url(first)) as one, SqlBackend(url(second)) as two:
        one.migrate()
        two.migrate()
        one.create_user("alice", "h")
        two.create_user("bob", "h")
        assert [u.username for u in one.list_users().items] == ["alice"]
        assert [u.username for u in two.list_users().items] == ["bob"]
    with SqlBackend(url(first)) as reopened:
        assert reopened.get_user("alice").username == "alice"


def test_in_memory_database_is_shared_by_threads() -> None:
    with SqlBackend("sqlite:///:memory:") as backend:
        backend.migrate()
        thread = threading.Thread(target=backend.create_user, args=("alice", "h"))
        thread.start()
        thread.join()
        assert backend.get_user("alice").username == "alice"


@pytest.mark.parametrize(
    "bad",
    ["sqlite://", "sqlite:///", "sqlite://host/x.db", "mysql://u:p@h/db", "dockit.db", ""],
)
def test_bad_url_is_config_error(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SqlBackend(bad)
    assert caught.value.key == "database.url"


def test_unmigrated_database_is_unavailable_until_migrated(db_path: Path) -> None:
    with SqlBackend(url(db_path)) as backend:
        with pytest.raises(BackendUnavailable, match=r"schema version 0.*migrat"):
            backend.create_user("alice", "h")
        with pytest.raises(BackendUnavailable, match="migrat"):
            backend.ping()
        backend.migrate()
        backend.create_user("alice", "h")
        backend.ping()
        assert backend.get_user("alice").username == "alice"


def test_audit_json_is_stored_as_canonical_text(sqlite_backend: SqlBackend, db_path: Path) -> None:
    sqlite_backend.record_event(
        AuditEvent("admin", "user:root", "user.update", "user:bob", after={"z": 1, "a": "é🐳"})
    )
    with raw(db_path) as conn:
        stored = conn.execute("SELECT after_json, before_json FROM audit_events").fetchall()
    assert stored == [('{"a":"\\u00e9\\ud83d\\udc33","z":1}', None)]


def test_connections_commit_without_a_full_fsync(sqlite_backend: SqlBackend) -> None:
    """WAL with synchronous=NORMAL (1): crash-safe, one fsync fewer per commit."""
    with sqlite_backend._db.connection_context():
        cursor = sqlite_backend._db.execute_sql("PRAGMA synchronous")  # type: ignore[no-untyped-call]
        assert cursor.fetchone() == (1,)


@pytest.fixture
def alice_in_devs(sqlite_backend: SqlBackend) -> SqlBackend:
    sqlite_backend.create_user("alice", "h")
    sqlite_backend.create_group("devs")
    sqlite_backend.add_member("devs", "alice")
    return sqlite_backend


def commit_elsewhere(db_path: Path) -> None:
    """A commit by another connection that changes nothing the token path reads (an audit
    event): the remembered reads are read again, the policy-versioned caches stay."""
    with SqlBackend(url(db_path)) as other:
        other.record_event(AuditEvent(kind="token", actor="anonymous", action="token.issue"))


def test_a_warm_token_path_reads_two_statements(
    alice_in_devs: SqlBackend, db_path: Path, statements: StatementLog
) -> None:
    """Login record, then grants: none while nothing was committed (remembered reads), one
    statement each after a commit once this process has cached them."""
    backend = alice_in_devs
    subjects = ["user:alice", "group:devs", "authenticated", "anonymous"]
    backend.login_record("alice")
    backend.grants_for_subjects(subjects)
    statements.statements.clear()
    record = backend.login_record("alice")
    backend.grants_for_subjects(subjects)
    assert record is not None
    assert record.groups == ("devs",)
    assert statements.statements == []
    commit_elsewhere(db_path)
    statements.statements.clear()
    backend.login_record("alice")
    backend.grants_for_subjects(subjects)
    assert len(statements.statements) == 2, statements.statements
    backend.add_member("devs", "alice")  # a no-op change still steps the version
    statements.statements.clear()
    backend.login_record("alice")
    backend.grants_for_subjects(subjects)
    assert len(statements.statements) == 4, statements.statements  # each re-read its data


def test_a_held_warm_login_reads_one_statement(
    alice_in_devs: SqlBackend, db_path: Path, statements: StatementLog
) -> None:
    """In a request that holds its connection, the failed-login lookup reads the login record
    and the policy version with the counters: with the grants cached, one statement."""
    backend = alice_in_devs
    subjects = ["user:alice", "group:devs", "authenticated", "anonymous"]
    backend.record_login_failure("client:192.0.2.7", at=T0, window=WINDOW, backoff=lambda n: None)
    backend.login_record("alice")
    backend.grants_for_subjects(subjects)
    commit_elsewhere(db_path)
    with backend.pinned():
        statements.statements.clear()
        found = backend.login_failures(["client:192.0.2.7", "user:alice"])
        record = backend.login_record("alice")
        backend.grants_for_subjects(subjects)
    assert len(statements.statements) == 1, statements.statements
    assert [(counter.key, counter.failures) for counter in found] == [("client:192.0.2.7", 1)]
    assert record is not None
    assert record.groups == ("devs",)


def test_a_prune_past_the_count_bound_walks_only_the_events_beyond_it(
    sqlite_backend: SqlBackend, statements: StatementLog
) -> None:
    """Retention runs every prune_every events: the cut is found from the oldest end of the
    kind, by skipping the events beyond keep_last (about prune_every), never the keep_last
    kept; within the bound nothing is walked."""
    backend = sqlite_backend
    admin = AuditEvent(kind="admin", actor="user:root", action="user.create", at=T0)
    token = AuditEvent(kind="token", actor="anonymous", action="token.issue", at=T0)
    backend.record_events([admin] * 5 + [token] * 50)

    def skipped() -> list[object]:
        """The OFFSET of every query that walked events to find a cut."""
        walks = [p for sql, p in statements.sent if "OFFSET" in sql and "audit_events" in sql]
        statements.sent.clear()
        return [params[-1] for params in walks]

    statements.sent.clear()
    assert backend.prune_events(keep_last=50, kind="token") == 0
    assert backend.prune_events(keep_last=5, kind="admin") == 0
    assert skipped() == []
    assert backend.prune_events(keep_last=46, kind="token") == 4
    assert skipped() == [3]  # the fourth oldest token event: it and the older three go
    assert backend.prune_events(keep_last=40, kind="token") == 6
    assert skipped() == [5]
    assert backend.query_events(kind="admin").total == 5


def test_without_the_policy_version_row_nothing_is_cached(
    sqlite_backend: SqlBackend, db_path: Path
) -> None:
    """A database edited by hand (the row deleted) is read afresh every time, never stale."""
    backend = sqlite_backend
    backend.create_user("alice", "h")
    backend.create_group("devs")
    with raw(db_path) as conn:
        conn.execute("DELETE FROM policy_version")
    assert backend.groups_for("alice") == ()
    assert backend.grants_for_subjects(["group:devs"]) == []
    with raw(db_path) as conn:  # behind the backend's back: only a fresh read can see it
        conn.execute("INSERT INTO memberships (user_id, group_id) VALUES (1, 1)")
        conn.execute(
            "INSERT INTO grants (subject, resource_type, pattern, actions, created_at)"
            " VALUES ('group:devs', 'repository', 'devs/*', 'pull', '2026-01-01 00:00:00')"
        )
    assert backend.groups_for("alice") == ("devs",)
    assert [g.pattern for g in backend.grants_for_subjects(["group:devs"])] == ["devs/*"]


def test_a_held_connection_reads_the_policy_version_once_until_a_write(
    alice_in_devs: SqlBackend, db_path: Path, statements: StatementLog
) -> None:
    """A token request holds the connection: login record then grants are two statements;
    a write in the same request makes the next read see it."""
    backend = alice_in_devs
    subjects = ["user:alice", "group:devs"]
    backend.grants_for_subjects(subjects)
    with SqlBackend(url(db_path)) as other:
        other.grants_for_subjects(subjects)
        commit_elsewhere(db_path)
        with other.pinned():
            statements.statements.clear()
            record = other.login_record("alice")
            assert other.grants_for_subjects(subjects) == []
            assert len(statements.statements) == 2, statements.statements  # no version read
            assert record is not None
            other.add_grant(Grant("group:devs", "repository", "devs/*", ("pull",)))
            assert [g.pattern for g in other.grants_for_subjects(subjects)] == ["devs/*"]
        with other.pinned():  # a new request reads the version again and sees other writers
            backend.add_grant(Grant("user:alice", "repository", "alice/*", ("pull",)))
            patterns = [g.pattern for g in other.grants_for_subjects(subjects)]
            assert patterns == ["devs/*", "alice/*"]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-11-27 06:00:00.123456", datetime(2026, 11, 27, 6, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-27 06:00:00", datetime(2026, 11, 27, 6, 0, tzinfo=UTC)),
        ("2026-11-27T08:00:00+02:00", datetime(2026, 11, 27, 6, 0, tzinfo=UTC)),
        ("2026-11-27", datetime(2026, 11, 27, tzinfo=UTC)),
        (None, None),
    ],
)
def test_time_columns_read_by_hand_are_aware_utc(
    stored: str | None, expected: datetime | None
) -> None:
    assert time_from_column(stored) == expected


def test_the_hand_written_credential_lookup_lists_the_record_columns() -> None:
    """find_access_credential's SELECT names the columns its conversion takes, in order."""
    listed = _FIND_BY_HASH.split("SELECT ", 1)[1].split(" FROM ", 1)[0]
    assert [c.strip().strip('"') for c in listed.split(",")] == list(ACCESS_CREDENTIAL_COLUMNS)
