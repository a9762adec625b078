"""Personal access tokens through the Admin API.

* ``GET /tokens``, ``POST /tokens``: the caller's own tokens, for any user who logged in
  with their password (no admin flag needed; see :func:`~.auth.signed_in`). The answer to
  POST holds the secret, once;
* ``DELETE /tokens/{token_id}``: revoke one of the caller's own (an admin: anyone's);
  another user's is 404, as if it did not exist;
* ``GET /users/{username}/tokens``: an admin lists anyone's.
"""

from __future__ import annotations

import falcon

from libdockit.credential_admin import CredentialAdmin

from ...admin_refusals import admin_action
from .auth import AdminAuth, AdminResource, actor_of, admin_only, caller_of, signed_in
from .bodies import read_body_as
from .body_types import TokenCreate
from .credential_fields import expiry_of, lifetime_of
from .paging import check_params, page_json, read_paging
from .views import token_json


@signed_in
class OwnTokensResource(AdminResource):
    """``GET`` lists the caller's tokens; ``POST`` makes one."""

    def __init__(self, credentials: CredentialAdmin, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._credentials = credentials

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        offset, limit = read_paging(req)
        username = caller_of(req).username
        page = self._credentials.list_tokens(username, offset=offset, limit=limit)
        resp.media = page_json(page, offset, limit, token_json)

    @admin_action("pat.create")
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        check_params(req, ())
        caller = caller_of(req)
        body = read_body_as(req, TokenCreate)
        token, secret = self._credentials.create_token(
            caller.username,
            body.name,
            scopes=body.scopes,
            expires=expiry_of(body),
            never=body.never,
            access_token_lifetime=lifetime_of(body.access_token_lifetime),
            owner_source=caller.source,
            actor=actor_of(req),
        )
        resp.status = falcon.HTTP_201
        resp.media = token_json(token, secret)


@signed_in
class OwnTokenResource(AdminResource):
    """``DELETE`` revokes a token: the caller's own, or, for an admin, anyone's."""

    def __init__(self, credentials: CredentialAdmin, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._credentials = credentials

    @admin_action("pat.revoke", target="pat:{token_id}")
    def on_delete(self, req: falcon.Request, resp: falcon.Response, token_id: str) -> None:
        check_params(req, ())
        caller = caller_of(req)
        owner = None if caller.is_admin else caller.username
        self._credentials.revoke_token(token_id, username=owner, actor=actor_of(req))
        resp.status = falcon.HTTP_204


@admin_only
class UserTokensResource(AdminResource):
    """``GET`` lists a user's tokens (admins)."""

    def __init__(self, credentials: CredentialAdmin, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._credentials = credentials

    def on_get(self, req: falcon.Request, resp: falcon.Response, username: str) -> None:
        offset, limit = read_paging(req)
        page = self._credentials.list_tokens(username, offset=offset, limit=limit)
        resp.media = page_json(page, offset, limit, token_json)
