"""What every part of the SQL backend stands on: the pooled database, one session per call,
the mapping of driver errors, the schema check, and migrate/ping.

:class:`SqlSession` is the base of the per-concern mixins (``sql_users``, ``sql_grants``,
``sql_audit``, ``sql_refresh_tokens``) that :class:`~libdockit.backends.sql.SqlBackend`
combines; see that module for the behaviour they share.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from types import TracebackType
from typing import Any, Self

import peewee as pw
from playhouse.pool import MaxConnectionsExceeded

from ...errors import BackendUnavailable, Conflict
from ...model import AccessCredential, Grant, LoginFailures, LoginRecord
from .cache import VersionedCache
from .database import DRIVER_ERRORS as _DRIVER_ERRORS
from .database import open_database
from .migrations import migrate_schema, read_schema_version
from .models import SCHEMA_VERSION
from .stamped_reads import ConvertedRows, StampedReads

#: peewee's log of the statements it sends (at DEBUG), kept for those sent past it.
_STATEMENTS = logging.getLogger("peewee")
_UNAVAILABLE = (pw.OperationalError, pw.InterfaceError, MaxConnectionsExceeded)
_STEP_POLICY_VERSION = 'UPDATE "policy_version" SET "version" = "version" + 1 WHERE "id" = 1'
_READ_POLICY_VERSION = 'SELECT "version" FROM "policy_version" WHERE "id" = 1'


_NO_DEADLINE: AbstractContextManager[None] = nullcontext()  # reusable: it holds nothing


def _no_deadline(seconds: float) -> AbstractContextManager[None]:
    return _NO_DEADLINE  # SQLite waits for its lock on busy_timeout instead


class SqlSession:
    """A database opened by URL, and a pooled connection per public call."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout: float = 5.0,
        max_connections: int = 20,
        timeout: float = 5.0,
    ) -> None:
        opened = open_database(
            url, busy_timeout=busy_timeout, max_connections=max_connections, timeout=timeout
        )
        self._db, self._safe_url, self._password = opened
        self._postgres = isinstance(self._db, pw.PostgresqlDatabase)
        self._timeout = timeout
        self._deadline: Callable[[float], AbstractContextManager[None]] = _no_deadline
        if self._postgres:
            from .wait import deadline  # psycopg2 is there: the database opened

            self._deadline = deadline
        self._schema_ok = False  # checked on first use
        #: On a SQLite file, the token path's reads are answered from memory while nothing
        #: was committed (see sql_stamped_reads).
        self._stamped: StampedReads | None = None
        if not self._postgres and self._db.database != ":memory:":
            self._stamped = StampedReads(self._db.database, busy_timeout=busy_timeout)
        self._pin = threading.local()  # .active: this thread's calls share one connection
        # The token path's caches (see sql_cache): enabled groups by user id, grants by
        # subject, the names of the disabled groups (for directory users), and grants by the
        # subjects of a request.
        self._groups_cache: VersionedCache[int, tuple[str, ...]] = VersionedCache()
        self._grants_cache: VersionedCache[str, tuple[Grant, ...]] = VersionedCache(50_000)
        self._disabled_groups_cache: VersionedCache[str, frozenset[str]] = VersionedCache(1)
        #: What the last login lookup (the user's columns, the counters), login record and
        #: access credential made of a row: by user key, user id and secret hash.
        self._parsed_lookups: ConvertedRows[
            str, tuple[tuple[Any, ...] | None, tuple[LoginFailures, ...]]
        ] = ConvertedRows()
        self._parsed_records: ConvertedRows[int, LoginRecord] = ConvertedRows()
        self._parsed_credentials: ConvertedRows[str, AccessCredential] = ConvertedRows()
        #: grants_for_subjects' whole answer by the subjects asked for (one per identity).
        self._merged_grants_cache: VersionedCache[tuple[str, ...], tuple[Grant, ...]] = (
            VersionedCache()
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._safe_url!r})"

    def close(self) -> None:
        """Close every pooled connection (an in-memory database is gone afterwards)."""
        if self._stamped is not None:
            self._stamped.close()
        self._db.close_all()  # type: ignore[attr-defined]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- sessions and errors --------------------------------------------------------------
    def _unavailable(self, exc: BaseException) -> BackendUnavailable:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if self._password:
            reason = reason.replace(self._password, "***")
        return BackendUnavailable(f"database {self._safe_url} is unavailable: {reason}")

    def hold_connection(self) -> None:
        """From now on, every call this thread makes shares one pooled connection, taken at
        the first call, until :meth:`release_connection`: one pool checkout for a whole web
        request instead of one per call. Holding while held changes nothing.

        While held, the policy version read first is used for the rest of the block (until
        this thread writes one), so a token request reads it once: its groups and grants
        then come from the same version.
        """
        self._pin.active = True
        self._pin.version = None
        self._pin.ahead = None

    def release_connection(self) -> None:
        """Give back the connection :meth:`hold_connection` kept (if one was taken)."""
        self._pin.active = False
        self._pin.version = None
        self._pin.ahead = None
        if not self._db.is_closed():
            try:  # noqa: SIM105 - suppress() would add a context manager to every request
                self._db.close()
            except _UNAVAILABLE:  # a broken connection: the pool drops it
                pass

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """:meth:`hold_connection` for the block (not nested: the block's end releases)."""
        self.hold_connection()
        try:
            yield
        finally:
            self.release_connection()

    @contextmanager
    def connection_released(self) -> Iterator[None]:
        """While this thread waits on something else (a directory), the connection it holds
        goes back to the pool, so waiting requests cannot use up the pool; the next call
        takes one again (the policy version read stays). Inside a transaction, or when
        nothing is held, this changes nothing."""
        db = self._db
        if getattr(self._pin, "active", False) and not db.is_closed() and not db.in_transaction():
            with suppress(*_UNAVAILABLE):  # a broken connection: the pool drops it
                db.close()
        yield

    def _read_ahead(self, username: str, login: tuple[Any, ...] | None) -> None:
        """Keep a login record's columns (None: no such user), read ahead of
        :meth:`_take_read_ahead` in the same held connection (see ``login_failures``)."""
        self._pin.ahead = (username, login)

    def _take_read_ahead(self, username: str) -> tuple[tuple[Any, ...] | None] | None:
        """The login columns read ahead for ``username`` in this held connection, once, as a
        1-tuple (holding None for no such user); None when there are none to take. Any
        other call of the backend in between drops them (see :meth:`_session`)."""
        ahead = getattr(self._pin, "ahead", None)
        if ahead is None:
            return None
        self._pin.ahead = None
        return (ahead[1],) if ahead[0] == username else None

    def _connection(self) -> AbstractContextManager[object]:
        db = self._db
        if getattr(self._pin, "active", False):
            if db.is_closed():
                db.connect()
            return nullcontext()  # stays open until the pinned block ends
        return db.connection_context()

    @contextmanager
    def _session(self, *, write: bool = False, check: bool = True) -> Iterator[pw.Database]:
        """A pooled connection for one call; ``write`` also gets one transaction.

        Without ``write`` each statement commits on its own (the connection is in autocommit
        mode), which is all a single-statement write needs: no BEGIN/COMMIT round trips.
        """
        db = self._db
        if getattr(self._pin, "ahead", None) is not None:
            self._pin.ahead = None  # a write may change the user read ahead: read it again
        try:
            with self._deadline(self._timeout), self._connection():
                if check and not self._schema_ok:
                    self._check_schema(db)
                if write:
                    with db.atomic():
                        yield db
                else:
                    yield db
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from None
        except pw.IntegrityError as exc:  # a concurrent writer won the race
            reason = " ".join(str(exc).split())
            raise Conflict(f"the change clashes with existing data: {reason}") from None

    @contextmanager
    def _policy_write(self) -> Iterator[pw.Database]:
        """A write session for users, groups, memberships or grants.

        Its first statement steps the policy version (see :mod:`.sql_cache`), which every
        process's cached groups and grants are checked against. Taking that row's lock first
        also gives every such transaction the same lock order on PostgreSQL.
        """
        self._pin.version = None  # what this thread reads next must see this change
        with self._session(write=True) as db:
            self._rows(db, _STEP_POLICY_VERSION)
            yield db
        self._pin.version = None

    def _policy_version(self, db: pw.Database) -> int | None:
        held = self._held_version()
        if held is not None:
            return held
        rows = self._rows(db, _READ_POLICY_VERSION)
        return self._saw_version(int(rows[0][0]) if rows else None)

    def _read_policy_version(self) -> int | None:
        """:meth:`_policy_version` in a session of its own, if it has to be read at all."""
        held = self._held_version()
        if held is not None:
            return held
        rows = self._read(_READ_POLICY_VERSION)
        return self._saw_version(int(rows[0][0]) if rows else None)

    def _held_version(self) -> int | None:
        """The version read earlier while the connection is held (see hold_connection)."""
        return getattr(self._pin, "version", None) if getattr(self._pin, "active", False) else None

    def _saw_version(self, version: int | None) -> int | None:
        if version is not None and getattr(self._pin, "active", False):
            self._pin.version = version
        return version

    def _call_deadline(self) -> AbstractContextManager[None]:
        """One deadline for a call that may :meth:`_read` twice (reads inside keep it)."""
        return self._deadline(self._timeout)

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        """One hand-written read (``?`` placeholders) in a session of its own, as
        :meth:`_session` would run it, without its context managers and peewee's
        ``execute_sql`` layers (cursor checks, hooks), which cost as much as an indexed read.
        Kept: the deadline on PostgreSQL, peewee's DEBUG log of each statement and its
        mapping of driver errors (a broken connection is still BackendUnavailable)."""
        if self._postgres:
            with self._deadline(self._timeout):
                return self._read_now(sql, params)
        # SQLite has no deadline to enter (busy_timeout). Inside a transaction the read must
        # see the transaction's own writes: no remembered rows.
        stamped = self._stamped
        if stamped is not None and not self._db.in_transaction():
            return stamped.read(sql, params, self._read_now)
        return self._read_now(sql, params)

    def _read_now(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        """:meth:`_read` from the database: in one call for a held connection on SQLite (the
        token path's reads); every other read goes through :meth:`_read_open`."""
        db = self._db
        try:
            with _DRIVER_ERRORS:
                if not getattr(self._pin, "active", False):
                    with db.connection_context():
                        return self._read_open(db, sql, params)
                state = db._state  # type: ignore[attr-defined]
                if state.closed:
                    db.connect()  # stays open until the pinned block ends
                if self._postgres:
                    return self._read_open(db, sql, params)
                if not self._schema_ok:
                    self._check_schema(db)
                if _STATEMENTS.isEnabledFor(logging.DEBUG):
                    _STATEMENTS.debug((sql, params))
                rows: list[Any] = state.conn.execute(sql, params).fetchall()
                return rows
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from None

    def _read_open(self, db: pw.Database, sql: str, params: tuple[object, ...]) -> list[Any]:
        """:meth:`_read` on the connection open in ``db``."""
        if not self._schema_ok:
            self._check_schema(db)
        conn = db._state.conn  # type: ignore[attr-defined]
        if self._postgres:
            cursor = conn.cursor()
            try:
                self._execute(cursor, sql, params)
                rows: list[Any] = cursor.fetchall()
                return rows
            finally:
                cursor.close()
        found: list[Any] = self._execute(conn, sql, params).fetchall()
        return found

    def _execute(self, cursor: Any, sql: str, params: Sequence[object]) -> Any:
        """Run one statement (``?`` placeholders) on a driver cursor of this session's
        connection (``db.cursor()``), or on SQLite's connection itself, as :meth:`_rows`
        does without peewee's layers; what the driver's ``execute`` returns."""
        if self._postgres and params:
            sql = sql.replace("?", "%s")
        if _STATEMENTS.isEnabledFor(logging.DEBUG):
            _STATEMENTS.debug((sql, params))
        with _DRIVER_ERRORS:
            return cursor.execute(sql, params)

    def _rows(self, db: pw.Database, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        """Run hand-written SQL (``?`` placeholders; the hot path skips building a query)."""
        if self._postgres and params:
            sql = sql.replace("?", "%s")
        cursor = db.execute_sql(sql, params)  # type: ignore[no-untyped-call]
        try:
            return list(cursor.fetchall()) if cursor.description is not None else []
        finally:
            cursor.close()

    def _check_schema(self, db: pw.Database) -> None:
        """Once per backend: refuse to work on a database of another schema version."""
        found = read_schema_version(db)
        if found != SCHEMA_VERSION:
            raise BackendUnavailable(
                f"database {self._safe_url} has schema version {found}, this Dockit needs "
                f"{SCHEMA_VERSION}: run the migration (SqlBackend.migrate)"
            )
        self._schema_ok = True

    def _by_name(self, field: pw.Field[Any], *, descending: bool = False) -> pw.Node:
        """Order by code point, whatever the PostgreSQL database's collation is."""
        parts: list[pw.Node] = [field]
        if self._postgres:
            parts.append(pw.SQL('COLLATE "C"'))
        if descending:
            parts.append(pw.SQL("DESC"))
        return pw.NodeList(parts) if len(parts) > 1 else field

    # -- schema and health ----------------------------------------------------------------
    def migrate(self) -> int:
        """Create the tables or bring them to :data:`SCHEMA_VERSION`; return that version.

        Raises ConfigError if the database's schema is newer than this Dockit.
        """
        with self._session(write=True, check=False) as db:
            version = migrate_schema(db)
        self._schema_ok = True
        return version

    def schema_version(self) -> int:
        """The schema version recorded in the database (0 when it has no schema yet)."""
        with self._session(check=False) as db:
            return read_schema_version(db)

    def ping(self) -> None:
        """Return if the database answers and has this Dockit's schema; else raise
        BackendUnavailable."""
        with self._session() as db:
            db.execute_sql("SELECT 1").close()  # type: ignore[no-untyped-call]
