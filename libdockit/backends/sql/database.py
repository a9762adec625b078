"""Opening the SQL backend's database by URL: a pooled peewee database, not yet connected.

``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite:///:memory:`` or
``postgresql://user:password@host:5432/dbname?sslmode=require``. The password never appears
in :attr:`OpenedDatabase.safe_url`, which is what messages and ``repr`` show.

PostgreSQL connections wait for the server with a client-side deadline (:mod:`.sql_wait`):
``timeout`` seconds per wait, and per call of the backend.
"""

from __future__ import annotations

import heapq
import math
import os
import threading
import time
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import peewee as pw
from playhouse.pool import (
    PoolConnection,
    PooledPostgresqlDatabase,
    PooledSqliteDatabase,
)

from ...errors import ConfigError

URL_KEY = "database.url"
#: peewee's mapping of driver errors to its own (a module global whose name a class body
#: would mangle), for code that calls the driver itself.
DRIVER_ERRORS = getattr(pw, "__exception_wrapper__")  # noqa: B009


class OpenedDatabase(NamedTuple):
    db: pw.Database
    safe_url: str  # the URL with the password replaced by ***
    password: str  # to scrub from driver messages ("" if none)


def create_private_file(path: str) -> None:
    """Create a missing SQLite database file with mode 0600, whatever the umask: it holds
    password hashes and signing keys. SQLite gives its ``-wal`` and ``-shm`` files the
    database file's mode. An existing file is left alone; a missing directory is SQLite's
    to report."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return
    os.close(descriptor)


class _QuickCheckout:
    """Checking a pooled connection out and back in without peewee's database-wide lock and
    bookkeeping around the pool's own: every web request does both once, and under gevent
    each lock is a greenlet lock. The pool's lock, its idle heap and its bound, and its
    checks of a connection (closed or broken: dropped; stale: closed; an open transaction
    at check-in: rolled back), stay as the pool has them. A first connection, a full pool
    or an open transaction take peewee's usual way."""

    _state: Any
    _connections: list[Any]
    _in_use: dict[int, Any]
    _pool_lock: Any
    _pool_available: threading.Condition
    _stale_timeout: int | None
    _heap_counter: int
    deferred: bool
    server_version: Any

    #: Whether the pool's checks of a connection may raise a driver error (PostgreSQL's ask
    #: the driver; SQLite's catch everything), to be mapped to peewee's errors.
    _checks_raise = True

    def connect(self, reuse_if_open: bool = False) -> bool:
        state = self._state
        if state.closed and self._connections and self.server_version is not None:
            if self._checks_raise:
                with DRIVER_ERRORS:
                    conn = self._take_idle()
            else:
                conn = self._take_idle()
            if conn is not None:
                if state.ctx or state.transactions or state.commit_callbacks:
                    state.set_connection(conn)
                else:  # as set_connection leaves it, without three new empty lists
                    state.conn, state.closed = conn, False
                return True
        return bool(super().connect(reuse_if_open))  # type: ignore[misc]

    def _take_idle(self) -> Any:
        """The oldest idle connection that is still good (None: none is)."""
        with self._pool_lock:
            idle = self._connections
            while idle:
                since, _, conn = heapq.heappop(idle)
                if self._is_closed(conn):  # type: ignore[attr-defined]
                    continue  # closed by the driver (a broken connection): dropped
                now = time.time()
                if self._stale_timeout and now - since > self._stale_timeout:
                    self._close_raw(conn)  # type: ignore[attr-defined]
                    continue
                self._in_use[id(conn)] = PoolConnection(since, conn, now)
                return conn
        return None

    def close(self) -> bool:
        state = self._state
        if state.closed or state.transactions or self.deferred:
            return bool(super().close())  # type: ignore[misc]
        try:
            if self._checks_raise:
                with DRIVER_ERRORS:
                    self._give_back(state.conn)
            else:
                self._give_back(state.conn)
        finally:
            if state.ctx or state.commit_callbacks:
                state.reset()
            else:  # as reset leaves it (no transactions: see above), without new lists
                state.conn, state.closed = None, True
        return True

    def _give_back(self, conn: Any) -> None:
        """Check ``conn`` in: back on the idle heap, or closed if stale or not reusable."""
        with self._pool_lock:
            held = self._in_use.pop(id(conn), None)
            if held is None:
                return  # not the pool's (closed by close_all meanwhile)
            stale = self._stale_timeout and time.time() - held.timestamp > self._stale_timeout
            if stale or not self._can_reuse(conn):  # type: ignore[attr-defined]
                self._close_raw(conn)  # type: ignore[attr-defined]
            else:
                self._heap_counter += 1
                heapq.heappush(self._connections, (held.timestamp, self._heap_counter, conn))
            self._pool_available.notify()


class _SqlitePool(_QuickCheckout, PooledSqliteDatabase):  # type: ignore[misc]
    _checks_raise = False  # _is_closed, _can_reuse and _close_raw catch every error


class _PostgresPool(_QuickCheckout, PooledPostgresqlDatabase):  # type: ignore[misc]
    pass


def _connection_state() -> Any:
    """peewee keeps each thread's connection in a ``threading.local`` subclass it defines
    when it is imported. A process that patches ``threading.local`` after that (gunicorn's
    gevent workers do, and the master has imported peewee) would share that connection
    between all its greenlets; a state made from ``threading.local`` as it is now gives each
    thread, or greenlet, its own."""
    base = pw._ConnectionState
    return type("ConnectionState", (base, threading.local), {})()


def open_database(
    url: str, *, busy_timeout: float, max_connections: int, timeout: float = 5.0
) -> OpenedDatabase:
    """A pooled peewee database for ``url``; connects lazily (nothing is opened here).
    ``timeout``: PostgreSQL's client-side deadline, and the wait for a pooled connection."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if parts.netloc or not path:
            raise ConfigError(URL_KEY, "use sqlite:///relative/path.db or sqlite:////abs/path.db")
        memory = path == ":memory:"
        if not memory:
            create_private_file(path)
        pragmas: list[tuple[str, object]] = [
            ("busy_timeout", int(busy_timeout * 1000)),
            ("foreign_keys", 1),
        ]
        if not memory:
            pragmas.append(("journal_mode", "wal"))
            # In WAL mode NORMAL still never corrupts the database and survives an application
            # crash; only the last commits before a power loss may be lost. It saves an fsync
            # per commit (about 140 us here), and the token path commits an audit event.
            pragmas.append(("synchronous", "normal"))
        db = _SqlitePool(  # type: ignore[no-untyped-call]
            path,
            pragmas=pragmas,
            lock_type="IMMEDIATE",  # writers take the lock up front and queue on busy_timeout
            check_same_thread=False,  # pooled connections move between threads
            max_connections=1 if memory else max_connections,  # one in-memory db, shared
            stale_timeout=None if memory else 600,
            timeout=max(busy_timeout, 1.0) * 2,  # how long to wait for a free connection
            autoconnect=False,
        )
        db._state = _connection_state()
        return OpenedDatabase(db, url, "")
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(URL_KEY, "must start with sqlite:/// or postgresql://")
    try:
        from . import wait as sql_wait  # imports psycopg2, an optional driver: lazily
    except ImportError as exc:
        raise ImportError(
            "PostgreSQL support needs psycopg2: pip install 'dockit[postgres]'"
        ) from exc
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(URL_KEY, "the port is not a number") from exc
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise ConfigError(URL_KEY, "name the database: postgresql://user:password@host/dbname")
    params: dict[str, Any] = {"connect_timeout": 5, **dict(parse_qsl(parts.query))}
    named = {"user": parts.username, "password": parts.password, "host": parts.hostname}
    params.update({k: unquote(v) for k, v in named.items() if v is not None})
    if port is not None:
        params["port"] = port
    password = str(params.get("password", ""))
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if parts.username is not None:
        netloc = (
            quote(unquote(parts.username), safe="")
            + (":***@" if parts.password is not None else "@")
            + netloc
        )
    query = urlencode([(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query)])
    safe_url = parts._replace(netloc=netloc, query=query).geturl()
    params["connection_factory"] = sql_wait.connection_class(timeout)
    pg_db = _PostgresPool(  # type: ignore[no-untyped-call]
        dbname,
        max_connections=max_connections,
        stale_timeout=600,
        timeout=max(1, math.ceil(timeout)),  # for a free pooled connection (whole seconds)
        autoconnect=False,
        **params,
    )
    pg_db._state = _connection_state()
    return OpenedDatabase(pg_db, safe_url, password)
