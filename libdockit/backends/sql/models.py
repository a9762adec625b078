"""The SQL backend's tables as they are now (schema version :data:`SCHEMA_VERSION`), and the
conversions between rows and records.

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

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import peewee as pw

from ...model import (
    AuditEvent,
    Grant,
    Group,
    KeyState,
    RefreshToken,
    StoredKey,
    User,
    dump_json_object,
    load_json_object,
)

SCHEMA_VERSION = 6
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
        )


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


# -- rows <-> records ----------------------------------------------------------------------
# Every database stores naive UTC (SQLite has no time zones); records carry aware UTC.


def to_db(value: datetime) -> datetime:
    """Naive UTC (a naive value is taken to be UTC already)."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def from_db(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def maybe_to_db(value: datetime | None) -> datetime | None:
    return None if value is None else to_db(value)


def maybe_from_db(value: datetime | None) -> datetime | None:
    return None if value is None else from_db(value)


_TIME_COLUMN = pw.DateTimeField()


def time_from_column(value: object) -> datetime | None:
    """A time column read by hand-written SQL (SQLite gives text, PostgreSQL a naive
    datetime), as aware UTC; None stays None. Text as peewee writes it parses with
    ``fromisoformat`` (peewee's own parser tries strptime formats in turn, ten times slower)."""
    if isinstance(value, str):
        try:
            parsed_text = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed_text.astimezone(UTC) if parsed_text.tzinfo else from_db(parsed_text)
    parsed = _TIME_COLUMN.python_value(value)  # type: ignore[no-untyped-call]
    return None if parsed is None else from_db(parsed)


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
        activated_at=maybe_from_db(row.activated_at),
        retired_at=maybe_from_db(row.retired_at),
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
        "activated_at": maybe_to_db(key.activated_at),
        "retired_at": maybe_to_db(key.retired_at),
    }


#: The fields of an audit event's row, in the order :func:`event_row` gives their values.
EVENT_COLUMNS = (
    "at",
    "kind",
    "actor",
    "action",
    "target",
    "before_json",
    "after_json",
    "detail_json",
    "client_address",
    "request_id",
)


def event_row(event: AuditEvent, at: datetime) -> tuple[object, ...]:
    """The row for ``event`` recorded ``at``, in :data:`EVENT_COLUMNS` order; the JSON is
    checked before anything is written. Every value but ``at`` (a naive UTC datetime) is
    text or None."""
    return (
        to_db(at),
        event.kind,
        event.actor,
        event.action,
        event.target,
        dump_json_object("before", event.before),
        dump_json_object("after", event.after),
        dump_json_object("detail", event.detail),
        event.client_address,
        event.request_id,
    )


def event_values(event: AuditEvent, at: datetime) -> dict[str, object]:
    """:func:`event_row` by field name."""
    return dict(zip(EVENT_COLUMNS, event_row(event, at), strict=True))


def event_record(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        kind=row.kind,
        actor=row.actor,
        action=row.action,
        target=row.target,
        before=load_json_object(row.before_json),
        after=load_json_object(row.after_json),
        detail=load_json_object(row.detail_json),
        client_address=row.client_address,
        request_id=row.request_id,
        at=from_db(row.at),
        id=row.id,
    )


def refresh_token_values(token: RefreshToken) -> dict[str, object]:
    return {
        "id": token.id,
        "token_hash": token.token_hash,
        "username": token.username,
        "service": token.service,
        "client_id": token.client_id,
        "created_at": to_db(token.created_at),
        "last_used_at": maybe_to_db(token.last_used_at),
        "expires_at": maybe_to_db(token.expires_at),
        "source": token.source,
    }


def refresh_token_record(row: RefreshTokenRow) -> RefreshToken:
    return RefreshToken(
        id=row.id,
        token_hash=row.token_hash,
        username=row.username,
        service=row.service,
        client_id=row.client_id,
        created_at=from_db(row.created_at),
        last_used_at=maybe_from_db(row.last_used_at),
        expires_at=maybe_from_db(row.expires_at),
        source=row.source,
    )


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


# Every data table (``dockit_schema`` belongs to sql_migrations), referenced ones first.
TABLES: tuple[type[pw.Model], ...] = (
    UserRow,
    GroupRow,
    MembershipRow,
    GrantRow,
    KeyRow,
    AuditEventRow,
    RefreshTokenRow,
    LoginFailureRow,
    PolicyVersionRow,
)
