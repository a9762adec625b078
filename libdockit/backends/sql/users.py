"""Users and groups over SQL: the UserStore half of :class:`~libdockit.backends.sql.SqlBackend`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import peewee as pw

from ...clock import utc_now
from ...errors import Conflict, NotFound
from ...model import GROUP_PREFIX, USER_PREFIX, Group, LoginRecord, Page, User
from .access_credentials import delete_credentials_of
from .models import GrantRow, GroupRow, MembershipRow, RefreshTokenRow, UserRow
from .records import group_record, groups_of, members_of, to_db, user_record
from .session import SqlSession

GENERATION = 1 << 32  # credential_version: a user row's id counts in units of this
_ENABLED_GROUPS_SQL = (
    'SELECT g."name" FROM "memberships" m JOIN "groups" g ON g."id" = m."group_id" '
    'WHERE m."user_id" = ? AND g."enabled"'
)
_ALL = "*"  # the one key of the disabled-groups cache: every disabled group, by name
#: A login record's columns (users ``u``): the user's row, then the policy version, read in
#: the same statement, before the groups it guards.
LOGIN_COLUMNS = (
    'u."id", u."username", u."password_hash", u."enabled", u."is_admin", '
    '(SELECT p."version" FROM "policy_version" p WHERE p."id" = 1)'
)
LOGIN_WIDTH = 6  # the columns of LOGIN_COLUMNS
_LOGIN_SQL = f'SELECT {LOGIN_COLUMNS} FROM "users" u WHERE u."username" = ?'  # noqa: S608


class SqlUsers(SqlSession):
    """UserStore and GroupSource."""

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
        with self._policy_write() as db:
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

    def login_record(self, username: str) -> LoginRecord | None:
        """One statement while nothing changed: the user's row and the policy version, then
        the enabled groups from this process's cache (see :mod:`.sql_cache`). None when the
        failed-login lookup of this request read them already (see ``login_failures``)."""
        ahead = self._take_read_ahead(username)
        if ahead is not None:  # at most the groups are read: that read has its deadline
            return self._login_record(ahead[0])
        with self._call_deadline():  # one for both reads
            rows = self._read(_LOGIN_SQL, (username,))
            return self._login_record(rows[0] if rows else None)

    def _login_record(self, row: tuple[Any, ...] | None) -> LoginRecord | None:
        if row is None:
            return None
        user_id, name, password_hash, enabled, is_admin, version = row
        self._saw_version(version)  # the grants read later in a held request use it too
        kept = self._parsed_records.get(user_id, row)
        if kept is not None:  # the same row, so the same version too
            return kept
        groups = self._groups_cache.get(version, user_id)
        if groups is None:
            groups = self._enabled_groups(user_id)
            self._groups_cache.put(version, user_id, groups)
        record = LoginRecord(name, password_hash, bool(enabled), bool(is_admin), groups)
        return self._parsed_records.put(user_id, row, record)

    def _enabled_groups(self, user_id: int) -> tuple[str, ...]:
        return tuple(sorted(name for (name,) in self._read(_ENABLED_GROUPS_SQL, (user_id,))))

    def list_users(self, *, offset: int = 0, limit: int = 100) -> Page[User]:
        with self._session() as db:
            total = UserRow.select().count(db)
            query = UserRow.select().order_by(self._by_name(UserRow.username))
            rows = list(query.offset(max(offset, 0)).limit(max(limit, 0)).bind(db))
            groups = groups_of(db, [r.id for r in rows])
            return Page([user_record(r, groups[r.id]) for r in rows], total)

    def _update_user(self, username: str, **changes: object) -> User:
        """Every change here is one to the credentials: it steps credential_version."""
        with self._policy_write() as db:
            self._user_row(db, username)
            changes["updated_at"] = to_db(utc_now())
            changes["credential_version"] = UserRow.credential_version + 1  # atomic in SQL
            UserRow.update(**changes).where(UserRow.username == username).execute(db)
            return self._user_view(db, username)

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self._update_user(username, password_hash=password_hash)

    def set_user_enabled(self, username: str, enabled: bool) -> User:
        return self._update_user(username, enabled=enabled)

    def set_user_admin(self, username: str, is_admin: bool) -> User:
        return self._update_user(username, is_admin=is_admin)

    def delete_user(self, username: str) -> None:
        with self._policy_write() as db:
            row = self._user_row(db, username)
            GrantRow.delete().where(GrantRow.subject == USER_PREFIX + username).execute(db)
            # Memberships go with the row (ON DELETE CASCADE). The row first: on PostgreSQL
            # that waits for a refresh token being added for this user (FOR KEY SHARE), whose
            # row the DELETE below then sees.
            UserRow.delete().where(UserRow.id == row.id).execute(db)
            RefreshTokenRow.delete().where(
                (RefreshTokenRow.username == username) & (RefreshTokenRow.source == "local")
            ).execute(db)
            delete_credentials_of(db, USER_PREFIX + username)

    def credential_version(self, username: str) -> int | None:
        """``id * 2**32 + credential_version``: ids are never reused, so a user created again
        under a deleted one's name never repeats its numbers."""
        with self._session() as db:
            query = UserRow.select(UserRow.id, UserRow.credential_version)
            row = query.where(UserRow.username == username).get_or_none(db)
            if row is None:
                return None
            return int(row.id) * GENERATION + int(row.credential_version)

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
        with self._policy_write() as db:
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
        with self._policy_write() as db:
            self._group_row(db, name)
            GroupRow.update(enabled=enabled).where(GroupRow.name == name).execute(db)
            return self._group_view(db, name)

    def delete_group(self, name: str) -> None:
        with self._policy_write() as db:
            row = self._group_row(db, name)
            GrantRow.delete().where(GrantRow.subject == GROUP_PREFIX + name).execute(db)
            GroupRow.delete().where(GroupRow.id == row.id).execute(db)  # memberships cascade
            delete_credentials_of(db, GROUP_PREFIX + name)

    def add_member(self, group: str, username: str) -> Group:
        with self._policy_write() as db:
            group_row = self._group_row(db, group)
            user_row = self._user_row(db, username)
            MembershipRow.insert(user=user_row.id, group=group_row.id).on_conflict_ignore().execute(
                db
            )
            return self._group_view(db, group)

    def remove_member(self, group: str, username: str) -> Group:
        with self._policy_write() as db:
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

    def disabled_groups(self, names: Sequence[str]) -> frozenset[str]:
        """One read of the policy version while nothing changed (see :mod:`.sql_cache`)."""
        if not names:
            return frozenset()
        with self._session() as db:
            version = self._policy_version(db)  # first: it guards what is read after it
            disabled = self._disabled_groups_cache.get(version, _ALL)
            if disabled is None:
                query = GroupRow.select(GroupRow.name).where(GroupRow.enabled == False)  # noqa: E712
                disabled = frozenset(name for (name,) in query.tuples().execute(db))
                self._disabled_groups_cache.put(version, _ALL, disabled)
        return disabled.intersection(names)

    def groups_for(self, username: str) -> tuple[str, ...]:
        record = self.login_record(username)
        return () if record is None else record.groups
