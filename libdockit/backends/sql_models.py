"""The SQL backend's schema and plumbing: tables, migration steps, opening a database by URL.

The model classes are bound to no database (``Meta.database = None``): each
:class:`~libdockit.backends.sql.SqlBackend` runs every query against its own database with
``query.bind(db)`` / ``query.execute(db)``, so several backends (different URLs) can live in
one process and in several threads without rebinding shared classes.

Schema versions
---------------
``dockit_schema`` holds one row with the version of the schema the database has. To change
the schema, bump :data:`SCHEMA_VERSION`, change the models, and add a step to
:data:`MIGRATIONS` under the new version that moves a database from the previous version to
the new one (explicit DDL, e.g. ``playhouse.migrate`` operations or ``db.execute_sql``); at
the same time freeze step 1 by giving it its own copy of the version-1 tables, because step 1
builds the tables from the current models. :func:`migrate_schema` applies the missing steps in
order, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import peewee as pw
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from ..errors import ConfigError
from ..model import Grant, Group, User
from .base import KeyState, StoredKey

SCHEMA_VERSION = 1
URL_KEY = "database.url"
ACTIVE = "active"


class _Id(pw.AutoField):
    """An id that is never handed out twice: SQLite reuses the largest rowid after a delete
    unless the column says AUTOINCREMENT (PostgreSQL's SERIAL never reuses one)."""

    def ddl(self, ctx: Any) -> pw.NodeList:
        node: pw.NodeList = super().ddl(ctx)
        if ctx.state.field_types.get("AUTO") == "INTEGER":  # SQLite's rowid alias
            return pw.NodeList((node, pw.SQL("AUTOINCREMENT")))
        return node


class _Base(pw.Model):
    class Meta:
        database = None  # bound per query by SqlBackend
        legacy_table_names = False


class SchemaRow(_Base):
    version = pw.IntegerField()

    class Meta:
        table_name = "dockit_schema"


class UserRow(_Base):
    id = _Id()
    username = pw.TextField(unique=True)
    password_hash = pw.TextField()
    enabled = pw.BooleanField(default=True)
    is_admin = pw.BooleanField(default=False)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "users"


class GroupRow(_Base):
    id = _Id()
    name = pw.TextField(unique=True)
    enabled = pw.BooleanField(default=True)
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "groups"


class MembershipRow(_Base):
    id = _Id()
    user = pw.ForeignKeyField(UserRow, on_delete="CASCADE", backref="memberships")
    group = pw.ForeignKeyField(GroupRow, on_delete="CASCADE", backref="memberships")

    class Meta:
        table_name = "memberships"
        indexes = ((("user", "group"), True),)


class GrantRow(_Base):
    """``actions`` is the canonical action list joined with commas (``pull,push``).

    The unique index on (subject, resource_type, pattern) has ``subject`` as its leading
    column, so it is also the index that subject lookups use; a separate one would only
    slow writes down.
    """

    id = _Id()
    subject = pw.TextField()
    resource_type = pw.TextField()
    pattern = pw.TextField()
    actions = pw.TextField()
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "grants"
        indexes = ((("subject", "resource_type", "pattern"), True),)


class KeyRow(_Base):
    kid = pw.TextField(primary_key=True)
    algorithm = pw.TextField()
    private_key_pem = pw.BlobField()
    certificate_chain_pem = pw.BlobField()
    state = pw.TextField()
    created_at = pw.DateTimeField()
    not_after = pw.DateTimeField()
    activated_at = pw.DateTimeField(null=True)
    retired_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "signing_keys"


# At most one active key, enforced by the database too (a partial unique index), so two
# processes rotating keys at once cannot both win.
KeyRow.add_index(
    KeyRow.index(KeyRow.state, unique=True, where=(KeyRow.state == ACTIVE), name="one_active_key")
)

# -- rows <-> records ----------------------------------------------------------------------
# Every database stores naive UTC (SQLite has no time zones); records carry aware UTC.


def to_db(value: datetime) -> datetime:
    """Naive UTC (a naive value is taken to be UTC already)."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def from_db(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def user_record(row: UserRow, groups: Sequence[str]) -> User:
    created, updated = from_db(row.created_at), from_db(row.updated_at)
    return User(row.username, row.enabled, row.is_admin, tuple(sorted(groups)), created, updated)


def group_record(row: GroupRow, members: Sequence[str]) -> Group:
    return Group(row.name, row.enabled, tuple(sorted(members)), from_db(row.created_at))


def grant_record(row: GrantRow) -> Grant:
    actions = tuple(a for a in row.actions.split(",") if a)
    created = from_db(row.created_at)
    return Grant(row.subject, row.resource_type, row.pattern, actions, row.id, created)


def key_record(row: KeyRow) -> StoredKey:
    state: KeyState = row.state  # type: ignore[assignment]
    return StoredKey(
        kid=row.kid,
        algorithm=row.algorithm,
        private_key_pem=bytes(row.private_key_pem),  # PostgreSQL gives a memoryview
        certificate_chain_pem=bytes(row.certificate_chain_pem),
        state=state,
        created_at=from_db(row.created_at),
        not_after=from_db(row.not_after),
        activated_at=None if row.activated_at is None else from_db(row.activated_at),
        retired_at=None if row.retired_at is None else from_db(row.retired_at),
    )


def key_values(key: StoredKey) -> dict[str, object]:
    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "private_key_pem": key.private_key_pem,
        "certificate_chain_pem": key.certificate_chain_pem,
        "state": key.state,
        "created_at": to_db(key.created_at),
        "not_after": to_db(key.not_after),
        "activated_at": None if key.activated_at is None else to_db(key.activated_at),
        "retired_at": None if key.retired_at is None else to_db(key.retired_at),
    }


def _names_by_id(
    db: pw.Database,
    ids: Sequence[int],
    owner: pw.Field[Any],
    name: pw.Field[Any],
    on: pw.Expression,
) -> dict[int, list[str]]:
    """``{owner id: [name, ...]}`` over memberships, in one query."""
    found: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        query = MembershipRow.select(owner, name).join(name.model, on=on)
        for owner_id, value in query.where(owner.in_(list(ids))).tuples().execute(db):
            found[owner_id].append(value)
    return found


def groups_of(db: pw.Database, user_ids: Sequence[int]) -> dict[int, list[str]]:
    """Names of every group (enabled or not) of each user, by user id."""
    on = MembershipRow.group == GroupRow.id
    return _names_by_id(db, user_ids, MembershipRow.user, GroupRow.name, on)


def members_of(db: pw.Database, group_ids: Sequence[int]) -> dict[int, list[str]]:
    """Usernames of the members of each group, by group id."""
    on = MembershipRow.user == UserRow.id
    return _names_by_id(db, group_ids, MembershipRow.group, UserRow.username, on)


# -- schema ---------------------------------------------------------------------------------
TABLES: tuple[type[pw.Model], ...] = (UserRow, GroupRow, MembershipRow, GrantRow, KeyRow)


def _create_version_1(db: pw.Database) -> None:
    for model in TABLES:  # in dependency order: users and groups before memberships
        pw.SchemaManager(model, db).create_all(safe=True)


Migration = Callable[[pw.Database], None]

# version -> the step that moves a database from version - 1 to version.
MIGRATIONS: Mapping[int, Migration] = {1: _create_version_1}


def read_schema_version(db: pw.Database) -> int:
    """The version recorded in ``dockit_schema``; 0 for a database without the table."""
    if not db.table_exists(SchemaRow._meta.table_name):
        return 0
    return int(SchemaRow.select(pw.fn.MAX(SchemaRow.version)).scalar(db) or 0)


def migrate_schema(db: pw.Database) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`; call inside a transaction."""
    if isinstance(db, pw.PostgresqlDatabase):  # one migrator at a time, across processes
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (0x646F636B6974,)).close()  # type: ignore[no-untyped-call]
    pw.SchemaManager(SchemaRow, db).create_table(safe=True)
    current = read_schema_version(db)
    if current > SCHEMA_VERSION:
        raise ConfigError(
            URL_KEY,
            f"the database schema is version {current}, newer than this Dockit understands "
            f"(version {SCHEMA_VERSION}); upgrade Dockit or point it at another database",
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[version](db)
    if current == 0:
        SchemaRow.insert(version=SCHEMA_VERSION).execute(db)
    elif current < SCHEMA_VERSION:
        SchemaRow.update(version=SCHEMA_VERSION).execute(db)
    return SCHEMA_VERSION


class OpenedDatabase(NamedTuple):
    db: pw.Database
    safe_url: str  # the URL with the password replaced by ***
    password: str  # to scrub from driver messages ("" if none)


def open_database(url: str, *, busy_timeout: float, max_connections: int) -> OpenedDatabase:
    """A pooled peewee database for ``url``; connects lazily (nothing is opened here)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if parts.netloc or not path:
            raise ConfigError(URL_KEY, "use sqlite:///relative/path.db or sqlite:////abs/path.db")
        memory = path == ":memory:"
        pragmas: list[tuple[str, object]] = [
            ("busy_timeout", int(busy_timeout * 1000)),
            ("foreign_keys", 1),
        ]
        if not memory:
            pragmas.append(("journal_mode", "wal"))
        db = PooledSqliteDatabase(  # type: ignore[no-untyped-call]
            path,
            pragmas=pragmas,
            lock_type="IMMEDIATE",  # writers take the lock up front and queue on busy_timeout
            check_same_thread=False,  # pooled connections move between threads
            max_connections=1 if memory else max_connections,  # one in-memory db, shared
            stale_timeout=None if memory else 600,
            timeout=max(busy_timeout, 1.0) * 2,  # how long to wait for a free connection
            autoconnect=False,
        )
        return OpenedDatabase(db, url, "")
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(URL_KEY, "must start with sqlite:/// or postgresql://")
    try:
        import psycopg2  # noqa: F401 - optional driver, imported lazily
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
    pg_db = PooledPostgresqlDatabase(  # type: ignore[no-untyped-call]
        dbname,
        max_connections=max_connections,
        stale_timeout=600,
        timeout=10,
        autoconnect=False,
        **params,
    )
    return OpenedDatabase(pg_db, safe_url, password)
