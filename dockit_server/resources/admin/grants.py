"""``/api/v1/grants``: who may do what on which resources.

``POST`` takes either the parts or one scope-like string::

    {"subject": "group:team", "resource_type": "repository", "pattern": "team/*",
     "actions": ["pull", "push"]}
    {"subject": "group:team", "scope": "repository:team/*:pull,push"}
"""

from __future__ import annotations

import re

import falcon

from libdockit.admin import AdminService
from libdockit.errors import ValidationError
from libdockit.model import AddedGrant

from .auth import AdminAuth
from .bodies import Fields, read_object
from .paging import check_params, page_json, read_paging, single_param
from .views import grant_json, grant_location

PART_FIELDS = ("subject", "resource_type", "pattern", "actions")
SCOPE_FIELDS = ("subject", "scope")
#: Accepted with either form: store a type registries never ask for, deliberately.
ALLOW_UNKNOWN_TYPE = "allow_unknown_type"
#: Grant ids are positive and fit a signed 64-bit column.
MAX_GRANT_ID = 2**63 - 1
_ID_RE = re.compile(r"[0-9]{1,19}")


def parse_grant_id(raw: str) -> int:
    """A grant id from the path: a positive decimal integer, else 400 ``INVALID_FIELD``."""
    if _ID_RE.fullmatch(raw) is None or not 1 <= int(raw) <= MAX_GRANT_ID:
        raise ValidationError("grant_id", "must be a positive integer")
    return int(raw)


class GrantsResource:
    """``GET`` lists grants (``?subject=`` filters); ``POST`` adds one."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        self._admin = admin
        self._auth = auth

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.require(req, resp)
        offset, limit = read_paging(req, "subject")
        subject = single_param(req, "subject")
        page = self._admin.list_grants(subject=subject, offset=offset, limit=limit)
        resp.media = page_json(page, offset, limit, grant_json)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        added = self._add(read_object(req))
        resp.status = falcon.HTTP_201
        resp.location = grant_location(added.grant.id)
        resp.media = grant_json(added.grant)
        if added.notes:
            resp.media["notes"] = list(added.notes)

    def _add(self, body: dict[str, object]) -> AddedGrant:
        if "scope" in body:
            parts = sorted(name for name in PART_FIELDS[1:] if name in body)
            if parts:
                raise ValidationError(
                    "scope",
                    f"give either 'scope' or 'resource_type', 'pattern' and 'actions', "
                    f"not both (also got {', '.join(parts)})",
                )
            fields = Fields(body, (*SCOPE_FIELDS, ALLOW_UNKNOWN_TYPE))
            return self._admin.add_grant_from_scope(
                fields.string("subject"),
                fields.string("scope"),
                allow_unknown_type=fields.boolean(ALLOW_UNKNOWN_TYPE, default=False),
            )
        fields = Fields(body, (*PART_FIELDS, ALLOW_UNKNOWN_TYPE))
        return self._admin.add_grant(
            fields.string("subject"),
            fields.string("resource_type"),
            fields.string("pattern"),
            fields.string_list("actions"),
            allow_unknown_type=fields.boolean(ALLOW_UNKNOWN_TYPE, default=False),
        )


class GrantResource:
    """``GET`` and ``DELETE`` one grant by id."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        self._admin = admin
        self._auth = auth

    def on_get(self, req: falcon.Request, resp: falcon.Response, grant_id: str) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        resp.media = grant_json(self._admin.get_grant(parse_grant_id(grant_id)))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, grant_id: str) -> None:
        self._auth.require(req, resp)
        check_params(req, ())
        self._admin.delete_grant(parse_grant_id(grant_id))
        resp.status = falcon.HTTP_204
