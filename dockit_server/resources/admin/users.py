"""``/api/v1/users``: local user accounts.

An admin may not delete, disable or demote their own account (409 ``CONFLICT``): the last
admin cannot lock everyone out by accident, and another admin can always do it on purpose.
"""

from __future__ import annotations

import falcon

from libdockit.admin import AdminService
from libdockit.errors import Conflict, ValidationError
from libdockit.model import Identity

from .auth import AdminAuth, is_self
from .bodies import Fields, read_object
from .paging import check_params, page_json, read_paging
from .views import user_json, user_location

CREATE_FIELDS = ("username", "password", "admin", "enabled")
UPDATE_FIELDS = ("enabled", "admin")
PASSWORD_FIELDS = ("password",)


class UsersResource:
    """``GET`` lists users; ``POST`` creates one."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        self._admin = admin
        self._auth = auth

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.require(req, resp)
        offset, limit = read_paging(req)
        page = self._admin.list_users(offset=offset, limit=limit)
        resp.media = page_json(page, offset, limit, user_json)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        fields = Fields(read_object(req), CREATE_FIELDS)
        username = fields.string("username")
        password = fields.secret("password")
        user = self._admin.create_user(
            username,
            password,
            is_admin=fields.boolean("admin", default=False),
            enabled=fields.boolean("enabled", default=True),
        )
        resp.status = falcon.HTTP_201
        resp.location = user_location(user.username)
        resp.media = user_json(user)


class UserResource:
    """``GET``, ``PATCH`` (``enabled``, ``admin``) and ``DELETE`` one user."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        self._admin = admin
        self._auth = auth

    def on_get(self, req: falcon.Request, resp: falcon.Response, username: str) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        resp.media = user_json(self._admin.get_user(username))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, username: str) -> None:
        caller = self._auth.require(req, resp)
        check_params(req, ())
        fields = Fields(read_object(req), UPDATE_FIELDS)
        enabled = fields.optional_boolean("enabled")
        is_admin = fields.optional_boolean("admin")
        if enabled is None and is_admin is None:
            raise ValidationError("enabled", "give at least one of 'enabled' and 'admin'")
        _refuse_self_lockout(caller, username, enabled=enabled, is_admin=is_admin)
        user = self._admin.update_user(username, enabled=enabled, is_admin=is_admin)
        resp.media = user_json(user)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, username: str) -> None:
        caller = self._auth.require(req, resp)
        check_params(req, ())
        if is_self(caller, username):
            raise Conflict(
                "you cannot delete your own account; another admin has to do it",
                detail={"username": caller.username},
            )
        self._admin.delete_user(username)
        resp.status = falcon.HTTP_204


class UserPasswordResource:
    """``PUT`` sets a user's password."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        self._admin = admin
        self._auth = auth

    def on_put(self, req: falcon.Request, resp: falcon.Response, username: str) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        fields = Fields(read_object(req), PASSWORD_FIELDS)
        self._admin.set_password(username, fields.secret("password"))
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
