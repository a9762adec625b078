"""``/api/v1/groups``: local groups and their members."""

from __future__ import annotations

import falcon

from libdockit.admin import AdminService

from ...admin_refusals import admin_action
from .auth import AdminAuth, AdminResource, actor_of, admin_only
from .bodies import read_body_as
from .body_types import GroupCreate, GroupUpdate
from .paging import check_params, page_json, read_paging
from .views import group_json, group_location


@admin_only
class GroupsResource(AdminResource):
    """``GET`` lists groups; ``POST`` creates one."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        offset, limit = read_paging(req)
        page = self._admin.list_groups(offset=offset, limit=limit)
        resp.media = page_json(page, offset, limit, group_json)

    @admin_action("group.create")
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        check_params(req, ())
        body = read_body_as(req, GroupCreate)
        group = self._admin.create_group(body.name, enabled=body.enabled, actor=actor_of(req))
        resp.status = falcon.HTTP_201
        resp.location = group_location(group.name)
        resp.media = group_json(group)


@admin_only
class GroupResource(AdminResource):
    """``GET``, ``PATCH`` (``enabled``) and ``DELETE`` one group."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        check_params(req, ())
        resp.media = group_json(self._admin.get_group(name))

    @admin_action("group.update", target="group:{name}")
    def on_patch(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        check_params(req, ())
        body = read_body_as(req, GroupUpdate)
        resp.media = group_json(
            self._admin.set_group_enabled(name, body.enabled, actor=actor_of(req))
        )

    @admin_action("group.delete", target="group:{name}")
    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        check_params(req, ())
        self._admin.delete_group(name, actor=actor_of(req))
        resp.status = falcon.HTTP_204


@admin_only
class GroupMemberResource(AdminResource):
    """``PUT`` adds a member (idempotent); ``DELETE`` removes one (404 if not a member).

    Both answer with the group as it is afterwards.
    """

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    @admin_action("group.member.add", target="group:{name}")
    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str, username: str) -> None:
        check_params(req, ())
        resp.media = group_json(self._admin.add_member(name, username, actor=actor_of(req)))

    @admin_action("group.member.remove", target="group:{name}")
    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, name: str, username: str
    ) -> None:
        check_params(req, ())
        resp.media = group_json(self._admin.remove_member(name, username, actor=actor_of(req)))
