"""The SQL backend (peewee): SQLite by default, PostgreSQL by URL.

``SqlBackend("sqlite:///relative.db")``, ``SqlBackend("sqlite:////abs/path.db")`` (one slash
after ``sqlite://`` is the separator, as in SQLAlchemy and ``playhouse.db_url``),
``SqlBackend("sqlite:///:memory:")`` or
``SqlBackend("postgresql://user:password@host:5432/dbname?sslmode=require")``. Call
:meth:`SqlBackend.migrate` once (e.g. at start or from the CLI) to create or upgrade the schema.

Connections come from a small per-backend pool and each public method holds one only for its
own duration, so the backend is safe to share between threads. Every write runs in one
transaction (SQLite: ``BEGIN IMMEDIATE``, so writers queue on the busy timeout instead of
failing on a lock upgrade). A database that cannot answer raises
:class:`~libdockit.errors.BackendUnavailable`, whose message never contains the password;
so does one whose schema is not this Dockit's version, until it is migrated. A uniqueness
race lost to a concurrent writer is a :class:`~libdockit.errors.Conflict`. An in-memory
SQLite database lives in one connection that threads take turns with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

import peewee as pw
from playhouse.pool import MaxConnectionsExceeded

from ..errors import BackendUnavailable, Conflict, NotFound
from ..model import GROUP_PREFIX, USER_PREFIX, Grant, Group, Page, User
from .base import KeyState, StoredKey
from .sql_models import (
    ACTIVE,
    SCHEMA_VERSION,
    GrantRow,
    GroupRow,
    KeyRow,
    MembershipRow,
    UserRow,
    grant_record,
    group_record,
    groups_of,
    key_record,
    key_values,
    members_of,
    migrate_schema,
    open_database,
    read_schema_version,
    to_db,
    user_record,
    utc_now,
)

_UNAVAILABLE = (pw.OperationalError, pw.InterfaceError, MaxConnectionsExceeded)


class SqlBackend:
    """Implements UserStore, GroupSource, GrantStore, KeyStore and HealthCheck over SQL."""

    def __init__(self, url: str, *, busy_timeout: float = 5.0, max_connections: int = 20) -> None:
        opened = open_database(url, busy_timeout=busy_timeout, max_connections=max_connections)
        self._db, self._safe_url, self._password = opened
        self._postgres = isinstance(self._db, pw.PostgresqlDatabase)
        self._schema_ok = False  # checked on first use

    def __repr__(self) -> str:
        return f"SqlBackend({self._safe_url!r})"

    def close(self) -> None:
        """Close every pooled connection (an in-memory database is gone afterwards)."""
        self._db.close_all()  # type: ignore[attr-defined]

    def __enter__(self) -> SqlBackend:
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

    @contextmanager
    def _session(self, *, write: bool = False, check: bool = True) -> Iterator[pw.Database]:
        """A pooled connection for one call; a write also gets one transaction."""
        db = self._db
        try:
            with db.connection_context():
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

    def _check_schema(self, db: pw.Database) -> None:
        """Once per backend: refuse to work on a database of another schema version."""
        found = read_schema_version(db)
        if found != SCHEMA_VERSION:
            raise BackendUnavailable(
                f"database {self._safe_url} has schema version {found}, this Dockit needs "
                f"{SCHEMA_VERSION}: run the migration (SqlBackend.migrate)"
            )
        self._schema_ok = True

    def _by_name(self, field: pw.Field[Any]) -> pw.Node:
        """Order by code point, whatever the PostgreSQL database's collation is."""
        return pw.NodeList((field, pw.SQL('COLLATE "C"'))) if self._postgres else field

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

    # -- users ----------------------------------------------------------------------------
    def _user_row(self, db: pw.Database, username: str) -> UserRow:
        row = UserRow.select().where(UserRow.username == username).get_or_none(db)
        if row is None:
            raise NotFound(f"user {username!r} not found")
        return row

    def _user_view(self, db: pw.Database, username: str) -> User:
        row = self._user_row(db, username)
        return user_record(row, groups_of(db, [row.id])[row.id])

    def create_user(
        self, username: str, password_hash: str, *, is_admin: bool = False, enabled: bool = True
    ) -> User:
        now = utc_now()
        with self._session(write=True) as db:
            if UserRow.select().where(UserRow.username == username).exists(db):
                raise Conflict(f"user {username!r} exists already")
            UserRow.insert(
                username=username,
                password_hash=password_hash,
                enabled=enabled,
                is_admin=is_admin,
                created_at=to_db(now),
                updated_at=to_db(now),
            ).execute(db)
        return User(username, enabled, is_admin, (), now, now)

    def get_user(self, username: str) -> User:
        with self._session() as db:
            return self._user_view(db, username)

    def get_credentials(self, username: str) -> tuple[User, str] | None:
        with self._session() as db:
            row = UserRow.select().where(UserRow.username == username).get_or_none(db)
            if row is None:
                return None
            return user_record(row, groups_of(db, [row.id])[row.id]), row.password_hash

    def list_users(self, *, offset: int = 0, limit: int = 100) -> Page[User]:
        with self._session() as db:
            total = UserRow.select().count(db)
            query = UserRow.select().order_by(self._by_name(UserRow.username))
            rows = list(query.offset(max(offset, 0)).limit(max(limit, 0)).bind(db))
            groups = groups_of(db, [r.id for r in rows])
            return Page([user_record(r, groups[r.id]) for r in rows], total)

    def _update_user(self, username: str, **changes: object) -> User:
        with self._session(write=True) as db:
            self._user_row(db, username)
            changes["updated_at"] = to_db(utc_now())
            UserRow.update(**changes).where(UserRow.username == username).execute(db)
            return self._user_view(db, username)

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self._update_user(username, password_hash=password_hash)

    def set_user_enabled(self, username: str, enabled: bool) -> User:
        return self._update_user(username, enabled=enabled)

    def set_user_admin(self, username: str, is_admin: bool) -> User:
        return self._update_user(username, is_admin=is_admin)

    def delete_user(self, username: str) -> None:
        with self._session(write=True) as db:
            row = self._user_row(db, username)
            GrantRow.delete().where(GrantRow.subject == USER_PREFIX + username).execute(db)
            UserRow.delete().where(UserRow.id == row.id).execute(db)  # memberships cascade

    # -- groups ---------------------------------------------------------------------------
    def _group_row(self, db: pw.Database, name: str) -> GroupRow:
        row = GroupRow.select().where(GroupRow.name == name).get_or_none(db)
        if row is None:
            raise NotFound(f"group {name!r} not found")
        return row

    def _group_view(self, db: pw.Database, name: str) -> Group:
        row = self._group_row(db, name)
        return group_record(row, members_of(db, [row.id])[row.id])

    def create_group(self, name: str, *, enabled: bool = True) -> Group:
        now = utc_now()
        with self._session(write=True) as db:
            if GroupRow.select().where(GroupRow.name == name).exists(db):
                raise Conflict(f"group {name!r} exists already")
            GroupRow.insert(name=name, enabled=enabled, created_at=to_db(now)).execute(db)
        return Group(name, enabled, (), now)

    def get_group(self, name: str) -> Group:
        with self._session() as db:
            return self._group_view(db, name)

    def list_groups(self, *, offset: int = 0, limit: int = 100) -> Page[Group]:
        with self._session() as db:
            total = GroupRow.select().count(db)
            query = GroupRow.select().order_by(self._by_name(GroupRow.name))
            rows = list(query.offset(max(offset, 0)).limit(max(limit, 0)).bind(db))
            members = members_of(db, [r.id for r in rows])
            return Page([group_record(r, members[r.id]) for r in rows], total)

    def set_group_enabled(self, name: str, enabled: bool) -> Group:
        with self._session(write=True) as db:
            self._group_row(db, name)
            GroupRow.update(enabled=enabled).where(GroupRow.name == name).execute(db)
            return self._group_view(db, name)

    def delete_group(self, name: str) -> None:
        with self._session(write=True) as db:
            row = self._group_row(db, name)
            GrantRow.delete().where(GrantRow.subject == GROUP_PREFIX + name).execute(db)
            GroupRow.delete().where(GroupRow.id == row.id).execute(db)  # memberships cascade

    def add_member(self, group: str, username: str) -> Group:
        with self._session(write=True) as db:
            group_row = self._group_row(db, group)
            user_row = self._user_row(db, username)
            MembershipRow.insert(user=user_row.id, group=group_row.id).on_conflict_ignore().execute(
                db
            )
            return self._group_view(db, group)

    def remove_member(self, group: str, username: str) -> Group:
        with self._session(write=True) as db:
            group_row = self._group_row(db, group)
            user_ids = UserRow.select(UserRow.id).where(UserRow.username == username)
            removed = (
                MembershipRow.delete()
                .where((MembershipRow.group == group_row.id) & MembershipRow.user.in_(user_ids))
                .execute(db)
            )
            if not removed:
                raise NotFound(f"user {username!r} is not a member of group {group!r}")
            return self._group_view(db, group)

    def groups_for(self, username: str) -> tuple[str, ...]:
        with self._session() as db:
            query = (
                GroupRow.select(GroupRow.name)
                .join(MembershipRow, on=MembershipRow.group == GroupRow.id)
                .join(UserRow, on=MembershipRow.user == UserRow.id)
                .where((UserRow.username == username) & (GroupRow.enabled == True))  # noqa: E712
                .tuples()
            )
            return tuple(sorted(name for (name,) in query.execute(db)))

    # -- grants ---------------------------------------------------------------------------
    def grants_for_subjects(self, subjects: Sequence[str]) -> list[Grant]:
        if not subjects:
            return []
        with self._session() as db:
            query = GrantRow.select().where(GrantRow.subject.in_(list(set(subjects))))
            return [grant_record(r) for r in query.order_by(GrantRow.id).bind(db)]

    def add_grant(self, grant: Grant) -> Grant:
        now = utc_now()
        with self._session(write=True) as db:
            existing = (
                GrantRow.select(GrantRow.id)
                .where(
                    (GrantRow.subject == grant.subject)
                    & (GrantRow.resource_type == grant.resource_type)
                    & (GrantRow.pattern == grant.pattern)
                )
                .get_or_none(db)
            )
            if existing is not None:
                raise Conflict(
                    f"a grant for {grant.subject} on {grant.resource_type}:{grant.pattern} "
                    f"exists already (id {existing.id})",
                    detail={"id": existing.id},
                )
            grant_id = GrantRow.insert(
                subject=grant.subject,
                resource_type=grant.resource_type,
                pattern=grant.pattern,
                actions=",".join(grant.actions),
                created_at=to_db(now),
            ).execute(db)
        return Grant(
            grant.subject, grant.resource_type, grant.pattern, grant.actions, int(grant_id), now
        )

    def get_grant(self, grant_id: int) -> Grant:
        with self._session() as db:
            row = GrantRow.select().where(GrantRow.id == grant_id).get_or_none(db)
            if row is None:
                raise NotFound(f"grant {grant_id} not found")
            return grant_record(row)

    def delete_grant(self, grant_id: int) -> None:
        with self._session(write=True) as db:
            if not GrantRow.delete().where(GrantRow.id == grant_id).execute(db):
                raise NotFound(f"grant {grant_id} not found")

    def list_grants(
        self, *, subject: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[Grant]:
        with self._session() as db:
            query = GrantRow.select()
            if subject is not None:
                query = query.where(GrantRow.subject == subject)
            total = query.count(db)
            page = query.order_by(GrantRow.id).offset(max(offset, 0)).limit(max(limit, 0))
            return Page([grant_record(r) for r in page.bind(db)], total)

    # -- keys -----------------------------------------------------------------------------
    def _lock_keys(self, db: pw.Database) -> None:
        """Serialise key writers (SQLite's BEGIN IMMEDIATE does that already)."""
        if self._postgres:
            sql = "LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE"
            db.execute_sql(sql).close()  # type: ignore[no-untyped-call]

    def list_keys(self) -> list[StoredKey]:
        with self._session() as db:
            query = KeyRow.select().order_by(KeyRow.created_at, KeyRow.kid)
            return [key_record(r) for r in query.bind(db)]

    def add_key(self, key: StoredKey) -> None:
        with self._session(write=True) as db:
            self._lock_keys(db)
            if KeyRow.select().where(KeyRow.kid == key.kid).exists(db):
                raise Conflict(f"key {key.kid} exists already")
            if key.state == ACTIVE and KeyRow.select().where(KeyRow.state == ACTIVE).exists(db):
                raise Conflict("another key is active already")
            KeyRow.insert(**key_values(key)).execute(db)

    def set_key_state(self, kid: str, state: KeyState, at: datetime) -> StoredKey:
        when = to_db(at)
        with self._session(write=True) as db:
            self._lock_keys(db)
            if not KeyRow.select().where(KeyRow.kid == kid).exists(db):
                raise NotFound(f"key {kid} not found")
            changes: dict[str, object] = {"state": state}
            if state == ACTIVE:
                KeyRow.update(state="retired", retired_at=when).where(
                    (KeyRow.state == ACTIVE) & (KeyRow.kid != kid)
                ).execute(db)
                changes["activated_at"] = when
            elif state == "retired":
                changes["retired_at"] = when
            KeyRow.update(**changes).where(KeyRow.kid == kid).execute(db)
            return key_record(KeyRow.select().where(KeyRow.kid == kid).get(db))
