"""Robot and personal-access-token secrets over SQL: the AccessCredentialStore of
:class:`~libdockit.backends.sql.SqlBackend`.

A login looks its secret up by hash with one hand-written read on the unique index of
``secret_hash`` (the warm token path's cost). ``owner`` has no foreign key (a directory's
users own credentials too), so adding one for a local owner checks the owner in the same
transaction, on PostgreSQL with ``FOR KEY SHARE`` so a concurrent delete of the owner waits,
and deleting a local user or group deletes its credentials (:mod:`.users`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import peewee as pw

from ...errors import Conflict, NotFound
from ...model import (
    GROUP_PREFIX,
    LOCAL_SOURCE,
    ROBOT_PREFIX,
    USER_PREFIX,
    AccessCredential,
    CredentialKind,
    Page,
)
from .models import AccessCredentialRow, GrantRow, GroupRow, UserRow
from .records import (
    access_credential_from_columns,
    access_credential_record,
    access_credential_values,
    maybe_to_db,
    to_db,
)
from .session import SqlSession

_FIND_BY_HASH = (  # the columns in the order of ACCESS_CREDENTIAL_COLUMNS
    'SELECT "id", "kind", "name", "owner", "owner_source", "secret_hash", "scopes", '
    '"created_at", "expires_at", "enabled", "access_token_lifetime_seconds", "last_used_at", '
    '"last_used_from" FROM "access_credentials" WHERE "secret_hash" = ?'
)


class SqlAccessCredentials(SqlSession):
    """AccessCredentialStore."""

    def _local_owner_exists(self, db: pw.Database, owner: str) -> bool:
        query: pw.ModelSelect[Any]
        if owner.startswith(USER_PREFIX):
            query = UserRow.select(UserRow.id).where(UserRow.username == owner[len(USER_PREFIX) :])
        elif owner.startswith(GROUP_PREFIX):
            query = GroupRow.select(GroupRow.id).where(GroupRow.name == owner[len(GROUP_PREFIX) :])
        else:
            return False
        if self._postgres:  # a concurrent delete of the owner waits for this transaction
            query = query.for_update("FOR KEY SHARE")  # type: ignore[arg-type]  # str works
        return bool(query.exists(db))

    def add_access_credential(self, credential: AccessCredential) -> AccessCredential:
        with self._session(write=True) as db:
            if credential.owner_source == LOCAL_SOURCE and not self._local_owner_exists(
                db, credential.owner
            ):
                raise NotFound(f"owner {credential.owner!r} not found")
            clash = (AccessCredentialRow.id == credential.id) | (
                AccessCredentialRow.secret_hash == credential.secret_hash
            )
            if credential.kind == "robot":
                clash |= (AccessCredentialRow.kind == "robot") & (
                    AccessCredentialRow.name == credential.name
                )
            found = AccessCredentialRow.select().where(clash).get_or_none(db)
            if found is not None:
                if found.id == credential.id:
                    raise Conflict("an access credential with this id exists already")
                if found.secret_hash == credential.secret_hash:
                    raise Conflict("an access credential with this secret exists already")
                raise Conflict(f"robot {credential.name!r} exists already")
            values = access_credential_values(credential)
            AccessCredentialRow.insert(**values).execute(db)
        return self.get_access_credential(credential.id)

    def find_access_credential(self, secret_hash: str) -> AccessCredential | None:
        rows = self._read(_FIND_BY_HASH, (secret_hash,))  # every robot or token login
        if not rows:
            return None
        kept = self._parsed_credentials.get(secret_hash, rows[0])
        if kept is not None:
            return kept
        credential = access_credential_from_columns(rows[0])
        return self._parsed_credentials.put(secret_hash, rows[0], credential)

    def get_access_credential(self, credential_id: str) -> AccessCredential:
        with self._session() as db:
            return self._credential(db, credential_id)

    def _credential(self, db: pw.Database, credential_id: str) -> AccessCredential:
        row = (
            AccessCredentialRow.select()
            .where(AccessCredentialRow.id == credential_id)
            .get_or_none(db)
        )
        if row is None:
            raise NotFound(f"access credential {credential_id!r} not found")
        return access_credential_record(row)

    def list_access_credentials(
        self,
        *,
        owner: str | None = None,
        kind: CredentialKind | None = None,
        name: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[AccessCredential]:
        with self._session() as db:
            query = AccessCredentialRow.select()
            if owner is not None:
                query = query.where(AccessCredentialRow.owner == owner)
            if kind is not None:
                query = query.where(AccessCredentialRow.kind == kind)
            if name is not None:
                query = query.where(AccessCredentialRow.name == name)
            total = query.count(db)
            newest_first = query.order_by(
                AccessCredentialRow.created_at.desc(),
                self._by_name(AccessCredentialRow.id, descending=True),
            )
            rows = newest_first.offset(max(offset, 0)).limit(max(limit, 0)).bind(db)
            return Page([access_credential_record(r) for r in rows], total)

    def access_credentials_expiring(self, before: datetime) -> list[AccessCredential]:
        with self._session() as db:
            rows = (
                AccessCredentialRow.select()
                .where(
                    AccessCredentialRow.enabled
                    & AccessCredentialRow.expires_at.is_null(False)
                    & (AccessCredentialRow.expires_at < to_db(before))
                )
                .order_by(AccessCredentialRow.expires_at, self._by_name(AccessCredentialRow.id))
                .bind(db)
            )
            return [access_credential_record(r) for r in rows]

    def _update(self, db: pw.Database, credential_id: str, **values: object) -> AccessCredential:
        query = AccessCredentialRow.update(**values)
        if not query.where(AccessCredentialRow.id == credential_id).execute(db):
            raise NotFound(f"access credential {credential_id!r} not found")
        return self._credential(db, credential_id)

    def set_access_credential_enabled(self, credential_id: str, enabled: bool) -> AccessCredential:
        with self._session(write=True) as db:
            return self._update(db, credential_id, enabled=enabled)

    def replace_access_credential_secret(
        self, credential_id: str, secret_hash: str, *, expires_at: datetime | None
    ) -> AccessCredential:
        with self._session(write=True) as db:
            taken = (
                AccessCredentialRow.select(AccessCredentialRow.id)
                .where(
                    (AccessCredentialRow.secret_hash == secret_hash)
                    & (AccessCredentialRow.id != credential_id)
                )
                .exists(db)
            )
            self._credential(db, credential_id)  # NotFound before Conflict
            if taken:
                raise Conflict("an access credential with this secret exists already")
            return self._update(
                db, credential_id, secret_hash=secret_hash, expires_at=maybe_to_db(expires_at)
            )

    def touch_access_credential(
        self, credential_id: str, *, at: datetime, address: str | None
    ) -> None:
        with self._session() as db:  # one UPDATE, committed on its own
            query = AccessCredentialRow.update(last_used_at=to_db(at), last_used_from=address)
            if not query.where(AccessCredentialRow.id == credential_id).execute(db):
                raise NotFound(f"access credential {credential_id!r} not found")

    def delete_access_credential(self, credential_id: str) -> AccessCredential:
        # A policy write: a robot's grants go with it, and cached grants must see that.
        with self._policy_write() as db:
            credential = self._credential(db, credential_id)
            # Deleted by this call, not by a concurrent delete that got there first.
            if (
                not AccessCredentialRow.delete()
                .where(AccessCredentialRow.id == credential_id)
                .execute(db)
            ):
                raise NotFound(f"access credential {credential_id!r} not found")
            if credential.kind == "robot":
                GrantRow.delete().where(GrantRow.subject == ROBOT_PREFIX + credential.name).execute(
                    db
                )
            return credential


def delete_credentials_of(db: pw.Database, owner: str) -> int:
    """Delete the local credentials of ``owner`` (a local user or group being deleted) and
    the grants of the robots among them; called inside a policy write."""
    robots = AccessCredentialRow.select(AccessCredentialRow.name).where(
        (AccessCredentialRow.owner == owner)
        & (AccessCredentialRow.owner_source == LOCAL_SOURCE)
        & (AccessCredentialRow.kind == "robot")
    )
    subjects = [ROBOT_PREFIX + row.name for row in robots.bind(db)]
    if subjects:
        GrantRow.delete().where(GrantRow.subject.in_(subjects)).execute(db)
    return int(
        AccessCredentialRow.delete()
        .where(
            (AccessCredentialRow.owner == owner)
            & (AccessCredentialRow.owner_source == LOCAL_SOURCE)
        )
        .execute(db)
    )
