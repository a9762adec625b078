"""JSON views of users, groups, grants and keys, as the Admin API returns them.

The views are the library's (:mod:`libdockit.views`), so the audit log records a change with
the same views the API shows. Each is taken here as its declared answer in
:mod:`.view_types` (so mypy checks the library's keys against the documented ones) and
handed on as a plain dict, which callers may extend (a new grant's ``notes``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from libdockit import views
from libdockit.model import AccessCredential, Grant, Group, StoredKey, User
from libdockit.secret import Secret
from libdockit.views import rfc3339

from . import view_types

__all__ = [
    "API_PREFIX",
    "grant_json",
    "grant_location",
    "group_json",
    "group_location",
    "key_json",
    "rfc3339",
    "robot_json",
    "robot_location",
    "token_json",
    "user_json",
    "user_location",
]

API_PREFIX = "/api/v1"


def user_json(user: User) -> dict[str, Any]:
    view: view_types.User = views.user_view(user)
    return dict(view)


def group_json(group: Group) -> dict[str, Any]:
    view: view_types.Group = views.group_view(group)
    return dict(view)


def grant_json(grant: Grant) -> dict[str, Any]:
    view: view_types.Grant = views.grant_view(grant)
    return dict(view)


def key_json(key: StoredKey, now: datetime | None = None) -> dict[str, Any]:
    view: view_types.Key = views.key_view(key, now)
    return dict(view)


def robot_json(robot: AccessCredential, secret: Secret | None = None) -> dict[str, Any]:
    """A robot's view; with ``secret`` (only when it was just made or rotated), that too."""
    view: view_types.Robot = views.robot_view(robot)
    if secret is None:
        return dict(view)
    shown: view_types.RobotWithSecret = {**view, "secret": secret.reveal()}
    return dict(shown)


def token_json(token: AccessCredential, secret: Secret | None = None) -> dict[str, Any]:
    """A personal access token's view; with ``secret`` (only when just made), that too."""
    view: view_types.PersonalAccessToken = views.token_view(token)
    if secret is None:
        return dict(view)
    shown: view_types.PersonalAccessTokenWithSecret = {**view, "secret": secret.reveal()}
    return dict(shown)


def robot_location(name: str) -> str:
    return f"{API_PREFIX}/robots/{name}"


def user_location(username: str) -> str:
    return f"{API_PREFIX}/users/{username}"


def group_location(name: str) -> str:
    return f"{API_PREFIX}/groups/{name}"


def grant_location(grant_id: int | None) -> str:
    return f"{API_PREFIX}/grants/{grant_id}"
