"""The in-memory reference backend: every protocol, thread-safe, nothing persisted.

Used by tests, examples and embedding apps that keep their own state; its behaviour is the
one the conformance suite pins down for the other backends. The audit log lives in
:mod:`.memory_audit`, the failed-login counters in :mod:`.memory_throttle`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from ...clock import as_utc, utc_now
from ...errors import Conflict, NotFound
from ...model import (
    GROUP_PREFIX,
    LOCAL_SOURCE,
    USER_PREFIX,
    Grant,
    Group,
    KeyState,
    LoginRecord,
    Page,
    RefreshToken,
    StoredKey,
    User,
)
from .audit import MemoryAuditLog
from .credentials import MemoryAccessCredentials
from .throttle import MemoryLoginFailures
from .trust_policies import MemoryTrustPolicies

T = TypeVar("T")
GENERATION = 1 << 32  # credential_version: a user's serial counts in units of this


@dataclass
class _UserRow:
    user: User
    password_hash: str
    serial: int  # never reused, like the SQL backend's row id
    credential_changes: int = 0


@dataclass
class _GroupRow:
    group: Group
    members: set[str] = field(default_factory=set)


def _page(items: list[T], offset: int, limit: int) -> Page[T]:
    start = max(offset, 0)
    return Page(items=items[start : start + max(limit, 0)], total=len(items))


class MemoryBackend(
    MemoryAuditLog, MemoryLoginFailures, MemoryAccessCredentials, MemoryTrustPolicies
):
    """Implements UserStore, GroupSource, GrantStore, KeyMaterialStore, AuditStore,
    RefreshTokenStore, AccessCredentialStore, TrustPolicyStore, LoginFailureStore and
    HealthCheck in memory."""

    def __init__(self) -> None:
        MemoryAuditLog.__init__(self)
        MemoryLoginFailures.__init__(self)
        self._lock = threading.RLock()
        MemoryAccessCredentials.__init__(
            self,
            self._lock,
            owner_exists=self._local_owner_exists,
            drop_grants_of=self._drop_grants_of,
        )
        MemoryTrustPolicies.__init__(self, self._lock)
        self._users: dict[str, _UserRow] = {}
        self._next_user_serial = 1
        self._refresh_tokens: dict[str, RefreshToken] = {}  # by id
        self._refresh_token_ids: dict[str, str] = {}  # token hash -> id
        self._groups: dict[str, _GroupRow] = {}
        self._grants: dict[int, Grant] = {}
        self._next_grant_id = 1
        self._keys: dict[str, StoredKey] = {}

    # -- health -------------------------------------------------------------------------
    def ping(self) -> None:
        return None

    # -- users --------------------------------------------------------------------------
    def _user_view(self, username: str) -> User:
        row = self._users.get(username)
        if row is None:
            raise NotFound(f"user {username!r} not found")
        groups = tuple(sorted(n for n, g in self._groups.items() if username in g.members))
        return replace(row.user, groups=groups)

    def create_user(
        self, username: str, password_hash: str, *, is_admin: bool = False, enabled: bool = True
    ) -> User:
        with self._lock:
            if username in self._users:
                raise Conflict(f"user {username!r} exists already")
            now = utc_now()
            user = User(username, enabled, is_admin, (), now, now)
            self._users[username] = _UserRow(user, password_hash, self._next_user_serial)
            self._next_user_serial += 1
            return user

    def get_user(self, username: str) -> User:
        with self._lock:
            return self._user_view(username)

    def get_credentials(self, username: str) -> tuple[User, str] | None:
        with self._lock:
            row = self._users.get(username)
            if row is None:
                return None
            return self._user_view(username), row.password_hash

    def login_record(self, username: str) -> LoginRecord | None:
        with self._lock:
            row = self._users.get(username)
            if row is None:
                return None
            user = row.user
            groups = self.groups_for(username)
            return LoginRecord(username, row.password_hash, user.enabled, user.is_admin, groups)

    def list_users(self, *, offset: int = 0, limit: int = 100) -> Page[User]:
        with self._lock:
            return _page([self._user_view(n) for n in sorted(self._users)], offset, limit)

    def _update_user(self, username: str, **changes: object) -> User:
        """Every change here is one to the credentials: it steps credential_version."""
        with self._lock:
            row = self._users.get(username)
            if row is None:
                raise NotFound(f"user {username!r} not found")
            row.user = replace(row.user, updated_at=utc_now(), **changes)  # type: ignore[arg-type]
            row.credential_changes += 1
            return self._user_view(username)

    def set_password_hash(self, username: str, password_hash: str) -> None:
        with self._lock:
            self._update_user(username)
            self._users[username].password_hash = password_hash

    def set_user_enabled(self, username: str, enabled: bool) -> User:
        return self._update_user(username, enabled=enabled)

    def set_user_admin(self, username: str, is_admin: bool) -> User:
        return self._update_user(username, is_admin=is_admin)

    def delete_user(self, username: str) -> None:
        with self._lock:
            if self._users.pop(username, None) is None:
                raise NotFound(f"user {username!r} not found")
            for group in self._groups.values():
                group.members.discard(username)
            self._drop_grants_of(USER_PREFIX + username)
            self.revoke_user_refresh_tokens(username, source=LOCAL_SOURCE)
            self._drop_credentials_of(USER_PREFIX + username)

    def credential_version(self, username: str) -> int | None:
        with self._lock:
            row = self._users.get(username)
            if row is None:
                return None
            return row.serial * GENERATION + row.credential_changes

    def _local_owner_exists(self, owner: str) -> bool:
        if owner.startswith(USER_PREFIX):
            return owner[len(USER_PREFIX) :] in self._users
        return owner.startswith(GROUP_PREFIX) and owner[len(GROUP_PREFIX) :] in self._groups

    # -- groups -------------------------------------------------------------------------
    def _group_view(self, name: str) -> Group:
        row = self._groups.get(name)
        if row is None:
            raise NotFound(f"group {name!r} not found")
        return replace(row.group, members=tuple(sorted(row.members)))

    def create_group(self, name: str, *, enabled: bool = True) -> Group:
        with self._lock:
            if name in self._groups:
                raise Conflict(f"group {name!r} exists already")
            self._groups[name] = _GroupRow(Group(name, enabled, (), utc_now()))
            return self._group_view(name)

    def get_group(self, name: str) -> Group:
        with self._lock:
            return self._group_view(name)

    def list_groups(self, *, offset: int = 0, limit: int = 100) -> Page[Group]:
        with self._lock:
            return _page([self._group_view(n) for n in sorted(self._groups)], offset, limit)

    def set_group_enabled(self, name: str, enabled: bool) -> Group:
        with self._lock:
            self._group_view(name)
            row = self._groups[name]
            row.group = replace(row.group, enabled=enabled)
            return self._group_view(name)

    def delete_group(self, name: str) -> None:
        with self._lock:
            if self._groups.pop(name, None) is None:
                raise NotFound(f"group {name!r} not found")
            self._drop_grants_of(GROUP_PREFIX + name)
            self._drop_credentials_of(GROUP_PREFIX + name)

    def add_member(self, group: str, username: str) -> Group:
        with self._lock:
            self._group_view(group)
            self._user_view(username)
            self._groups[group].members.add(username)
            return self._group_view(group)

    def remove_member(self, group: str, username: str) -> Group:
        with self._lock:
            self._group_view(group)
            members = self._groups[group].members
            if username not in members:
                raise NotFound(f"user {username!r} is not a member of group {group!r}")
            members.remove(username)
            return self._group_view(group)

    def disabled_groups(self, names: Sequence[str]) -> frozenset[str]:
        with self._lock:
            return frozenset(
                name
                for name in names
                if (row := self._groups.get(name)) is not None and not row.group.enabled
            )

    def groups_for(self, username: str) -> tuple[str, ...]:
        with self._lock:
            return tuple(
                sorted(
                    name
                    for name, row in self._groups.items()
                    if row.group.enabled and username in row.members
                )
            )

    # -- grants -------------------------------------------------------------------------
    def _drop_grants_of(self, subject: str) -> None:
        for grant_id in [i for i, g in self._grants.items() if g.subject == subject]:
            del self._grants[grant_id]

    def grants_for_subjects(self, subjects: Sequence[str]) -> list[Grant]:
        wanted = set(subjects)
        with self._lock:
            return [g for _, g in sorted(self._grants.items()) if g.subject in wanted]

    def add_grant(self, grant: Grant) -> Grant:
        with self._lock:
            for existing in self._grants.values():
                if (existing.subject, existing.resource_type, existing.pattern) == (
                    grant.subject,
                    grant.resource_type,
                    grant.pattern,
                ):
                    raise Conflict(
                        f"a grant for {grant.subject} on {grant.resource_type}:{grant.pattern} "
                        f"exists already (id {existing.id})",
                        detail={"id": existing.id},
                    )
            stored = replace(grant, id=self._next_grant_id, created_at=utc_now())
            self._grants[self._next_grant_id] = stored
            self._next_grant_id += 1
            return stored

    def get_grant(self, grant_id: int) -> Grant:
        with self._lock:
            grant = self._grants.get(grant_id)
            if grant is None:
                raise NotFound(f"grant {grant_id} not found")
            return grant

    def delete_grant(self, grant_id: int) -> None:
        with self._lock:
            if self._grants.pop(grant_id, None) is None:
                raise NotFound(f"grant {grant_id} not found")

    def list_grants(
        self, *, subject: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[Grant]:
        with self._lock:
            items = [
                g
                for _, g in sorted(self._grants.items())
                if subject is None or g.subject == subject
            ]
            return _page(items, offset, limit)

    # -- keys ---------------------------------------------------------------------------
    def list_keys(self) -> list[StoredKey]:
        with self._lock:
            return sorted(self._keys.values(), key=lambda k: (k.created_at, k.kid))

    def add_key(self, key: StoredKey) -> None:
        with self._lock:
            if key.kid in self._keys:
                raise Conflict(f"key {key.kid} exists already")
            if key.state == "active" and any(k.state == "active" for k in self._keys.values()):
                raise Conflict("another key is active already")
            self._keys[key.kid] = key

    def set_key_state(self, kid: str, state: KeyState, at: datetime) -> StoredKey:
        with self._lock:
            key = self._keys.get(kid)
            if key is None:
                raise NotFound(f"key {kid} not found")
            if state == "active":
                for other in list(self._keys.values()):
                    if other.state == "active" and other.kid != kid:
                        self._keys[other.kid] = replace(other, state="retired", retired_at=at)
                key = replace(key, state="active", activated_at=at)
            elif state == "retired":
                key = replace(key, state="retired", retired_at=at)
            else:
                key = replace(key, state=state)
            self._keys[kid] = key
            return key

    def replace_private_key_pem(self, kid: str, private_key_pem: bytes) -> StoredKey:
        with self._lock:
            key = self._keys.get(kid)
            if key is None:
                raise NotFound(f"key {kid} not found")
            key = self._keys[kid] = replace(key, private_key_pem=private_key_pem)
            return key

    # -- refresh tokens -----------------------------------------------------------------
    def add_refresh_token(self, token: RefreshToken) -> None:
        with self._lock:
            if token.source == LOCAL_SOURCE and token.username not in self._users:
                raise NotFound(f"user {token.username!r} not found")
            if token.id in self._refresh_tokens:
                raise Conflict("a refresh token with this id exists already")
            if token.token_hash in self._refresh_token_ids:
                raise Conflict("a refresh token with this hash exists already")
            self._refresh_tokens[token.id] = replace(
                token,
                created_at=as_utc(token.created_at),
                last_used_at=None if token.last_used_at is None else as_utc(token.last_used_at),
                expires_at=None if token.expires_at is None else as_utc(token.expires_at),
            )
            self._refresh_token_ids[token.token_hash] = token.id

    def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        with self._lock:
            token_id = self._refresh_token_ids.get(token_hash)
            return None if token_id is None else self._refresh_tokens[token_id]

    def touch_refresh_token(self, token_id: str, at: datetime) -> None:
        with self._lock:
            token = self._refresh_tokens.get(token_id)
            if token is None:
                raise NotFound(f"refresh token {token_id!r} not found")
            self._refresh_tokens[token_id] = replace(token, last_used_at=as_utc(at))

    def list_refresh_tokens(
        self, *, username: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[RefreshToken]:
        with self._lock:
            items = sorted(
                (t for t in self._refresh_tokens.values() if username in (None, t.username)),
                key=lambda t: (t.created_at, t.id),
                reverse=True,
            )
            return _page(items, offset, limit)

    def revoke_refresh_token(self, token_id: str) -> RefreshToken:
        with self._lock:
            token = self._refresh_tokens.pop(token_id, None)
            if token is None:
                raise NotFound(f"refresh token {token_id!r} not found")
            del self._refresh_token_ids[token.token_hash]
            return token

    def revoke_user_refresh_tokens(self, username: str, *, source: str | None = None) -> int:
        with self._lock:
            doomed = [
                t.id
                for t in self._refresh_tokens.values()
                if t.username == username and source in (None, t.source)
            ]
            for token_id in doomed:
                self.revoke_refresh_token(token_id)
            return len(doomed)
