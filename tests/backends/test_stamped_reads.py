"""The SQLite token path's remembered reads: kept while nothing is committed, read again
after any commit by any connection (Dockit's, another process's, or a tool's)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from libdockit.backends.sql.backend import SqlBackend
from libdockit.backends.sql.stamped_reads import StampedReads
from libdockit.model import Grant
from libdockit.testing.conformance import T0
from libdockit.testing.conformance.access_credentials import make_credential

WINDOW = timedelta(minutes=15)


@pytest.fixture
def backend(db_path: Path) -> Iterator[SqlBackend]:
    with SqlBackend(f"sqlite:///{db_path}") as opened:
        opened.migrate()
        opened.create_user("alice", "h")
        yield opened


def by_hand(db_path: Path, sql: str) -> None:
    """A change made behind Dockit's back, as an operator's sqlite3 shell would."""
    with closing(sqlite3.connect(db_path, isolation_level=None)) as conn:
        conn.execute(sql)


def enabled(backend: SqlBackend) -> bool:
    record = backend.login_record("alice")
    assert record is not None
    return record.enabled


def test_a_change_made_outside_dockit_is_read_at_once(backend: SqlBackend, db_path: Path) -> None:
    assert enabled(backend)
    assert enabled(backend)  # remembered
    by_hand(db_path, "UPDATE users SET enabled = 0 WHERE username = 'alice'")
    assert not enabled(backend)
    by_hand(db_path, "UPDATE users SET enabled = 1 WHERE username = 'alice'")
    assert enabled(backend)


def test_another_processs_changes_are_read_at_once(backend: SqlBackend, db_path: Path) -> None:
    """A second handle on the file stands for another worker: its disable, its failed-login
    count and its grant are each seen by the first handle's very next read."""
    keys = ["user:alice"]
    assert backend.login_failures(keys) == []
    assert backend.grants_for_subjects(["user:alice"]) == []
    with SqlBackend(f"sqlite:///{db_path}") as other:
        other.record_login_failure("user:alice", at=T0, window=WINDOW, backoff=lambda n: None)
        assert [counter.failures for counter in backend.login_failures(keys)] == [1]
        other.record_login_failure("user:alice", at=T0, window=WINDOW, backoff=lambda n: None)
        assert [counter.failures for counter in backend.login_failures(keys)] == [2]
        other.set_user_enabled("alice", False)
        assert not enabled(backend)
        other.add_grant(Grant("user:alice", "repository", "alice/*", ("pull",)))
        assert [g.pattern for g in backend.grants_for_subjects(["user:alice"])] == ["alice/*"]


def test_this_handles_own_writes_are_read_at_once(backend: SqlBackend) -> None:
    """The watching connection never writes, so the pool's commits change its answer too."""
    assert enabled(backend)
    backend.set_user_enabled("alice", False)
    assert not enabled(backend)


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_rows_are_kept_only_while_nothing_is_committed(tmp_path: Path, journal_mode: str) -> None:
    """In WAL mode (Dockit's) the watcher compares wal-index headers; in any other journal
    mode it asks ``PRAGMA data_version``. Either way a commit is seen by the next read."""
    path = tmp_path / "plain.db"
    by_hand(path, f"PRAGMA journal_mode = {journal_mode}")
    by_hand(path, "CREATE TABLE t (v)")
    by_hand(path, "INSERT INTO t VALUES (1)")
    reads = StampedReads(str(path), busy_timeout=1.0)
    sent: list[str] = []

    def fetch(sql: str, params: tuple[object, ...]) -> list[object]:
        sent.append(sql)
        with closing(sqlite3.connect(path)) as conn:
            return list(conn.execute(sql, params).fetchall())

    try:
        assert reads.read("SELECT v FROM t", (), fetch) == [(1,)]
        assert reads.watches_wal_header is (journal_mode == "wal")
        assert reads.read("SELECT v FROM t", (), fetch) == [(1,)]
        assert len(sent) == 1
        for value in range(2, 6):  # each commit, also several in a row
            by_hand(path, f"UPDATE t SET v = {value}")
            assert reads.read("SELECT v FROM t", (), fetch) == [(value,)]
            assert reads.read("SELECT v FROM t", (), fetch) == [(value,)]
        assert len(sent) == 5
        by_hand(path, "SELECT v FROM t")  # a read commits nothing: the rows are kept
        assert reads.read("SELECT v FROM t", (), fetch) == [(5,)]
        assert len(sent) == 5
    finally:
        reads.close()


def test_a_missing_database_file_is_not_created_by_the_watcher(tmp_path: Path) -> None:
    """Without a file to watch, every read goes to the database (which reports it)."""
    path = tmp_path / "gone.db"
    reads = StampedReads(str(path), busy_timeout=1.0)
    calls: list[str] = []

    def fetch(sql: str, params: tuple[object, ...]) -> list[object]:
        calls.append(sql)
        return []

    try:
        assert reads.read("SELECT 1", (), fetch) == []
        assert reads.read("SELECT 1", (), fetch) == []
        assert calls == ["SELECT 1", "SELECT 1"]
        assert not path.exists()
    finally:
        reads.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_reads_what_was_committed_after_the_fork(
    backend: SqlBackend, db_path: Path
) -> None:
    assert enabled(backend)  # the parent's watcher is open and its rows remembered
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait for the parent's change, then read it
        code = 1
        try:
            os.close(ready_w)
            os.read(ready_r, 1)
            code = 0 if not enabled(backend) else 3
        finally:
            os._exit(code)
    os.close(ready_r)
    by_hand(db_path, "UPDATE users SET enabled = 0 WHERE username = 'alice'")
    os.write(ready_w, b"x")
    os.close(ready_w)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def held_login(backend: SqlBackend) -> tuple[list[int], bool]:
    """A token request's login: the failed-login lookup (which reads the user's row along)
    and the login record, in one held connection."""
    with backend.pinned():
        found = backend.login_failures(["user:alice", "client:192.0.2.9"])
        record = backend.login_record("alice")
    assert record is not None
    return [counter.failures for counter in found], record.enabled


def test_a_held_login_is_converted_again_only_after_a_commit(
    backend: SqlBackend, db_path: Path
) -> None:
    assert held_login(backend) == ([], True)
    with backend.pinned():
        backend.login_failures(["user:alice"])
        first = backend.login_record("alice")
    with backend.pinned():
        backend.login_failures(["user:alice"])
        again = backend.login_record("alice")
    assert again is first  # nothing committed: the same record, not converted again
    by_hand(db_path, "UPDATE users SET enabled = 0 WHERE username = 'alice'")
    assert held_login(backend) == ([], False)
    by_hand(
        db_path,
        "INSERT INTO login_failures (key, failures, window_start, checking)"
        " VALUES ('user:alice', 2, '2026-01-01 00:00:00', 0)",
    )
    assert held_login(backend) == ([2], False)


def test_a_robots_lookup_is_converted_again_only_after_a_commit(
    backend: SqlBackend, db_path: Path
) -> None:
    robot = make_credential("r1", kind="robot", name="ci")
    backend.add_access_credential(robot)
    first = backend.find_access_credential(robot.secret_hash)
    assert first == robot
    assert backend.find_access_credential(robot.secret_hash) is first  # not converted again
    by_hand(db_path, "UPDATE access_credentials SET enabled = 0 WHERE id = 'r1'")
    disabled = backend.find_access_credential(robot.secret_hash)
    assert disabled is not None
    assert not disabled.enabled
    by_hand(db_path, "DELETE FROM access_credentials WHERE id = 'r1'")
    assert backend.find_access_credential(robot.secret_hash) is None
