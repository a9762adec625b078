"""The token path's reads on SQLite, answered from memory while the database is unchanged.

A warm token request reads the same rows as the last one: the user's login record and
failed-login counters, the policy version, the grants of a subject. On SQLite every process
that uses the database is on this machine, and SQLite itself tells whether anything changed:
``PRAGMA data_version`` on a connection changes whenever *another* connection has committed
since that connection last asked (any process, Dockit's or not, even one that crashed
afterwards). So each process keeps one connection that never writes, asks it before each
read, and answers the read from the rows it read last time if the answer is the same.

In WAL mode (Dockit's) the question is answered cheaper still: the watcher's open connection
keeps the database's wal-index file in place, and its header, which every commit rewrites,
is compared with the one seen last (see :mod:`.wal_header`); the pragma, which takes and
drops two locks on that file, answers only for a database in another journal mode. Either
check needs no pooled connection and no parsing of rows in Python; a miss costs the read as
before. Any commit (a grant, a
disable, a failed login, a batch of audit events) changes the answer, so what a request sees
is never older than what it would have read: the check happens *before* the rows it guards
are read, the same ordering rule as the policy version's (see :mod:`.cache`).

PostgreSQL has no such cheap, local answer (other machines commit too); its reads always go
to the database. An in-memory SQLite database has a single connection, so it cannot ask.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, Generic, TypeVar

from ...process import current_pid
from .wal_header import WalHeader

#: How many distinct reads are kept between two changes (a read is its SQL and parameters).
MAX_ENTRIES = 4096

Reader = Callable[[str, tuple[object, ...]], list[Any]]
#: Which watcher connection of the process (counted from 1), and its ``data_version`` (or, in
#: WAL mode, how many changed wal-index headers it has seen).
Stamp = tuple[int, int]

#: Connections a child found opened by its parent (SQLite connections must not cross a
#: fork): kept, never used or closed here.
_inherited: list[sqlite3.Connection] = []


class StampedReads:
    """Rows of reads keyed by (SQL, parameters), valid while ``data_version`` stays put."""

    def __init__(self, path: str, *, busy_timeout: float) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()  # the watcher's pragma, and storing rows
        self._watcher: sqlite3.Connection | None = None
        self._opened_in = current_pid()
        self._watchers_opened = 0
        self._wal: WalHeader | None = None  # the watcher's database in WAL mode
        #: The wal-index header seen last and the stamp given for it: replaced whole.
        self._seen: tuple[bytes | None, Stamp | None] = (None, None)
        #: (stamp, rows by key): replaced whole, so a reader sees a stamp with its own rows.
        self._kept: tuple[Stamp | None, dict[tuple[str, tuple[object, ...]], list[Any]]] = (
            None,
            {},
        )

    def read(self, sql: str, params: tuple[object, ...], fetch: Reader) -> list[Any]:
        """``fetch(sql, params)``, or the rows it gave last time if nothing was committed
        since. The callers must not change the rows (they are shared)."""
        stamp = self._current_stamp()
        if stamp is None:  # the watcher could not ask: read, and keep nothing
            return fetch(sql, params)
        key = (sql, params)
        kept_stamp, kept = self._kept
        if stamp == kept_stamp:
            rows = kept.get(key)
            if rows is not None:
                return rows
        rows = fetch(sql, params)  # read after the stamp: as new as it, or newer
        with self._lock:
            kept_stamp, kept = self._kept
            if kept_stamp is None or stamp > kept_stamp:
                self._kept = (stamp, {key: rows})
            elif stamp == kept_stamp:  # an older stamp's rows (a slower thread) are not kept
                if len(kept) >= MAX_ENTRIES:
                    kept.clear()
                kept[key] = rows
        return rows

    @property
    def watches_wal_header(self) -> bool:
        """Whether changes are seen in the wal-index header (else with the pragma)."""
        return self._wal is not None

    def close(self) -> None:
        with self._lock:
            self._drop_watcher()

    def _current_stamp(self) -> Stamp | None:
        """Which watcher (counted from 1) and its version: they only grow; None when the
        watcher cannot tell (the reads then go to the database, which reports the trouble)."""
        if self._opened_in != current_pid():
            self._forget()
        wal = self._wal
        if wal is not None:
            seen_header, seen_stamp = self._seen  # read together: a header and its stamp
            try:
                if seen_header is not None and wal.read() == seen_header:
                    return seen_stamp  # nothing committed since that stamp was given
            except OSError:
                pass  # answered under the lock below
        with self._lock:
            try:
                watcher = self._watcher
                if watcher is None:
                    watcher = self._open_watcher()
                if self._wal is None:
                    row = watcher.execute("PRAGMA data_version").fetchone()
                    return (self._watchers_opened, row[0]) if row else None
                return self._stamp_for(self._wal.read())
            except (sqlite3.Error, OSError):
                self._drop_watcher()
                return None

    def _open_watcher(self) -> sqlite3.Connection:
        """Open this process's next watcher (the lock held); in WAL mode also its header."""
        watcher = sqlite3.connect(
            Path(self._path).absolute().as_uri() + "?mode=rw",  # never creates the file
            uri=True,
            timeout=self._busy_timeout,
            isolation_level=None,  # autocommit: never holds a read transaction
            check_same_thread=False,  # guarded by the lock
        )
        self._watcher = watcher
        self._watchers_opened += 1
        self._seen = (None, None)
        # A first read maps the wal-index (and holds it, as long as the watcher is open).
        watcher.execute("PRAGMA data_version").fetchone()
        if watcher.execute("PRAGMA journal_mode").fetchone() == ("wal",):
            self._wal = WalHeader.open(self._path)
        return watcher

    def _stamp_for(self, header: bytes | None) -> Stamp:
        """The stamp of the wal-index ``header`` just read (the lock held): the last one
        given if the header is unchanged, else the next."""
        if header is None:
            raise OSError("the wal-index file is shorter than its header")
        seen_header, seen_stamp = self._seen
        if header == seen_header and seen_stamp is not None:
            return seen_stamp
        stamp = (self._watchers_opened, seen_stamp[1] + 1 if seen_stamp is not None else 1)
        self._seen = (header, stamp)
        return stamp

    def _drop_watcher(self) -> None:
        """Close the watcher and forget its rows (the lock held); the next one counts
        afresh, under a higher watcher number."""
        watcher, self._watcher = self._watcher, None
        self._wal = None
        self._seen = (None, None)
        self._kept = (None, {})
        if watcher is not None:
            with suppress(sqlite3.Error):
                watcher.close()

    def _forget(self) -> None:
        """In a forked child: the parent's connection is not this process's to use (nor to
        close: that could drop locks SQLite keeps per process), and the rows it read are
        from before the fork."""
        self._lock = threading.Lock()  # the parent's may have been held at the fork
        if self._watcher is not None:
            _inherited.append(self._watcher)
        self._watcher = None
        self._wal = None
        self._seen = (None, None)
        self._opened_in = current_pid()
        self._kept = (None, {})


K = TypeVar("K")
V = TypeVar("V")


class ConvertedRows(Generic[K, V]):
    """What a row was converted to last time, by key, while :class:`StampedReads` hands out
    that same row object: nothing was committed since, so the same answer, without
    converting the row again. Holding the row keeps its ``id`` from being reused."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self._limit = limit
        self._kept: dict[K, tuple[object, V]] = {}

    def get(self, key: K, row: object) -> V | None:
        """The conversion of ``row`` kept under ``key``, if it was this very row."""
        kept = self._kept.get(key)
        return kept[1] if kept is not None and kept[0] is row else None

    def put(self, key: K, row: object, converted: V) -> V:
        if len(self._kept) >= self._limit:
            self._kept.clear()
        self._kept[key] = (row, converted)
        return converted
