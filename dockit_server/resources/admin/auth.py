"""Admin authentication: HTTP Basic credentials of an enabled user with the admin flag.

Every Admin API resource is declared :func:`admin_only`: a falcon hook admits the caller
before any responder looks at the request, so a caller without credentials learns nothing
about bodies or names (401 before 400/404):

* no ``Authorization`` header, a malformed one, or bad credentials → AuthenticationFailed
  (401; the error handlers add the ``WWW-Authenticate: Basic`` challenge);
* good credentials of a user without the admin flag → PermissionDenied (403);
* too many failed logins for the user or from the client → TooManyAttempts (429 with
  ``Retry-After``), counted with the token endpoint's (see :mod:`libdockit.throttle`);
* a backend that cannot tell → BackendUnavailable (503), never 401.

A refusal of credentials that were sent is recorded in the audit log as ``admin.refuse``,
with the action the responder declares (see :mod:`dockit_server.admin_refusals`).

A refresh token (docker's identity token) is accepted as the password, with the token's
user, ``<token>`` or an empty name as the username; any of the user's tokens will do,
whatever registry service it was issued for, since the Admin API is not a registry service.
The user must still be an enabled admin *now*: every use re-reads the account.

A few resources serve any signed-in user, for their own things (their personal access
tokens): they are declared :func:`signed_in` instead, admitted the same way but without the
admin flag. A robot's or personal access token's secret is refused there too (403): managing
credentials takes the user's own password (or refresh token).

An admitted request carries its caller: :func:`caller_of` (the identity) and
:func:`actor_of` (who the library records as making the change, and from where).
"""

from __future__ import annotations

from typing import Any, TypeVar

import falcon

from libdockit.audit import Actor
from libdockit.errors import AuthenticationFailed, PermissionDenied, TooManyAttempts
from libdockit.model import Identity, normalize_name
from libdockit.service import TokenService

from ...admin_refusals import AdminRefusals
from ...basic_auth import parse_basic
from ...request_origin import attempt_of, request_info

ResourceClass = TypeVar("ResourceClass", bound=type)


class AdminAuth:
    def __init__(self, tokens: TokenService, refusals: AdminRefusals) -> None:
        self._tokens = tokens
        self._refusals = refusals

    def admit(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        resource: object,
        params: dict[str, Any],
        *,
        admin: bool = True,
    ) -> None:
        """Let the request on to its responder if an admin (or, with ``admin`` False, any
        user who logged in with a password) sent it; else raise the 401, 403, 429 or 503 to
        answer with (recording a refusal of credentials that were sent)."""
        try:
            credentials = parse_basic(req.get_header("Authorization"))
            if credentials is None:
                who = "admin" if admin else "user"
                raise AuthenticationFailed(f"{who} credentials are required (HTTP Basic)")
            username, password = credentials
            check = self._tokens.authenticate_admin if admin else self._tokens.authenticate
            identity = check(username, password, attempt=attempt_of(req))
        except (AuthenticationFailed, PermissionDenied, TooManyAttempts) as refused:
            self._refusals.record(req, resource, params, refused)
            raise
        req.context.user = identity.username
        req.context.admin = identity
        req.context.actor = Actor.user(identity.username, request_info(req))
        # Admin answers name accounts and memberships: keep them out of every cache.
        resp.set_header("Cache-Control", "no-store")


class AdminResource:
    """Base of every Admin API resource: what :func:`admin_only` needs of it, the
    :class:`AdminAuth` that admits its callers."""

    def __init__(self, auth: AdminAuth) -> None:
        self.admin_auth = auth


def _admit(
    req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]
) -> None:
    if not isinstance(resource, AdminResource):
        raise TypeError(f"{type(resource).__name__} is not an AdminResource")
    resource.admin_auth.admit(req, resp, resource, params)


def _admit_user(
    req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]
) -> None:
    if not isinstance(resource, AdminResource):
        raise TypeError(f"{type(resource).__name__} is not an AdminResource")
    resource.admin_auth.admit(req, resp, resource, params, admin=False)


def admin_only(resource_class: ResourceClass) -> ResourceClass:
    """Class decorator: every responder of the resource requires an admin (see above)."""
    return falcon.before(_admit)(resource_class)


def signed_in(resource_class: ResourceClass) -> ResourceClass:
    """Class decorator: every responder of the resource requires a user who logged in with
    their password (admin or not; see above)."""
    return falcon.before(_admit_user)(resource_class)


def caller_of(req: falcon.Request) -> Identity:
    """The admin (or signed-in user) an admitted request comes from."""
    identity = req.context.admin
    assert isinstance(identity, Identity)
    return identity


def actor_of(req: falcon.Request) -> Actor:
    """Who makes the change an admitted request asks for, for the library's audit log."""
    actor = req.context.actor
    assert isinstance(actor, Actor)
    return actor


def is_self(identity: Identity, username: str) -> bool:
    """Whether ``username`` (as sent, before validation) names the calling admin."""
    return normalize_name(username) == normalize_name(identity.username)
