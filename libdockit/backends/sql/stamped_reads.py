"""The token path's reads on SQLite, answered from memory while the database is unchanged.

A warm token request reads the same rows as the last one: the user's login record and
failed-login counters, the policy version, the grants of a subject. On SQLite every process
that uses the database is on this machine, and SQLite itself tells whether anything changed:
``PRAGMA data_version`` on a connection changes whenever *another* connection has committed
since that connection last asked (any process, Dockit's or not, even one that crashed
afterwards). So each process keeps one connection that never writes, asks it before each
read, and answers the read from the rows it read last time if the answer is the same.

The pragma costs about as much as an indexed read in C, but it needs no pooled connection and
no parsing of rows in Python; a miss costs the read as before. Any commit (a grant, a
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
from typing import Any

from ...process import current_pid

#: How many distinct reads are kept between two changes (a read is its SQL and parameters).
MAX_ENTRIES = 4096

Reader = Callable[[str, tuple[object, ...]], list[Any]]
#: Which watcher connection of the process (counted from 1), and its ``data_version``.
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

    def close(self) -> None:
        with self._lock:
            self._drop_watcher()

    def _current_stamp(self) -> Stamp | None:
        """Which watcher (counted from 1) and its ``data_version``: they only grow; None
        when the watcher cannot tell (the reads then go to the database, which reports the
        trouble)."""
        if self._opened_in != current_pid():
            self._forget()
        with self._lock:
            try:
                watcher = self._watcher
                if watcher is None:
                    watcher = sqlite3.connect(
                        Path(self._path).absolute().as_uri() + "?mode=rw",  # never creates
                        uri=True,
                        timeout=self._busy_timeout,
                        isolation_level=None,  # autocommit: never holds a read transaction
                        check_same_thread=False,  # guarded by the lock
                    )
                    self._watcher = watcher
                    self._watchers_opened += 1
                row = watcher.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error:
                self._drop_watcher()
                return None
            return (self._watchers_opened, row[0]) if row else None

    def _drop_watcher(self) -> None:
        """Close the watcher and forget its rows (the lock held); the next one counts
        afresh, under a higher watcher number."""
        watcher, self._watcher = self._watcher, None
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
        self._opened_in = current_pid()
        self._kept = (None, {})
