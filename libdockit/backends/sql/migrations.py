"""Schema versions of the SQL backend, and the steps between them.

``dockit_schema`` holds one row with the version of the schema the database has.
:func:`migrate_schema` applies the missing steps in order, inside the caller's transaction
(DDL is transactional in SQLite and PostgreSQL alike, so a failed step leaves the database
at its old version), and records the new version.

Every step is frozen: it creates exactly the tables its version introduced, from its own
copies of their definitions below, never from the current models in
:mod:`~libdockit.backends.sql.models`. So a fresh database runs step 1 then step 2 and ends up
where a version-1 database that runs step 2 ends up. To change the schema:

1. change the models in ``sql_models`` and bump its ``SCHEMA_VERSION``;
2. add a step here under the new version: explicit DDL (``db.execute_sql``) for changes to
   existing tables, and frozen model copies for new tables;
3. never edit an existing step or its frozen copies: databases out there were built by them.

A test builds a database with every step and checks it has exactly the tables, columns and
indexes the current models describe, so a model change without a step fails it.

Version history:

1. users, groups, memberships, grants, signing_keys.
2. ``users.credential_version``; ``audit_events``; ``refresh_tokens``.
3. ``login_failures`` (failed-login counters shared by every worker process).
4. ``policy_version`` (one row, stepped by every write to users, groups, memberships or grants).
5. ``refresh_tokens.source``; ``refresh_tokens.username`` no longer refers to ``users`` (directory
   users hold refresh tokens too).
6. ``login_failures.wrong_secret`` and ``wrong_secret_at`` (a wrong secret sent again counts
   once); ``login_failures.checking`` (attempts counted before their check, still checking).
7. ``access_credentials`` (robot accounts' and personal access tokens' hashed secrets).
8. ``trust_policies`` (workload-identity federation: trusted OIDC issuers and their terms).
9. ``audit_event_counts`` (events per kind, counted from the log) and the ``(kind, at, id)``
   index on ``audit_events``: retention finds its count cut from the oldest end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import peewee as pw

from ...errors import ConfigError
from .database import URL_KEY
from .models import SCHEMA_VERSION, NeverReusedId

_ADVISORY_LOCK = 0x646F636B6974  # "dockit": one migrator at a time on a PostgreSQL database


class _Frozen(pw.Model):
    class Meta:
        database = None  # the step runs every statement against the database it is given
        legacy_table_names = False


class SchemaRow(_Frozen):
    """The version bookkeeping every version reads the same way: never change it."""

    version = pw.IntegerField()

    class Meta:
        table_name = "dockit_schema"


# -- version 1 (frozen) -------------------------------------------------------------------------
class _UserV1(_Frozen):
    id = NeverReusedId()
    username = pw.TextField(unique=True)
    password_hash = pw.TextField()
    enabled = pw.BooleanField(default=True)
    is_admin = pw.BooleanField(default=False)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "users"


class _GroupV1(_Frozen):
    id = NeverReusedId()
    name = pw.TextField(unique=True)
    enabled = pw.BooleanField(default=True)
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "groups"


class _MembershipV1(_Frozen):
    id = NeverReusedId()
    user = pw.ForeignKeyField(_UserV1, on_delete="CASCADE")
    group = pw.ForeignKeyField(_GroupV1, on_delete="CASCADE")

    class Meta:
        table_name = "memberships"
        indexes = ((("user", "group"), True),)


class _GrantV1(_Frozen):
    id = NeverReusedId()
    subject = pw.TextField()
    resource_type = pw.TextField()
    pattern = pw.TextField()
    actions = pw.TextField()
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "grants"
        indexes = ((("subject", "resource_type", "pattern"), True),)


class _KeyV1(_Frozen):
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


_KeyV1.add_index(
    _KeyV1.index(_KeyV1.state, unique=True, where=(_KeyV1.state == "active"), name="one_active_key")
)


def _create_version_1(db: pw.Database) -> None:
    for model in (_UserV1, _GroupV1, _MembershipV1, _GrantV1, _KeyV1):  # referenced ones first
        pw.SchemaManager(model, db).create_all(safe=True)


# -- version 2 (frozen) -------------------------------------------------------------------------
class _AuditEventV2(_Frozen):
    id = NeverReusedId()
    at = pw.DateTimeField()
    kind = pw.TextField()
    actor = pw.TextField()
    action = pw.TextField()
    target = pw.TextField(null=True)
    before_json = pw.TextField(null=True)
    after_json = pw.TextField(null=True)
    detail_json = pw.TextField(null=True)
    client_address = pw.TextField(null=True)
    request_id = pw.TextField(null=True)

    class Meta:
        table_name = "audit_events"
        indexes = ((("at",), False), (("actor", "at"), False), (("target", "at"), False))


class _RefreshTokenV2(_Frozen):
    id = pw.TextField(primary_key=True)
    token_hash = pw.TextField(unique=True)
    user = pw.ForeignKeyField(
        _UserV1, field=_UserV1.username, column_name="username", on_delete="CASCADE"
    )
    service = pw.TextField()
    client_id = pw.TextField(null=True)
    created_at = pw.DateTimeField()
    last_used_at = pw.DateTimeField(null=True)
    expires_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "refresh_tokens"


def _upgrade_to_version_2(db: pw.Database) -> None:
    # Existing users start at 0; a constant default keeps this a metadata-only change on
    # PostgreSQL 11+ and a plain ADD COLUMN on SQLite (no table rebuild).
    db.execute_sql(  # type: ignore[no-untyped-call]
        'ALTER TABLE "users" ADD COLUMN "credential_version" INTEGER NOT NULL DEFAULT 0'
    ).close()
    for model in (_AuditEventV2, _RefreshTokenV2):
        pw.SchemaManager(model, db).create_all(safe=False)  # a leftover table is an error


# -- version 3 (frozen) -------------------------------------------------------------------------
class _LoginFailureV3(_Frozen):
    key = pw.TextField(primary_key=True)
    failures = pw.IntegerField()
    window_start = pw.DateTimeField()
    blocked_until = pw.DateTimeField(null=True)

    class Meta:
        table_name = "login_failures"


def _upgrade_to_version_3(db: pw.Database) -> None:
    pw.SchemaManager(_LoginFailureV3, db).create_all(safe=False)  # a leftover table is an error


# -- version 4 (frozen) -------------------------------------------------------------------------
class _PolicyVersionV4(_Frozen):
    id = pw.IntegerField(primary_key=True)
    version = pw.BigIntegerField()

    class Meta:
        table_name = "policy_version"


def _upgrade_to_version_4(db: pw.Database) -> None:
    pw.SchemaManager(_PolicyVersionV4, db).create_all(safe=False)  # a leftover table is an error
    _PolicyVersionV4.insert(id=1, version=1).execute(db)


# -- version 5 (frozen) -------------------------------------------------------------------------
class _RefreshTokenV5(_Frozen):
    id = pw.TextField(primary_key=True)
    token_hash = pw.TextField(unique=True)
    username = pw.TextField(index=True)
    service = pw.TextField()
    client_id = pw.TextField(null=True)
    created_at = pw.DateTimeField()
    last_used_at = pw.DateTimeField(null=True)
    expires_at = pw.DateTimeField(null=True)
    source = pw.TextField(default="local", constraints=[pw.SQL("DEFAULT 'local'")])

    class Meta:
        table_name = "refresh_tokens"


_COPY_V4_TOKENS = (
    'INSERT INTO "refresh_tokens" ("id", "token_hash", "username", "service", "client_id", '
    '"created_at", "last_used_at", "expires_at", "source") '
    'SELECT "id", "token_hash", "username", "service", "client_id", "created_at", '
    '"last_used_at", "expires_at", \'local\' FROM "refresh_tokens_v4"'
)


def _upgrade_to_version_5(db: pw.Database) -> None:
    if isinstance(db, pw.PostgresqlDatabase):
        for (name,) in db.execute_sql(  # type: ignore[no-untyped-call]
            "SELECT conname FROM pg_constraint WHERE conrelid = 'refresh_tokens'::regclass"
            " AND contype = 'f'"
        ).fetchall():
            db.execute_sql(f'ALTER TABLE "refresh_tokens" DROP CONSTRAINT "{name}"').close()  # type: ignore[no-untyped-call]
        db.execute_sql(  # type: ignore[no-untyped-call]
            'ALTER TABLE "refresh_tokens" ADD COLUMN "source" TEXT NOT NULL DEFAULT \'local\''
        ).close()
        return
    # SQLite cannot drop a foreign key: build the table anew under its name and copy the rows.
    for statement in (
        'ALTER TABLE "refresh_tokens" RENAME TO "refresh_tokens_v4"',
        'DROP INDEX IF EXISTS "refresh_tokens_token_hash"',
        'DROP INDEX IF EXISTS "refresh_tokens_username"',
    ):
        db.execute_sql(statement).close()  # type: ignore[no-untyped-call]
    pw.SchemaManager(_RefreshTokenV5, db).create_all(safe=False)
    for statement in (
        _COPY_V4_TOKENS,
        'DROP TABLE "refresh_tokens_v4"',
    ):
        db.execute_sql(statement).close()  # type: ignore[no-untyped-call]


# -- version 6 (frozen) -------------------------------------------------------------------------
def _upgrade_to_version_6(db: pw.Database) -> None:
    # Nullable columns, or a constant default: a metadata-only change on both databases.
    for statement in (
        'ALTER TABLE "login_failures" ADD COLUMN "wrong_secret" TEXT',
        'ALTER TABLE "login_failures" ADD COLUMN "wrong_secret_at" '
        + ("TIMESTAMP" if isinstance(db, pw.PostgresqlDatabase) else "DATETIME"),
        'ALTER TABLE "login_failures" ADD COLUMN "checking" INTEGER NOT NULL DEFAULT 0',
    ):
        db.execute_sql(statement).close()  # type: ignore[no-untyped-call]


# -- version 7 (frozen) -------------------------------------------------------------------------
class _AccessCredentialV7(_Frozen):
    id = pw.TextField(primary_key=True)
    kind = pw.TextField()
    name = pw.TextField()
    owner = pw.TextField(index=True)
    owner_source = pw.TextField()
    secret_hash = pw.TextField(unique=True)
    scopes = pw.TextField()
    created_at = pw.DateTimeField()
    expires_at = pw.DateTimeField(null=True)
    enabled = pw.BooleanField()
    access_token_lifetime_seconds = pw.IntegerField(null=True)
    last_used_at = pw.DateTimeField(null=True)
    last_used_from = pw.TextField(null=True)

    class Meta:
        table_name = "access_credentials"


_AccessCredentialV7.add_index(
    _AccessCredentialV7.index(
        _AccessCredentialV7.name,
        unique=True,
        where=(_AccessCredentialV7.kind == "robot"),
        name="one_robot_per_name",
    )
)


def _upgrade_to_version_7(db: pw.Database) -> None:
    pw.SchemaManager(_AccessCredentialV7, db).create_all(safe=False)  # a leftover is an error


# -- version 8 (frozen) -------------------------------------------------------------------------
class _TrustPolicyV8(_Frozen):
    name = pw.TextField(primary_key=True)
    issuer = pw.TextField()
    document = pw.TextField()

    class Meta:
        table_name = "trust_policies"


def _upgrade_to_version_8(db: pw.Database) -> None:
    pw.SchemaManager(_TrustPolicyV8, db).create_all(safe=False)  # a leftover is an error


# -- version 9 (frozen) -------------------------------------------------------------------------
class _AuditEventCountV9(_Frozen):
    kind = pw.TextField(primary_key=True)
    events = pw.BigIntegerField()

    class Meta:
        table_name = "audit_event_counts"


def _upgrade_to_version_9(db: pw.Database) -> None:
    pw.SchemaManager(_AuditEventCountV9, db).create_all(safe=False)  # a leftover is an error
    for statement in (
        'CREATE INDEX "audit_events_kind_at_id" ON "audit_events" ("kind", "at", "id")',
        'INSERT INTO "audit_event_counts" ("kind", "events")'
        ' SELECT "kind", COUNT(*) FROM "audit_events" GROUP BY "kind"',
    ):
        db.execute_sql(statement).close()  # type: ignore[no-untyped-call]


Migration = Callable[[pw.Database], None]

# version -> the step that moves a database from version - 1 to version.
MIGRATIONS: Mapping[int, Migration] = {
    1: _create_version_1,
    2: _upgrade_to_version_2,
    3: _upgrade_to_version_3,
    4: _upgrade_to_version_4,
    5: _upgrade_to_version_5,
    6: _upgrade_to_version_6,
    7: _upgrade_to_version_7,
    8: _upgrade_to_version_8,
    9: _upgrade_to_version_9,
}


def read_schema_version(db: pw.Database) -> int:
    """The version recorded in ``dockit_schema``; 0 for a database without the table."""
    if not db.table_exists(SchemaRow._meta.table_name):
        return 0
    return int(SchemaRow.select(pw.fn.MAX(SchemaRow.version)).scalar(db) or 0)


def migrate_schema(db: pw.Database) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`; call inside a transaction."""
    if isinstance(db, pw.PostgresqlDatabase):  # one migrator at a time, across processes
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK,)).close()  # type: ignore[no-untyped-call]
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
