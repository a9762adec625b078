"""Refresh tokens (what ``docker login`` stores as ``identitytoken``) through the Admin API.

* ``GET /users/{username}/refresh-tokens``: a user's tokens, newest first (paged);
* ``DELETE /users/{username}/refresh-tokens``: revoke them all; answers how many;
* ``DELETE /refresh-tokens/{token_id}``: revoke one by its public id (204).

A view shows the token's public id, service, client and times: never its value or hash,
which the store does not have and does not give out, respectively.
"""

from __future__ import annotations

from typing import Any

import falcon

from libdockit.admin import AdminService
from libdockit.model import RefreshToken, validate_name

from ...admin_refusals import admin_action
from . import view_types
from .auth import AdminAuth, AdminResource, actor_of, admin_only
from .paging import check_params, page_json, read_paging
from .views import rfc3339


def refresh_token_json(token: RefreshToken) -> dict[str, Any]:
    view: view_types.RefreshToken = {
        "id": token.id,
        "username": token.username,
        "service": token.service,
        "client_id": token.client_id,
        "created_at": rfc3339(token.created_at),
        "last_used_at": rfc3339(token.last_used_at),
        "expires_at": rfc3339(token.expires_at),
        "source": token.source,
    }
    return dict(view)


@admin_only
class UserRefreshTokensResource(AdminResource):
    """``GET`` lists a user's refresh tokens; ``DELETE`` revokes every one of them."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    def on_get(self, req: falcon.Request, resp: falcon.Response, username: str) -> None:
        offset, limit = read_paging(req)
        page = self._admin.list_refresh_tokens(username, offset=offset, limit=limit)
        resp.media = page_json(page, offset, limit, refresh_token_json)

    @admin_action("user.refresh_tokens.revoke", target="user:{username}")
    def on_delete(self, req: falcon.Request, resp: falcon.Response, username: str) -> None:
        check_params(req, ())
        revoked = self._admin.revoke_user_refresh_tokens(username, actor=actor_of(req))
        resp.media = {
            "username": validate_name(username, field_name="username"),
            "revoked": revoked,
        }


@admin_only
class RefreshTokenResource(AdminResource):
    """``DELETE`` revokes one refresh token."""

    def __init__(self, admin: AdminService, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    @admin_action("refresh_token.revoke", target="refresh_token:{token_id}")
    def on_delete(self, req: falcon.Request, resp: falcon.Response, token_id: str) -> None:
        check_params(req, ())
        self._admin.revoke_refresh_token(token_id, actor=actor_of(req))
        resp.status = falcon.HTTP_204
