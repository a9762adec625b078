"""``/api/v1/robots``: robot accounts (admins only).

* ``GET /robots`` (``?owner=user:NAME|group:NAME``, paged) and ``POST /robots`` (201, the
  secret in the answer, once);
* ``GET``, ``PATCH`` (``enabled``) and ``DELETE`` ``/robots/{name}`` (deleting a robot
  deletes its grants);
* ``POST /robots/{name}/secret``: a new secret (shown once); the old one stops at once.
"""

from __future__ import annotations

import falcon

from libdockit.credential_admin import CredentialAdmin

from ...admin_refusals import admin_action
from .auth import AdminAuth, AdminResource, actor_of, admin_only
from .bodies import read_body_as
from .body_types import RobotCreate, RobotUpdate, SecretRotate
from .credential_fields import expiry_of, lifetime_of
from .paging import check_params, page_json, read_paging, single_param
from .views import robot_json, robot_location


@admin_only
class RobotsResource(AdminResource):
    """``GET`` lists robots; ``POST`` makes one."""

    def __init__(self, credentials: CredentialAdmin, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._credentials = credentials

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        offset, limit = read_paging(req, "owner")
        owner = single_param(req, "owner")
        page = self._credentials.list_robots(owner=owner, offset=offset, limit=limit)
        resp.media = page_json(page, offset, limit, robot_json)

    @admin_action("robot.create")
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        check_params(req, ())
        body = read_body_as(req, RobotCreate)
        robot, secret = self._credentials.create_robot(
            body.name,
            body.owner,
            expires=expiry_of(body),
            never=body.never,
            access_token_lifetime=lifetime_of(body.access_token_lifetime),
            actor=actor_of(req),
        )
        resp.status = falcon.HTTP_201
        resp.location = robot_location(robot.name)
        resp.media = robot_json(robot, secret)


@admin_only
class RobotResource(AdminResource):
    """``GET``, ``PATCH`` (``enabled``) and ``DELETE`` one robot."""

    def __init__(self, credentials: CredentialAdmin, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._credentials = credentials

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        check_params(req, ())
        resp.media = robot_json(self._credentials.get_robot(name))

    @admin_action("robot.update", target="robot:{name}")
    def on_patch(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        check_params(req, ())
        body = read_body_as(req, RobotUpdate)
        robot = self._credentials.set_robot_enabled(name, body.enabled, actor=actor_of(req))
        resp.media = robot_json(robot)

    @admin_action("robot.delete", target="robot:{name}")
    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        check_params(req, ())
        self._credentials.delete_robot(name, actor=actor_of(req))
        resp.status = falcon.HTTP_204


@admin_only
class RobotSecretResource(AdminResource):
    """``POST`` rotates a robot's secret; the body (optional) may set a new expiry."""

    def __init__(self, credentials: CredentialAdmin, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._credentials = credentials

    @admin_action("robot.rotate", target="robot:{name}")
    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        check_params(req, ())
        body = read_body_as(req, SecretRotate) if _has_body(req) else SecretRotate()
        robot, secret = self._credentials.rotate_robot_secret(
            name, expires=expiry_of(body), never=body.never, actor=actor_of(req)
        )
        resp.media = robot_json(robot, secret)


def _has_body(req: falcon.Request) -> bool:
    """Whether a body was sent: a length above zero, chunked, or a Content-Type."""
    return (
        bool(req.content_length)
        or req.get_header("Transfer-Encoding") is not None
        or bool(req.content_type)
    )
