"""What each Admin API write responder does, declared on it, and the audit record of Admin
API requests refused for who sent them.

A write responder declares its action once, beside its code::

    @admin_action("user.update", target="user:{username}")
    def on_patch(self, req, resp, username): ...

The change itself, once made, is recorded by the library under that same action (see
:mod:`libdockit.admin` and :mod:`libdockit.keys.manager`). The declaration names what a
request *attempted* when it is refused before it could do anything: a wrong password or a
malformed ``Authorization`` header (401), a user without the admin flag or a cross-site write
(403), a throttled login (429). Such a refusal is an ``admin.refuse`` event with the user the
request claimed to be (never its password), the attempted action and target, the status,
the error code and where it came from. A request that sent no credentials attempted nothing
and is not recorded. A responder that declares nothing (the reads) is named by its method and
route, e.g. ``get /users``; its target is the request's path, as is a write's whose
``target`` names no route parameter (a create: the new name is in the body, not read yet).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import falcon

from libdockit.audit import Auditor
from libdockit.delegation import DelegatedLoginDenied
from libdockit.errors import DockitError
from libdockit.model import validate_name

from .basic_auth import parse_basic
from .request_origin import request_info

_DECLARATION = "admin_action"

Responder = TypeVar("Responder", bound=Callable[..., None])


@dataclass(frozen=True, slots=True)
class AdminAction:
    """``name``: the audit action (``user.update``); ``target``: the thing it changes as a
    template over the route's parameters (``user:{username}``), None for the request path."""

    name: str
    target: str | None = None

    def target_of(self, params: Mapping[str, Any], path: str) -> str:
        if self.target is None:
            return path
        try:
            return self.target.format_map(params)
        except (KeyError, ValueError):
            return path


def admin_action(name: str, *, target: str | None = None) -> Callable[[Responder], Responder]:
    """Declare the audit action of an Admin API responder (see the module docstring)."""
    declared = AdminAction(name, target)

    def declare(responder: Responder) -> Responder:
        setattr(responder, _DECLARATION, declared)
        return responder

    return declare


def declared_action(resource: object, method: str) -> AdminAction | None:
    """The action ``resource`` declares for HTTP ``method``, if it declares one."""
    responder = getattr(resource, f"on_{method.lower()}", None)
    declared = getattr(responder, _DECLARATION, None)
    return declared if isinstance(declared, AdminAction) else None


class AdminRefusals:
    """Records refused attempts on the API under ``prefix`` in ``auditor`` (None: the audit
    log is off)."""

    def __init__(self, auditor: Auditor | None, prefix: str) -> None:
        self._auditor = auditor
        self._prefix = prefix

    def attempted(self, req: falcon.Request, resource: object) -> AdminAction:
        """What ``req`` attempts: its responder's declaration, else its method and route
        (relative to the prefix)."""
        declared = declared_action(resource, req.method)
        if declared is not None:
            return declared
        relative = (req.uri_template or req.path).removeprefix(self._prefix)
        return AdminAction(f"{req.method.lower()} {relative}")

    def record(
        self,
        req: falcon.Request,
        resource: object,
        params: Mapping[str, Any],
        error: DockitError,
    ) -> None:
        if self._auditor is None or not req.get_header("Authorization"):
            return  # no credentials, nothing attempted: the 401 only asks for them
        action = self.attempted(req, resource)
        if isinstance(error, DelegatedLoginDenied):
            actor = error.actor  # a robot or federated login names itself, not a user
        else:
            user = req.context.get("user") or _attempted_user(req)
            actor = f"user:{user}" if user else "anonymous"
        self._auditor.admin_refusal(
            actor=actor,
            action=action.name,
            target=action.target_of(params, req.path),
            status=error.http_status,
            reason=error.code,
            request=request_info(req),
        )


def _attempted_user(req: falcon.Request) -> str | None:
    """The username a refused request claimed (never its password), if it sent a valid one."""
    try:
        credentials = parse_basic(req.get_header("Authorization"))
        return validate_name(credentials[0]) if credentials is not None else None
    except DockitError:
        return None
