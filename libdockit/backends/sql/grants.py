"""Grants and signing keys over SQL: the GrantStore and KeyStore of
:class:`~libdockit.backends.sql.SqlBackend`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import peewee as pw

from ...clock import utc_now
from ...errors import Conflict, NotFound
from ...model import Grant, KeyState, Page, StoredKey
from .models import ACTIVE, GrantRow, KeyRow
from .records import grant_record, key_record, key_values, time_from_column, to_db
from .session import SqlSession

_GRANTS_OF = (
    'SELECT "id", "subject", "resource_type", "pattern", "actions", "created_at" '
    'FROM "grants" WHERE "subject" IN '
)


def _grant(row: Sequence[Any]) -> Grant:
    """A row read by hand-written SQL (after a change, every subject's grants are read)."""
    grant_id, subject, resource_type, pattern, actions, created = row
    return Grant(
        subject,
        resource_type,
        pattern,
        tuple(action for action in actions.split(",") if action),
        int(grant_id),
        time_from_column(created),
    )


class SqlGrantsAndKeys(SqlSession):
    """GrantStore and KeyMaterialStore."""

    # -- grants ---------------------------------------------------------------------------
    def grants_for_subjects(self, subjects: Sequence[str]) -> list[Grant]:
        """By id. One read of the policy version while nothing changed; the grants of each
        subject not cached for that version are read in one query (see :mod:`.sql_cache`).
        A caller's whole answer is kept too, under the same version, for the next request
        with the same subjects."""
        if not subjects:
            return []
        key = tuple(subjects)
        with self._call_deadline():
            version = self._read_policy_version()  # first: it guards what is read after it
            kept = self._merged_grants_cache.get(version, key)
            if kept is not None:
                return list(kept)
            merged = self._read_grants(version, list(dict.fromkeys(subjects)))
            self._merged_grants_cache.put(version, key, tuple(merged))
        return merged

    def _read_grants(self, version: int | None, wanted: list[str]) -> list[Grant]:
        """The grants of ``wanted`` (no repeats) by id, each subject's from the cache of
        ``version`` or read."""
        found = {subject: self._grants_cache.get(version, subject) for subject in wanted}
        missing = [subject for subject, grants in found.items() if grants is None]
        if missing:
            read: dict[str, list[Grant]] = {subject: [] for subject in missing}
            marks = ", ".join("?" for _ in missing)  # only placeholders are joined in
            for row in self._read(f"{_GRANTS_OF}({marks}) ORDER BY id", tuple(missing)):
                read[row[1]].append(_grant(row))
            for subject, grants in read.items():
                found[subject] = tuple(grants)
                self._grants_cache.put(version, subject, tuple(grants))
        merged = [grant for grants in found.values() if grants for grant in grants]
        if len(wanted) > 1:
            merged.sort(key=lambda grant: grant.id or 0)
        return merged

    def add_grant(self, grant: Grant) -> Grant:
        now = utc_now()
        with self._policy_write() as db:
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
        with self._policy_write() as db:
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

    def replace_private_key_pem(self, kid: str, private_key_pem: bytes) -> StoredKey:
        with self._session(write=True) as db:
            query = KeyRow.update(private_key_pem=private_key_pem).where(KeyRow.kid == kid)
            if not query.execute(db):
                raise NotFound(f"key {kid} not found")
            return key_record(KeyRow.select().where(KeyRow.kid == kid).get(db))
