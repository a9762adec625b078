"""JSON views of users, groups and grants, as the Admin API returns them.

Each view is written as its declaration in :mod:`.view_types` (so mypy checks every key)
and handed on as a plain dict, which callers may extend (a new grant's ``notes``).

A user view never carries a password hash: :class:`~libdockit.model.User` has none to give.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from libdockit.model import Grant, Group, User

from . import view_types

API_PREFIX = "/api/v1"


def rfc3339(moment: datetime | None) -> str | None:
    """UTC, second precision, ``Z`` suffix (e.g. ``2024-05-01T12:00:00Z``)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_json(user: User) -> dict[str, Any]:
    view: view_types.User = {
        "username": user.username,
        "enabled": user.enabled,
        "admin": user.is_admin,
        "groups": list(user.groups),
        "created_at": rfc3339(user.created_at),
        "updated_at": rfc3339(user.updated_at),
    }
    return dict(view)


def group_json(group: Group) -> dict[str, Any]:
    view: view_types.Group = {
        "name": group.name,
        "enabled": group.enabled,
        "members": list(group.members),
        "created_at": rfc3339(group.created_at),
    }
    return dict(view)


def grant_scope(grant: Grant) -> str:
    """The grant as one ``type:pattern:actions`` string, as POST /grants accepts it."""
    return f"{grant.resource_type}:{grant.pattern}:{','.join(grant.actions)}"


def grant_json(grant: Grant) -> dict[str, Any]:
    assert grant.id is not None, "a stored grant has its id"
    view: view_types.Grant = {
        "id": grant.id,
        "subject": grant.subject,
        "resource_type": grant.resource_type,
        "pattern": grant.pattern,
        "actions": list(grant.actions),
        "scope": grant_scope(grant),
        "created_at": rfc3339(grant.created_at),
    }
    return dict(view)


def user_location(username: str) -> str:
    return f"{API_PREFIX}/users/{username}"


def group_location(name: str) -> str:
    return f"{API_PREFIX}/groups/{name}"


def grant_location(grant_id: int | None) -> str:
    return f"{API_PREFIX}/grants/{grant_id}"
