"""``/api/v1/users``: local user accounts.

An admin may not delete, disable or demote their own account (409 ``CONFLICT``): the last
admin cannot lock everyone out by accident, and another admin can always do it on purpose.
"""

from __future__ import annotations

import falcon

from libdockit.admin import AdminService
from libdockit.errors import Conflict
from libdockit.model import Identity

from ...admin_refusals import admin_action
from .auth import AdminAuth, AdminResource, actor_of, admin_only, caller_of, is_self
from .bodies import read_body_as
from .body_types import PasswordSet, UserCreate, UserUpdate, given
from .paging import check_params, page_json, read_paging
from .views import user_json, user_location


@admin_only
class UsersResource(AdminResource):
    """``GET`` lists users; ``POST`` creates one."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        offset, limit = read_paging(req)
        page = self._admin.list_users(offset=offset, limit=limit)
        resp.media = page_json(page, offset, limit, user_json)

    @admin_action("user.create")
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        check_params(req, ())
        body = read_body_as(req, UserCreate)
        user = self._admin.create_user(
            body.username,
            body.password,
            is_admin=body.admin,
            enabled=body.enabled,
            actor=actor_of(req),
        )
        resp.status = falcon.HTTP_201
        resp.location = user_location(user.username)
        resp.media = user_json(user)


@admin_only
class UserResource(AdminResource):
    """``GET``, ``PATCH`` (``enabled``, ``admin``) and ``DELETE`` one user."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    def on_get(self, req: falcon.Request, resp: falcon.Response, username: str) -> None:
        check_params(req, ())
        resp.media = user_json(self._admin.get_user(username))

    @admin_action("user.update", target="user:{username}")
    def on_patch(self, req: falcon.Request, resp: falcon.Response, username: str) -> None:
        caller = caller_of(req)
        check_params(req, ())
        body = read_body_as(req, UserUpdate)
        enabled, is_admin = given(body.enabled), given(body.admin)
        _refuse_self_lockout(caller, username, enabled=enabled, is_admin=is_admin)
        user = self._admin.update_user(
            username, enabled=enabled, is_admin=is_admin, actor=actor_of(req)
        )
        resp.media = user_json(user)

    @admin_action("user.delete", target="user:{username}")
    def on_delete(self, req: falcon.Request, resp: falcon.Response, username: str) -> None:
        caller = caller_of(req)
        check_params(req, ())
        if is_self(caller, username):
            raise Conflict(
                "you cannot delete your own account; another admin has to do it",
                detail={"username": caller.username},
            )
        self._admin.delete_user(username, actor=actor_of(req))
        resp.status = falcon.HTTP_204


@admin_only
class UserPasswordResource(AdminResource):
    """``PUT`` sets a user's password."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    @admin_action("user.password", target="user:{username}")
    def on_put(self, req: falcon.Request, resp: falcon.Response, username: str) -> None:
        check_params(req, ())
        body = read_body_as(req, PasswordSet)
        self._admin.set_password(username, body.password, actor=actor_of(req))
        resp.status = falcon.HTTP_204


def _refuse_self_lockout(
    caller: Identity, username: str, *, enabled: bool | None, is_admin: bool | None
) -> None:
    if not is_self(caller, username):
        return
    if enabled is False:
        raise Conflict(
            "you cannot disable your own account; another admin has to do it",
            detail={"username": caller.username, "field": "enabled"},
        )
    if is_admin is False:
        raise Conflict(
            "you cannot remove your own admin flag; another admin has to do it",
            detail={"username": caller.username, "field": "admin"},
        )
