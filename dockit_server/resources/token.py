"""``/v2/token``: the registry token endpoint (distribution's docs/spec/auth/token.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import falcon

from libdockit.errors import NotFound
from libdockit.scope import parse_scopes
from libdockit.service import TokenService

from ..basic_auth import parse_basic


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenResource:
    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = self._tokens.check_service(req.get_param("service"))
        scopes = parse_scopes(req.get_param_as_list("scope") or [])
        credentials = parse_basic(req.get_header("Authorization"))
        identity = None
        if credentials is not None:
            identity = self._tokens.authenticate(*credentials)
            req.context.user = identity.username
            self._tokens.check_account(identity, req.get_param("account"))
        result = self._tokens.issue(identity, service=service, scopes=scopes)
        req.context.token_result = result  # for the audit log
        issued = result.token
        resp.media = {
            "token": issued.token,
            "access_token": issued.token,
            "expires_in": issued.expires_in,
            "issued_at": rfc3339(issued.issued_at),
        }
        resp.set_header("Cache-Control", "no-store")
        resp.set_header("Pragma", "no-cache")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        # The OAuth2 form flow is not served yet; 404 makes containerd fall back to GET.
        raise NotFound("POST /v2/token is not supported yet; use GET")
