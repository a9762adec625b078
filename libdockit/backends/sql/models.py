"""The SQL backend's tables as they are now (schema version :data:`SCHEMA_VERSION`); the
conversions between rows and records are in :mod:`libdockit.backends.sql.records`.

The model classes are bound to no database (``Meta.database = None``): each
:class:`~libdockit.backends.sql.SqlBackend` runs every query against its own database with
``query.bind(db)`` / ``query.execute(db)``, so several backends (different URLs) can live in
one process and in several threads without rebinding shared classes.

These models are what queries use; the tables are created by the migration steps in
:mod:`libdockit.backends.sql.migrations`, which keep their own frozen copy of each version's
DDL. To change the schema: change the models here, bump :data:`SCHEMA_VERSION`, and add a step
there. A test checks that a database built by the steps has exactly the tables, columns and
indexes these models would create.
"""

from __future__ import annotations

from typing import Any

import peewee as pw

SCHEMA_VERSION = 9
ACTIVE = "active"


class NeverReusedId(pw.AutoField):
    """An id that is never handed out twice: SQLite reuses the largest rowid after a delete
    unless the column says AUTOINCREMENT (PostgreSQL's SERIAL never reuses one).

    Its DDL is part of every frozen migration step: never change it.
    """

    def ddl(self, ctx: Any) -> pw.NodeList:
        node: pw.NodeList = super().ddl(ctx)
        if ctx.state.field_types.get("AUTO") == "INTEGER":  # SQLite's rowid alias
            return pw.NodeList((node, pw.SQL("AUTOINCREMENT")))
        return node


class _Base(pw.Model):
    class Meta:
        database = None  # bound per query by SqlBackend
        legacy_table_names = False


class UserRow(_Base):
    id = NeverReusedId()
    username = pw.TextField(unique=True)
    password_hash = pw.TextField()
    enabled = pw.BooleanField(default=True)
    is_admin = pw.BooleanField(default=False)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()
    # Steps by one on every credential change (see UserStore.credential_version).
    credential_version = pw.IntegerField(default=0, constraints=[pw.SQL("DEFAULT 0")])

    class Meta:
        table_name = "users"


class GroupRow(_Base):
    id = NeverReusedId()
    name = pw.TextField(unique=True)
    enabled = pw.BooleanField(default=True)
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "groups"


class MembershipRow(_Base):
    id = NeverReusedId()
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

    id = NeverReusedId()
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


class AuditEventRow(_Base):
    """``before_json``/``after_json``/``detail_json`` hold :func:`dump_json_object` text."""

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
        indexes = (
            (("at",), False),
            (("actor", "at"), False),
            (("target", "at"), False),
            (("kind", "at", "id"), False),  # retention's cut: the oldest of a kind first
        )


class AuditEventCountRow(_Base):
    """How many events of each kind ``audit_events`` holds, kept in the transaction of every
    write and prune of the log: the count bound's cut is then the oldest events beyond it,
    found by walking those few, not the newest ``keep_last`` (see :mod:`.audit`)."""

    kind = pw.TextField(primary_key=True)
    events = pw.BigIntegerField()

    class Meta:
        table_name = "audit_event_counts"


class RefreshTokenRow(_Base):
    """``username`` is a local user's name when ``source`` is ``local``, else a directory
    user's; no foreign key, so deleting a local user deletes its tokens by hand."""

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


class LoginFailureRow(_Base):
    """Failed-login counters (see LoginFailureStore), keyed ``user:NAME``/``client:ADDR``;
    ``wrong_secret`` is a keyed hash of the last wrong secret (never the secret itself);
    ``checking`` counts reserved attempts whose secret is still being checked."""

    key = pw.TextField(primary_key=True)
    failures = pw.IntegerField()
    window_start = pw.DateTimeField()
    blocked_until = pw.DateTimeField(null=True)
    wrong_secret = pw.TextField(null=True)
    wrong_secret_at = pw.DateTimeField(null=True)
    checking = pw.IntegerField(default=0, constraints=[pw.SQL("DEFAULT 0")])

    class Meta:
        table_name = "login_failures"


class PolicyVersionRow(_Base):
    """One row (``id`` 1) whose ``version`` steps at the start of every transaction that
    writes users, groups, memberships or grants: what lets each process cache groups and
    grants and still see another process's change on its next request (see
    :mod:`libdockit.backends.sql.cache`)."""

    id = pw.IntegerField(primary_key=True)
    version = pw.BigIntegerField()

    class Meta:
        table_name = "policy_version"


class AccessCredentialRow(_Base):
    """Robots' and personal access tokens' secrets (see AccessCredentialStore), found by
    ``secret_hash`` on every such login. ``owner`` is a subject (``user:NAME`` or
    ``group:NAME``) with no foreign key, like refresh tokens' users: deleting a local owner
    deletes its rows by hand. ``scopes`` is a JSON list; a robot's name is unique among
    robots (a partial index)."""

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


AccessCredentialRow.add_index(
    AccessCredentialRow.index(
        AccessCredentialRow.name,
        unique=True,
        where=(AccessCredentialRow.kind == "robot"),
        name="one_robot_per_name",
    )
)


class TrustPolicyRow(_Base):
    """Workload-identity trust policies (see TrustPolicyStore) by name: the issuer for
    listings, the whole policy as its JSON document (``policy_document``)."""

    name = pw.TextField(primary_key=True)
    issuer = pw.TextField()
    document = pw.TextField()

    class Meta:
        table_name = "trust_policies"


# Every data table (``dockit_schema`` belongs to migrations), referenced ones first.
TABLES: tuple[type[pw.Model], ...] = (
    UserRow,
    GroupRow,
    MembershipRow,
    GrantRow,
    KeyRow,
    AuditEventRow,
    AuditEventCountRow,
    RefreshTokenRow,
    LoginFailureRow,
    PolicyVersionRow,
    AccessCredentialRow,
    TrustPolicyRow,
)
