"""Admin authentication: HTTP Basic credentials of an enabled user with the admin flag.

Every Admin API responder calls :meth:`AdminAuth.require` before it looks at the request,
so a caller without credentials learns nothing about bodies or names (401 before 400/404):

* no ``Authorization`` header, a malformed one, or bad credentials → AuthenticationFailed
  (401; the error handlers add the ``WWW-Authenticate: Basic`` challenge);
* good credentials of a user without the admin flag → PermissionDenied (403);
* too many failed logins for the user or from the client → TooManyAttempts (429 with
  ``Retry-After``), counted with the token endpoint's (see :mod:`libdockit.throttle`);
* a backend that cannot tell → BackendUnavailable (503), never 401.

A refresh token (docker's identity token) is accepted as the password, with the token's
user, ``<token>`` or an empty name as the username; any of the user's tokens will do,
whatever registry service it was issued for, since the Admin API is not a registry service.
The user must still be an enabled admin *now*: every use re-reads the account.
"""

from __future__ import annotations

import falcon

from libdockit.errors import AuthenticationFailed
from libdockit.model import Identity, normalize_name
from libdockit.service import TokenService

from ...basic_auth import parse_basic
from ...request_origin import attempt_of


class AdminAuth:
    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def require(self, req: falcon.Request, resp: falcon.Response) -> Identity:
        """The admin making the request, or the 401/403/503 error to answer with."""
        credentials = parse_basic(req.get_header("Authorization"))
        if credentials is None:
            raise AuthenticationFailed("admin credentials are required (HTTP Basic)")
        username, password = credentials
        identity = self._tokens.authenticate_admin(username, password, attempt=attempt_of(req))
        req.context.user = identity.username
        # Admin answers name accounts and memberships: keep them out of every cache.
        resp.set_header("Cache-Control", "no-store")
        return identity


def is_self(identity: Identity, username: str) -> bool:
    """Whether ``username`` (as sent, before validation) names the calling admin."""
    return normalize_name(username) == normalize_name(identity.username)
