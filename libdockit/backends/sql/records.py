"""Rows to records and back: the SQL backend's conversions. Every database stores naive UTC
(SQLite has no time zones); records carry aware UTC."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import peewee as pw

from ...model import (
    AccessCredential,
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
from .models import (
    AccessCredentialRow,
    AuditEventRow,
    GrantRow,
    GroupRow,
    KeyRow,
    MembershipRow,
    RefreshTokenRow,
    UserRow,
)


def to_db(value: datetime) -> datetime:
    """Naive UTC (a naive value is taken to be UTC already)."""
    zone = value.tzinfo
    if zone is None:
        return value
    if zone is UTC:  # the clock's own (every audit event's): no conversion to make
        return value.replace(tzinfo=None)
    return value.astimezone(UTC).replace(tzinfo=None)


def from_db(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def maybe_to_db(value: datetime | None) -> datetime | None:
    return None if value is None else to_db(value)


def maybe_from_db(value: datetime | None) -> datetime | None:
    return None if value is None else from_db(value)


_TIME_COLUMN = pw.DateTimeField()


def time_to_column(value: datetime, *, text: bool) -> datetime | str:
    """A time as a parameter of hand-written SQL, stored as peewee stores it: naive UTC;
    with ``text`` (SQLite) the text sqlite3's adapter makes of it (``isoformat(" ")``),
    without the adapter's lookup and call."""
    stored = to_db(value)
    return stored.isoformat(" ") if text else stored


def time_from_column(value: object) -> datetime | None:
    """A time column read by hand-written SQL (SQLite gives text, PostgreSQL a naive
    datetime), as aware UTC; None stays None. Text as peewee writes it parses with
    ``fromisoformat`` (peewee's own parser tries strptime formats in turn, ten times slower)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed_text = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed_text.tzinfo is None:
                return parsed_text.replace(tzinfo=UTC)
            return parsed_text.astimezone(UTC)
    elif isinstance(value, datetime):  # naive UTC, as every database here stores it
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
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
    return (to_db(at), *event_fields(event))


def event_fields(event: AuditEvent) -> tuple[object, ...]:
    """:func:`event_row` without its time (the first column), for a writer that renders
    the time itself."""
    before, after, detail = event.before, event.after, event.detail
    return (
        event.kind,
        event.actor,
        event.action,
        event.target,
        None if before is None else dump_json_object("before", before),
        None if after is None else dump_json_object("after", after),
        None if detail is None else dump_json_object("detail", detail),
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


#: The columns of ``access_credentials`` in the order :func:`access_credential_from_columns`
#: takes them (what a hand-written SELECT lists).
ACCESS_CREDENTIAL_COLUMNS = (
    "id",
    "kind",
    "name",
    "owner",
    "owner_source",
    "secret_hash",
    "scopes",
    "created_at",
    "expires_at",
    "enabled",
    "access_token_lifetime_seconds",
    "last_used_at",
    "last_used_from",
)


def access_credential_values(credential: AccessCredential) -> dict[str, object]:
    lifetime = credential.access_token_lifetime
    return {
        "id": credential.id,
        "kind": credential.kind,
        "name": credential.name,
        "owner": credential.owner,
        "owner_source": credential.owner_source,
        "secret_hash": credential.secret_hash,
        "scopes": json.dumps(list(credential.scopes)),
        "created_at": to_db(credential.created_at),
        "expires_at": maybe_to_db(credential.expires_at),
        "enabled": credential.enabled,
        "access_token_lifetime_seconds": None
        if lifetime is None
        else lifetime // timedelta(seconds=1),
        "last_used_at": maybe_to_db(credential.last_used_at),
        "last_used_from": credential.last_used_from,
    }


def access_credential_from_columns(values: Sequence[Any]) -> AccessCredential:
    """A row as :data:`ACCESS_CREDENTIAL_COLUMNS` lists it, from peewee or hand-written SQL
    (times as text or naive datetimes, booleans as 0/1 or bool)."""
    (id_, kind, name, owner, source, secret_hash, scopes, created, expires, enabled, lifetime,
     last_used, last_from) = values  # fmt: skip
    created_at = time_from_column(created)
    assert created_at is not None  # NOT NULL
    return AccessCredential(
        id=id_,
        kind=kind,
        name=name,
        owner=owner,
        secret_hash=secret_hash,
        created_at=created_at,
        expires_at=time_from_column(expires),
        scopes=tuple(json.loads(scopes)),
        enabled=bool(enabled),
        access_token_lifetime=None if lifetime is None else timedelta(seconds=lifetime),
        last_used_at=time_from_column(last_used),
        last_used_from=last_from,
        owner_source=source,
    )


def access_credential_record(row: AccessCredentialRow) -> AccessCredential:
    return access_credential_from_columns([getattr(row, c) for c in ACCESS_CREDENTIAL_COLUMNS])


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
