"""The Admin API's route table, relative to :data:`~.views.API_PREFIX`.

Every resource here requires an admin, but ``/tokens`` (any signed-in user's own personal
access tokens); the public OpenAPI route is added separately.
"""

from __future__ import annotations

from collections.abc import Callable

from ...components import Components
from .audit import AuditResource
from .auth import AdminAuth
from .explain import ExplainResource
from .grants import GrantResource, GrantsResource
from .groups import GroupMemberResource, GroupResource, GroupsResource
from .keys import KeyActivateResource, KeyResource, KeyRetireResource, KeysResource
from .personal_tokens import OwnTokenResource, OwnTokensResource, UserTokensResource
from .refresh_tokens import RefreshTokenResource, UserRefreshTokensResource
from .robots import RobotResource, RobotSecretResource, RobotsResource
from .trust_policies import (
    TrustPoliciesResource,
    TrustPolicyExplainResource,
    TrustPolicyResource,
)
from .users import UserPasswordResource, UserResource, UsersResource

ResourceFactory = Callable[[Components, AdminAuth], object]


def _credentials(resource: Callable[..., object]) -> ResourceFactory:
    """For resources built from the CredentialAdmin alone."""
    return lambda components, auth: resource(components.credentials, auth)


def _admin(resource: Callable[..., object]) -> ResourceFactory:
    """For resources built from the AdminService alone."""
    return lambda components, auth: resource(components.admin, auth)


def _trust(resource: Callable[..., object]) -> ResourceFactory:
    """For resources built from the trust-policy admin (workload identity federation)."""
    return lambda components, auth: resource(components.admin.trust_policies, auth)


ADMIN_ROUTES: tuple[tuple[str, ResourceFactory], ...] = (
    ("/users", _admin(UsersResource)),
    ("/users/{username}", _admin(UserResource)),
    ("/users/{username}/password", _admin(UserPasswordResource)),
    ("/users/{username}/refresh-tokens", _admin(UserRefreshTokensResource)),
    ("/refresh-tokens/{token_id}", _admin(RefreshTokenResource)),
    ("/users/{username}/tokens", _credentials(UserTokensResource)),
    ("/tokens", _credentials(OwnTokensResource)),
    ("/tokens/{token_id}", _credentials(OwnTokenResource)),
    ("/robots", _credentials(RobotsResource)),
    ("/robots/{name}", _credentials(RobotResource)),
    ("/robots/{name}/secret", _credentials(RobotSecretResource)),
    ("/groups", _admin(GroupsResource)),
    ("/groups/{name}", _admin(GroupResource)),
    ("/groups/{name}/members/{username}", _admin(GroupMemberResource)),
    ("/grants", _admin(GrantsResource)),
    ("/grants/{grant_id}", _admin(GrantResource)),
    ("/explain", lambda c, auth: ExplainResource(c.admin, c.tokens, c.credentials, auth)),
    ("/audit", lambda c, auth: AuditResource(c.audit, auth)),
    ("/keys", lambda c, auth: KeysResource(c.key_manager, c.tokens.keys, auth)),
    ("/keys/{kid}", lambda c, auth: KeyResource(c.key_manager, auth)),
    ("/keys/{kid}/activate", lambda c, a: KeyActivateResource(c.key_manager, c.tokens.keys, a)),
    ("/keys/{kid}/retire", lambda c, a: KeyRetireResource(c.key_manager, c.tokens.keys, a)),
    ("/trust-policies", _trust(TrustPoliciesResource)),
    ("/trust-policies/{name}", _trust(TrustPolicyResource)),
    ("/trust-policies/{name}/explain", _trust(TrustPolicyExplainResource)),
)
OPENAPI_ROUTE = "/openapi.json"
