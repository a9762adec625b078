"""``GET /api/v1/explain?user=NAME&scope=SCOPE``: why a user would (not) get each action.

``user`` is optional (absent: an anonymous caller); ``scope`` is required and may repeat
or hold several space-separated scopes, exactly as in a token request.
"""

from __future__ import annotations

from typing import Any

import falcon

from libdockit.admin import AdminService
from libdockit.errors import NotFound, ValidationError
from libdockit.explain import Explanation
from libdockit.scope import parse_scopes
from libdockit.service import TokenService

from .auth import AdminAuth, AdminResource, admin_only
from .paging import check_params, single_param
from .views import grant_json


@admin_only
class ExplainResource(AdminResource):
    def __init__(self, admin: AdminService, tokens: TokenService, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin
        self._tokens = tokens

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        check_params(req, ("user",), repeatable=("scope",))
        username = single_param(req, "user")
        raw_scopes = req.get_param_as_list("scope") or []
        scopes = parse_scopes(raw_scopes)
        if not scopes:
            raise ValidationError("scope", "name at least one scope, e.g. repository:team/app:pull")
        explanation = self._tokens.explain(username, scopes)
        resp.media = explanation_json(explanation, self._account(explanation))

    def _account(self, explanation: Explanation) -> dict[str, Any] | None:
        """The local account behind the subject, and notes a reader needs."""
        if not explanation.subject.startswith("user:"):
            return None
        username = explanation.subject.removeprefix("user:")
        try:
            user = self._admin.get_user(username)
        except NotFound:
            return {"local": False, "enabled": None}
        return {"local": True, "enabled": user.enabled}


def explanation_json(explanation: Explanation, account: dict[str, Any] | None) -> dict[str, Any]:
    notes = []
    if account is not None and account["enabled"] is False:
        notes.append("the user is disabled: no token is issued to them at all")
    if account is not None and not account["local"]:
        notes.append("no local user of this name: only a directory login could use these grants")
    return {
        "subject": explanation.subject,
        "groups": list(explanation.groups),
        "account": account,
        "notes": notes,
        "scopes": [
            {
                "scope": scope.scope.format(),
                "type": scope.scope.type,
                "name": scope.scope.name,
                "actions": [
                    {
                        "action": action.action,
                        "granted": action.granted,
                        "grants": [grant_json(grant) for grant in action.grants],
                    }
                    for action in scope.actions
                ],
            }
            for scope in explanation.scopes
        ],
    }
