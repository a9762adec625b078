"""Write the audit log of the Admin API: every successful change and every refused attempt
(token decisions are recorded by :meth:`libdockit.service.TokenService.handle`).

One middleware, so no resource has to remember to audit. For admin changes the state
*before* is read just before the responder runs (for updates and deletes) and the state
*after* is the answer the responder gives; the action name comes from the matched route.
Changes made by an authenticated admin that succeeded (2xx) are recorded as changes. An
Admin API request that sent credentials and was refused for them (401 bad credentials, 403
not an admin or cross-site, 429 throttled) is an ``admin.refuse`` event: the user it claimed
to be, the action and target it attempted, the client address; never the password.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from libdockit.admin import AdminService
from libdockit.audit import Auditor, RequestInfo
from libdockit.errors import DockitError
from libdockit.keymanager import KeyManager
from libdockit.model import validate_name

from . import client_address
from .basic_auth import parse_basic
from .resources.admin.grants import parse_grant_id
from .resources.admin.views import API_PREFIX, grant_json, group_json, key_json, user_json

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Statuses of an Admin API request refused for who sent it, recorded as ``admin.refuse``.
_REFUSED = frozenset({401, 403, 429})

#: (method, route template relative to /api/v1) -> (action, target parameter kind)
ADMIN_ACTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/users"): ("user.create", "user"),
    ("PATCH", "/users/{username}"): ("user.update", "user"),
    ("DELETE", "/users/{username}"): ("user.delete", "user"),
    ("PUT", "/users/{username}/password"): ("user.password", "user"),
    ("POST", "/groups"): ("group.create", "group"),
    ("PATCH", "/groups/{name}"): ("group.update", "group"),
    ("DELETE", "/groups/{name}"): ("group.delete", "group"),
    ("PUT", "/groups/{name}/members/{username}"): ("group.member.add", "group"),
    ("DELETE", "/groups/{name}/members/{username}"): ("group.member.remove", "group"),
    ("POST", "/grants"): ("grant.create", "grant"),
    ("DELETE", "/grants/{grant_id}"): ("grant.delete", "grant"),
    ("POST", "/keys"): ("key.create", "key"),
    ("POST", "/keys/{kid}/activate"): ("key.activate", "key"),
    ("POST", "/keys/{kid}/retire"): ("key.retire", "key"),
    ("DELETE", "/users/{username}/refresh-tokens"): ("user.refresh_tokens.revoke", "user"),
    ("DELETE", "/refresh-tokens/{token_id}"): ("refresh_token.revoke", "refresh_token"),
}
#: Actions whose state is not shown before or after (it would be a secret, or nothing).
_NO_STATE = frozenset({"user.password"})


class AuditMiddleware:
    def __init__(self, auditor: Auditor, admin: AdminService, keys: KeyManager) -> None:
        self._auditor = auditor
        self._admin = admin
        self._keys = keys

    # -- admin changes ------------------------------------------------------------------
    def _admin_route(self, req: falcon.Request) -> tuple[str, str] | None:
        template = req.uri_template or ""
        if req.method not in _WRITES or not template.startswith(API_PREFIX):
            return None
        relative = template.removeprefix(API_PREFIX)
        return ADMIN_ACTIONS.get(
            (req.method, relative), (f"{req.method.lower()} {relative}", "other")
        )

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]
    ) -> None:
        req.context.route_params = dict(params)
        req.context.audit_before = None
        route = self._admin_route(req)
        if route is None or route[0] in _NO_STATE or not params:
            return
        req.context.audit_before = self._current(route[1], params)

    def _current(self, kind: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The current view of the thing a request names, or None (missing, unreadable)."""
        readers: dict[str, Callable[[], dict[str, Any]]] = {
            "user": lambda: user_json(self._admin.get_user(params["username"])),
            "group": lambda: group_json(self._admin.get_group(params["name"])),
            "grant": lambda: grant_json(self._admin.get_grant(parse_grant_id(params["grant_id"]))),
            "key": lambda: key_json(self._keys.get_key(params["kid"])),
        }
        reader = readers.get(kind)
        if reader is None:
            return None
        try:
            return reader()
        except (DockitError, KeyError, ValueError):
            return None  # the responder will answer the error itself

    def _target(self, kind: str, req: falcon.Request, resp: falcon.Response) -> str:
        params = req.context.get("route_params") or {}
        media = resp.media if isinstance(resp.media, dict) else {}
        before = req.context.get("audit_before") or {}
        name = {
            "user": params.get("username") or media.get("username") or before.get("username"),
            "group": params.get("name") or media.get("name") or before.get("name"),
            "grant": params.get("grant_id") or media.get("id") or before.get("id"),
            "key": params.get("kid") or media.get("kid"),
            "refresh_token": params.get("token_id"),
        }.get(kind)
        return f"{kind}:{name}" if name is not None else req.path

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        if _status(resp) in _REFUSED and req.path.startswith(API_PREFIX):
            self._admin_refusal(req, resp, _request_info(req))
            return
        route = self._admin_route(req)
        user = req.context.get("user")
        if route is None or user is None or not 200 <= _status(resp) < 300:
            return
        action, kind = route
        after = resp.media if isinstance(resp.media, dict) else None
        if action in _NO_STATE or action.endswith(".delete"):
            after = None
        self._auditor.admin_change(
            actor=f"user:{user}",
            action=action,
            target=self._target(kind, req, resp),
            before=req.context.get("audit_before"),
            after=after,
            request=_request_info(req),
        )

    def _admin_refusal(self, req: falcon.Request, resp: falcon.Response, info: RequestInfo) -> None:
        if not req.get_header("Authorization"):
            return  # no credentials, nothing attempted: the 401 only asks for them
        relative = (req.uri_template or req.path).removeprefix(API_PREFIX)
        action, kind = ADMIN_ACTIONS.get(
            (req.method, relative), (f"{req.method.lower()} {relative}", "other")
        )
        user = req.context.get("user") or _attempted_user(req)
        self._auditor.admin_refusal(
            actor=f"user:{user}" if user else "anonymous",
            action=action,
            target=self._target(kind, req, resp),
            status=_status(resp),
            reason=req.context.get("error_code"),
            request=info,
        )


def _request_info(req: falcon.Request) -> RequestInfo:
    return RequestInfo(
        client_address=client_address.of(req), request_id=req.context.get("request_id")
    )


def _attempted_user(req: falcon.Request) -> str | None:
    """The username a refused request tried (never its password), if it sent one."""
    try:
        credentials = parse_basic(req.get_header("Authorization"))
    except DockitError:
        return None
    if credentials is None or not credentials[0]:
        return None
    try:
        return validate_name(credentials[0])
    except DockitError:
        return None


def _status(resp: falcon.Response) -> int:
    return resp.status_code
