"""Views of users, groups, grants and signing keys as JSON objects: what the Admin API answers
and what the audit log records as a change's *before* and *after*, so both show the same.

Each view is a :class:`~typing.TypedDict`, so mypy checks every key written here; the Admin
API's documented answers (``dockit_server.resources.admin.view_types``) are checked against
these by mypy as well. A user view never carries a password hash
(:class:`~libdockit.model.User` has none to give); a key view carries public facts only; a
robot's or personal access token's view never its secret nor the secret's hash.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NotRequired, TypedDict

from .clock import rfc3339 as clock_rfc3339
from .model import AccessCredential, Grant, Group, KeyState, StoredKey, User


class UserView(TypedDict):
    username: str
    enabled: bool
    admin: bool
    groups: list[str]
    created_at: str | None
    updated_at: str | None


class GroupView(TypedDict):
    name: str
    enabled: bool
    members: list[str]
    created_at: str | None


class GrantView(TypedDict):
    id: int
    subject: str
    resource_type: str
    pattern: str
    actions: list[str]
    scope: str
    created_at: str | None
    #: Only for a grant just added, when something was accepted on trust.
    notes: NotRequired[list[str]]


class CredentialUse(TypedDict):
    created_at: str | None
    expires_at: str | None
    enabled: bool
    access_token_lifetime: int | None
    last_used_at: str | None
    last_used_from: str | None


class RobotView(CredentialUse):
    name: str
    id: str
    owner: str
    owner_source: str


class TokenView(CredentialUse):
    id: str
    name: str
    owner: str
    owner_source: str
    scopes: list[str]


class KeyView(TypedDict):
    kid: str
    algorithm: str
    state: KeyState
    created_at: str | None
    activated_at: str | None
    retired_at: str | None
    not_after: str | None
    days_left: float


def rfc3339(moment: datetime | None) -> str | None:
    """:func:`libdockit.clock.rfc3339`, or None for no time."""
    return None if moment is None else clock_rfc3339(moment)


def user_view(user: User) -> UserView:
    return {
        "username": user.username,
        "enabled": user.enabled,
        "admin": user.is_admin,
        "groups": list(user.groups),
        "created_at": rfc3339(user.created_at),
        "updated_at": rfc3339(user.updated_at),
    }


def group_view(group: Group) -> GroupView:
    return {
        "name": group.name,
        "enabled": group.enabled,
        "members": list(group.members),
        "created_at": rfc3339(group.created_at),
    }


def grant_scope(grant: Grant) -> str:
    """The grant as one ``type:pattern:actions`` string, as POST /grants accepts it."""
    return f"{grant.resource_type}:{grant.pattern}:{','.join(grant.actions)}"


def grant_view(grant: Grant) -> GrantView:
    assert grant.id is not None, "a stored grant has its id"
    return {
        "id": grant.id,
        "subject": grant.subject,
        "resource_type": grant.resource_type,
        "pattern": grant.pattern,
        "actions": list(grant.actions),
        "scope": grant_scope(grant),
        "created_at": rfc3339(grant.created_at),
    }


def _use(credential: AccessCredential) -> CredentialUse:
    lifetime = credential.access_token_lifetime
    return {
        "created_at": rfc3339(credential.created_at),
        "expires_at": rfc3339(credential.expires_at),
        "enabled": credential.enabled,
        "access_token_lifetime": None if lifetime is None else int(lifetime.total_seconds()),
        "last_used_at": rfc3339(credential.last_used_at),
        "last_used_from": credential.last_used_from,
    }


def robot_view(robot: AccessCredential) -> RobotView:
    """A robot account as shown and audited: never its secret nor the secret's hash."""
    return {
        "name": robot.name,
        "id": robot.id,
        "owner": robot.owner,
        "owner_source": robot.owner_source,
        **_use(robot),
    }


def token_view(token: AccessCredential) -> TokenView:
    """A personal access token as shown and audited: never its secret nor the secret's hash."""
    return {
        "id": token.id,
        "name": token.name,
        "owner": token.owner,
        "owner_source": token.owner_source,
        "scopes": list(token.scopes),
        **_use(token),
    }


def key_view(key: StoredKey, now: datetime | None = None) -> KeyView:
    moment = now or datetime.now(UTC)
    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "state": key.state,
        "created_at": rfc3339(key.created_at),
        "activated_at": rfc3339(key.activated_at),
        "retired_at": rfc3339(key.retired_at),
        "not_after": rfc3339(key.not_after),
        "days_left": round((key.not_after - moment).total_seconds() / 86400, 2),
    }
