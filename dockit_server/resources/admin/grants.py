"""``/api/v1/grants``: who may do what on which resources.

``POST`` takes either the parts or one scope-like string::

    {"subject": "group:team", "resource_type": "repository", "pattern": "team/*",
     "actions": ["pull", "push"]}
    {"subject": "group:team", "scope": "repository:team/*:pull,push"}
"""

from __future__ import annotations

import re
from typing import Any

import falcon

from libdockit.admin import AdminService
from libdockit.audit import Actor
from libdockit.errors import ValidationError
from libdockit.model import AddedGrant

from ...admin_refusals import admin_action
from .auth import AdminAuth, AdminResource, actor_of, admin_only
from .bodies import decode_body, read_object
from .body_types import GrantParts, GrantScope
from .paging import check_params, page_json, read_paging, single_param
from .views import grant_json, grant_location

#: Grant ids are positive and fit a signed 64-bit column.
MAX_GRANT_ID = 2**63 - 1
_ID_RE = re.compile(r"[0-9]{1,19}")


def parse_grant_id(raw: str) -> int:
    """A grant id from the path: a positive decimal integer, else 400 ``INVALID_FIELD``."""
    if _ID_RE.fullmatch(raw) is None or not 1 <= int(raw) <= MAX_GRANT_ID:
        raise ValidationError("grant_id", "must be a positive integer")
    return int(raw)


@admin_only
class GrantsResource(AdminResource):
    """``GET`` lists grants (``?subject=`` filters); ``POST`` adds one."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        offset, limit = read_paging(req, "subject")
        subject = single_param(req, "subject")
        page = self._admin.list_grants(subject=subject, offset=offset, limit=limit)
        resp.media = page_json(page, offset, limit, grant_json)

    @admin_action("grant.create")
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        check_params(req, ())
        added = self._add(read_object(req), actor_of(req))
        resp.status = falcon.HTTP_201
        resp.location = grant_location(added.grant.id)
        resp.media = grant_json(added.grant)
        if added.notes:
            resp.media["notes"] = list(added.notes)

    def _add(self, raw: dict[str, Any], actor: Actor) -> AddedGrant:
        """The scope form when ``scope`` is sent, else the parts form; never both."""
        if "scope" in raw:
            parts = sorted(name for name in raw if name in _PARTS_ONLY)
            if parts:
                raise ValidationError(
                    "scope",
                    f"give either 'scope' or {_PARTS_ONLY_TEXT}, not both "
                    f"(also got {', '.join(parts)})",
                )
            scope = decode_body(raw, GrantScope)
            return self._admin.add_grant_from_scope(
                scope.subject,
                scope.scope,
                allow_unknown_type=scope.allow_unknown_type,
                actor=actor,
            )
        body = decode_body(raw, GrantParts)
        return self._admin.add_grant(
            body.subject,
            body.resource_type,
            body.pattern,
            body.actions,
            allow_unknown_type=body.allow_unknown_type,
            actor=actor,
        )


#: The fields that only the parts form has.
_PARTS_ONLY = tuple(
    name for name in GrantParts.__struct_fields__ if name not in GrantScope.__struct_fields__
)
_PARTS_ONLY_TEXT = ", ".join(map(repr, _PARTS_ONLY[:-1])) + f" and {_PARTS_ONLY[-1]!r}"


@admin_only
class GrantResource(AdminResource):
    """``GET`` and ``DELETE`` one grant by id."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    def on_get(self, req: falcon.Request, resp: falcon.Response, grant_id: str) -> None:
        check_params(req, ())
        resp.media = grant_json(self._admin.get_grant(parse_grant_id(grant_id)))

    @admin_action("grant.delete", target="grant:{grant_id}")
    def on_delete(self, req: falcon.Request, resp: falcon.Response, grant_id: str) -> None:
        check_params(req, ())
        self._admin.delete_grant(parse_grant_id(grant_id), actor=actor_of(req))
        resp.status = falcon.HTTP_204
