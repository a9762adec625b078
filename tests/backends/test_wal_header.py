"""The wal-index header that tells a WAL database's watcher about commits (wal_header)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from libdockit.backends.sql.stamped_reads import StampedReads
from libdockit.backends.sql.wal_header import HEADER_SIZE, WalHeader


def wal_database(path: Path) -> sqlite3.Connection:
    """A WAL database with one table, and a connection of this process that has read it
    (as the watcher has, which keeps the wal-index in place)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("CREATE TABLE t (v)")
    conn.execute("SELECT count(*) FROM t").fetchone()
    return conn


def in_another_process(path: Path, sql: str) -> str:
    """Run ``sql`` on ``path`` from a separate Python process; what it printed."""
    code = (
        "import sqlite3, sys\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0.2)\n"
        "try:\n"
        "    print(conn.execute(sys.argv[2]).fetchall())\n"
        "except sqlite3.Error as exc:\n"
        "    print('error:', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), sql],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_every_commit_changes_the_header_and_a_read_does_not(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    with closing(wal_database(path)) as conn:
        header = WalHeader.open(str(path))
        assert header is not None
        seen = header.read()
        assert seen is not None
        assert len(seen) == HEADER_SIZE
        in_another_process(path, "SELECT count(*) FROM t")
        assert header.read() == seen
        for value in range(3):
            in_another_process(path, f"INSERT INTO t VALUES ({value})")
            now = header.read()
            assert now != seen
            seen = now
        conn.execute("INSERT INTO t VALUES (9)")  # this process's own commit, too
        assert header.read() != seen


def test_a_database_not_in_wal_mode_has_no_header(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("CREATE TABLE t (v)")
        assert WalHeader.open(str(path)) is None


def test_a_file_that_is_no_wal_index_is_not_read_as_one(tmp_path: Path) -> None:
    path = tmp_path / "odd.db"
    Path(f"{path}-shm").write_bytes(b"\0" * HEADER_SIZE * 2)
    assert WalHeader.open(str(path)) is None
    Path(f"{path}-shm").write_bytes(b"short")
    assert WalHeader.open(str(path)) is None


def test_closing_the_watcher_keeps_this_processs_sqlite_locks(tmp_path: Path) -> None:
    """POSIX drops every fcntl lock a process holds on a file when any descriptor of it is
    closed. Were the header's descriptor closed, the locks this process's other connection
    holds on the wal-index would go, and another process could take the wal-index as its
    own to re-initialise under it."""
    path = tmp_path / "wal.db"
    with closing(wal_database(path)):
        assert locks_held_on(f"{path}-shm")  # the connection's, before any watcher
        reads = StampedReads(str(path), busy_timeout=1.0)
        assert reads.read("SELECT v FROM t", (), lambda sql, params: []) == []
        assert reads.watches_wal_header
        reads.close()
        assert locks_held_on(f"{path}-shm")


def locks_held_on(path: str) -> bool:
    """Whether a process other than a fresh one holds any fcntl lock on ``path``: a fresh
    process fails to lock the whole file exclusively without waiting."""
    code = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n"
        "    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except OSError:\n"
        "    print('held')\n"
        "else:\n"
        "    print('free')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, path], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip() == "held"


@pytest.mark.parametrize("replace_file", [False, True])
def test_a_watcher_reopened_reads_the_current_file(tmp_path: Path, replace_file: bool) -> None:
    """When every connection is closed SQLite deletes the wal-index; the next watcher must
    read the new file, not the descriptor kept for the old one (which it reuses while the
    file is the same)."""
    path = tmp_path / "wal.db"
    fetched: list[str] = []

    def fetch(sql: str, params: tuple[object, ...]) -> list[object]:
        fetched.append(sql)
        with closing(sqlite3.connect(path)) as conn:
            return list(conn.execute(sql, params).fetchall())

    keeper = wal_database(path)  # open throughout unless the file is to be replaced
    keeper.execute("INSERT INTO t VALUES (1)")
    reads = StampedReads(str(path), busy_timeout=1.0)
    assert reads.read("SELECT v FROM t", (), fetch) == [(1,)]
    reads.close()
    if replace_file:
        keeper.close()
        assert not Path(f"{path}-shm").exists()  # the last connection removed it
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        reads = StampedReads(str(path), busy_timeout=1.0)
        try:
            assert reads.read("SELECT v FROM t", (), fetch) == [(1,)]
            assert reads.watches_wal_header
            for value in (2, 3):
                conn.execute(f"UPDATE t SET v = {value}")
                assert reads.read("SELECT v FROM t", (), fetch) == [(value,)]
            assert reads.read("SELECT v FROM t", (), fetch) == [(3,)]
            assert len(fetched) == 4
        finally:
            reads.close()
    keeper.close()


def test_a_database_reached_through_a_symlink_is_watched_at_its_real_path(
    tmp_path: Path,
) -> None:
    """SQLite puts the wal-index beside the file a symlink points to."""
    real, link = tmp_path / "data" / "wal.db", tmp_path / "wal.db"
    real.parent.mkdir()
    link.symlink_to(real)

    def fetch(sql: str, params: tuple[object, ...]) -> list[object]:
        with closing(sqlite3.connect(link)) as conn:
            return list(conn.execute(sql, params).fetchall())

    with closing(wal_database(link)) as conn:
        assert Path(f"{real}-shm").exists()
        assert not Path(f"{link}-shm").exists()
        reads = StampedReads(str(link), busy_timeout=1.0)
        try:
            assert reads.read("SELECT count(*) FROM t", (), fetch) == [(0,)]
            assert reads.watches_wal_header
            conn.execute("INSERT INTO t VALUES (1)")
            assert reads.read("SELECT count(*) FROM t", (), fetch) == [(1,)]
        finally:
            reads.close()
