"""Whether a SQLite database in WAL mode changed, read from its wal-index header.

SQLite's own connections tell that a WAL database changed by comparing the header of its
wal-index, the ``-shm`` file beside it, with the copy they saw last: every commit rewrites that
header (its change counter, last frame and checksums; see "The WAL-Index Header" in
https://sqlite.org/walformat.html, a format every SQLite version sharing a database must
keep). Reading its 96 bytes (the header and SQLite's second copy) with one ``pread`` costs a
fraction of ``PRAGMA data_version``, which begins and ends a read transaction: two ``fcntl``
lock calls on that same file, which every worker of a busy server makes for every request.

This is only a sound answer while the process keeps a connection to the database open, as
:class:`~.stamped_reads.StampedReads` does with its watcher: that connection's lock on the
``-shm`` file keeps SQLite from deleting or re-initialising it (which only the last
connection may do), and keeps the database from leaving WAL mode.

The descriptors opened here are never closed. Closing any descriptor of a file drops every
``fcntl`` lock the process holds on it (POSIX), and SQLite's own connections in this process
hold theirs on the ``-shm`` file. One descriptor is kept per file and reused, also by a forked
child; a new one is opened only when the ``-shm`` file is a new file.
"""

from __future__ import annotations

import os
import struct
import threading

#: The wal-index header and SQLite's second copy of it.
HEADER_SIZE = 96
_VERSION = 3007000  # iVersion of every wal-index header SQLite writes
_VERSION_AND_INIT = struct.Struct("=I8xB")  # iVersion, (unused, iChange), isInit

_descriptors: dict[str, int] = {}  # by the -shm file's real path
_descriptors_lock = threading.Lock()


class WalHeader:
    """The wal-index header of one database, read on demand."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @classmethod
    def open(cls, database_path: str) -> WalHeader | None:
        """The header of ``database_path``'s ``-shm`` file, or None when there is none to
        read (the database is not in WAL mode) or it is not a wal-index SQLite initialised.

        Call it while a connection of this process has the database open and has read from
        it (SQLite creates the ``-shm`` file at the first read in WAL mode).
        """
        shm_path = os.path.realpath(database_path) + "-shm"  # SQLite follows symlinks
        try:
            fd = _descriptor(shm_path)
            header = cls(fd).read()
        except OSError:
            return None
        if header is None:
            return None
        version, initialised = _VERSION_AND_INIT.unpack_from(header)
        if version != _VERSION or initialised != 1:
            return None
        return cls(fd)

    def read(self) -> bytes | None:
        """The header's bytes now; None if the file is shorter than a header."""
        header = os.pread(self._fd, HEADER_SIZE, 0)
        return header if len(header) == HEADER_SIZE else None


def _descriptor(shm_path: str) -> int:
    """A read-only descriptor of ``shm_path``, kept open for the process's lifetime."""
    with _descriptors_lock:
        current = os.stat(shm_path)
        fd = _descriptors.get(shm_path)
        if fd is not None:
            kept = os.fstat(fd)
            if (kept.st_dev, kept.st_ino) == (current.st_dev, current.st_ino):
                return fd
        # A new file (or the first look): the old descriptor stays open (see the module).
        fd = os.open(shm_path, os.O_RDONLY | os.O_CLOEXEC)
        _descriptors[shm_path] = fd
        return fd
