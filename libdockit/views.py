"""Views of users, groups, grants and signing keys as JSON objects: what the Admin API answers
and what the audit log records as a change's *before* and *after*, so both show the same.

Each view is a :class:`~typing.TypedDict`, so mypy checks every key written here; the Admin
API's documented answers (``dockit_server.resources.admin.view_types``) are checked against
these by mypy as well. A user view never carries a password hash
(:class:`~libdockit.model.User` has none to give); a key view carries public facts only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NotRequired, TypedDict

from .clock import rfc3339 as clock_rfc3339
from .model import Grant, Group, KeyState, StoredKey, User


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
