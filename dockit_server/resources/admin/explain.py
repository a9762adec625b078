"""``GET /api/v1/explain?user=NAME&scope=SCOPE``: why a user would (not) get each action.

``user`` is optional (absent: an anonymous caller); ``robot=NAME`` explains a robot account
and ``pat=ID`` a personal access token instead (its owner's grants narrowed to its
scopes). ``scope`` is required and may repeat or hold several space-separated scopes,
exactly as in a token request.
"""

from __future__ import annotations

from typing import Any

import falcon

from libdockit.access_credentials import credential_refusal
from libdockit.admin import AdminService
from libdockit.clock import utc_now
from libdockit.credential_admin import CredentialAdmin
from libdockit.credential_explain import explain_credential
from libdockit.errors import NotFound, ValidationError
from libdockit.explain import Explanation
from libdockit.model import AccessCredential
from libdockit.scope import parse_scopes
from libdockit.service import TokenService

from .auth import AdminAuth, AdminResource, admin_only
from .paging import check_params, single_param
from .views import grant_json, rfc3339

_WHO = ("user", "robot", "pat")


@admin_only
class ExplainResource(AdminResource):
    def __init__(
        self,
        admin: AdminService,
        tokens: TokenService,
        credentials: CredentialAdmin,
        auth: AdminAuth,
    ) -> None:
        super().__init__(auth)
        self._admin = admin
        self._tokens = tokens
        self._credentials = credentials

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        check_params(req, _WHO, repeatable=("scope",))
        given = {name: single_param(req, name) for name in _WHO}
        named = [name for name, value in given.items() if value is not None]
        if len(named) > 1:
            raise ValidationError(named[1], "give at most one of user, robot and pat")
        raw_scopes = req.get_param_as_list("scope") or []
        scopes = parse_scopes(raw_scopes)
        if not scopes:
            raise ValidationError("scope", "name at least one scope, e.g. repository:team/app:pull")
        credential = self._credential(given["robot"], given["pat"])
        if credential is None:
            explanation = self._tokens.explain(given["user"], scopes)
        else:
            explanation = explain_credential(self._tokens, credential, scopes)
        resp.media = explanation_json(explanation, self._account(explanation), credential)

    def _credential(self, robot: str | None, token: str | None) -> AccessCredential | None:
        if robot is not None:
            return self._credentials.get_robot(robot.removeprefix("robot:"))
        if token is not None:
            return self._credentials.get_token(token.removeprefix("pat:"))
        return None

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


def credential_json(credential: AccessCredential) -> dict[str, Any]:
    return {
        "kind": credential.kind,
        "id": credential.id,
        "name": credential.name,
        "owner": credential.owner,
        "scopes": list(credential.scopes),
        "enabled": credential.enabled,
        "expires_at": rfc3339(credential.expires_at),
    }


def _credential_notes(credential: AccessCredential) -> list[str]:
    what = "the robot" if credential.kind == "robot" else "the personal access token"
    refusal = credential_refusal(credential, utc_now())
    notes = []
    if refusal is not None:
        notes.append(f"{what} is {refusal}: it gets no token at all")
    if credential.kind == "pat":
        notes.append(
            "a personal access token has its owner's grants as they are at each request, "
            + (
                "narrowed to its scopes: " + ", ".join(credential.scopes)
                if credential.scopes
                else "not narrowed (it has no scopes)"
            )
        )
    else:
        notes.append(
            "a robot has only the grants to its own subject and anonymous ones (not "
            "authenticated's, nor a user's)"
        )
    return notes


def explanation_json(
    explanation: Explanation,
    account: dict[str, Any] | None,
    credential: AccessCredential | None = None,
) -> dict[str, Any]:
    notes = []
    if account is not None and account["enabled"] is False:
        notes.append("the user is disabled: no token is issued to them at all")
    if account is not None and not account["local"]:
        notes.append("no local user of this name: only a directory login could use these grants")
    if credential is not None:
        notes.extend(_credential_notes(credential))
    return {
        "subject": explanation.subject,
        "groups": list(explanation.groups),
        "account": account,
        "credential": None if credential is None else credential_json(credential),
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
