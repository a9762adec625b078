"""``/api/v1/groups``: local groups and their members."""

from __future__ import annotations

import falcon

from libdockit.admin import AdminService

from .auth import AdminAuth
from .bodies import read_body_as
from .body_types import GroupCreate, GroupUpdate
from .paging import check_params, page_json, read_paging
from .views import group_json, group_location


class GroupsResource:
    """``GET`` lists groups; ``POST`` creates one."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        self._admin = admin
        self._auth = auth

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.require(req, resp)
        offset, limit = read_paging(req)
        page = self._admin.list_groups(offset=offset, limit=limit)
        resp.media = page_json(page, offset, limit, group_json)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        body = read_body_as(req, GroupCreate)
        group = self._admin.create_group(body.name, enabled=body.enabled)
        resp.status = falcon.HTTP_201
        resp.location = group_location(group.name)
        resp.media = group_json(group)


class GroupResource:
    """``GET``, ``PATCH`` (``enabled``) and ``DELETE`` one group."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        self._admin = admin
        self._auth = auth

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        resp.media = group_json(self._admin.get_group(name))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        body = read_body_as(req, GroupUpdate)
        resp.media = group_json(self._admin.set_group_enabled(name, body.enabled))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        self._admin.delete_group(name)
        resp.status = falcon.HTTP_204


class GroupMemberResource:
    """``PUT`` adds a member (idempotent); ``DELETE`` removes one (404 if not a member).

    Both answer with the group as it is afterwards.
    """

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        self._admin = admin
        self._auth = auth

    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str, username: str) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        resp.media = group_json(self._admin.add_member(name, username))

    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, name: str, username: str
    ) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        resp.media = group_json(self._admin.remove_member(name, username))
