"""``/api/v1/trust-policies``: which external OIDC issuers' tokens Dockit accepts, and what
they get (workload identity federation, see :mod:`libdockit.federation`).

``POST`` creates a policy, ``PUT /trust-policies/{name}`` replaces every field of one,
``POST /trust-policies/{name}/explain`` says which conditions given claims (or a token's)
meet and what the grants become.
"""

from __future__ import annotations

import falcon

from libdockit.errors import NotFound, ValidationError
from libdockit.federation import policy_from_document
from libdockit.federation.admin import TrustPolicyAdmin
from libdockit.model import validate_name
from libdockit.secret import Secret

from ...admin_refusals import admin_action
from .auth import AdminAuth, AdminResource, actor_of, admin_only
from .bodies import read_body_as
from .body_types import given
from .paging import check_params, page_json, read_paging
from .trust_policy_types import (
    TrustPolicyCreate,
    TrustPolicyExplain,
    TrustPolicyUpdate,
    to_document,
    trust_policy_json,
)
from .views import API_PREFIX


def trust_policy_location(name: str) -> str:
    return f"{API_PREFIX}/trust-policies/{name}"


def _policies(admin: TrustPolicyAdmin | None) -> TrustPolicyAdmin:
    if admin is None:  # an AdminService built without a trust-policy store
        raise NotFound("this Dockit keeps no trust policies")
    return admin


@admin_only
class TrustPoliciesResource(AdminResource):
    """``GET`` lists trust policies; ``POST`` creates one."""

    def __init__(self, admin: TrustPolicyAdmin | None, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        offset, limit = read_paging(req)
        page = _policies(self._admin).list(offset=offset, limit=limit)
        resp.media = page_json(page, offset, limit, trust_policy_json)

    @admin_action("trust_policy.create")
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        check_params(req, ())
        body = read_body_as(req, TrustPolicyCreate)
        policy = policy_from_document(to_document(body, body.name))
        created = _policies(self._admin).create(policy, actor=actor_of(req))
        resp.status = falcon.HTTP_201
        resp.location = trust_policy_location(created.name)
        resp.media = trust_policy_json(created)


@admin_only
class TrustPolicyResource(AdminResource):
    """``GET``, ``PUT`` (every field) and ``DELETE`` one trust policy."""

    def __init__(self, admin: TrustPolicyAdmin | None, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        check_params(req, ())
        resp.media = trust_policy_json(_policies(self._admin).get(name))

    @admin_action("trust_policy.update", target="trust-policy:{name}")
    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        check_params(req, ())
        body = read_body_as(req, TrustPolicyUpdate)
        policy = policy_from_document(to_document(body, validate_name(name)))
        resp.media = trust_policy_json(_policies(self._admin).replace(policy, actor=actor_of(req)))

    @admin_action("trust_policy.delete", target="trust-policy:{name}")
    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        check_params(req, ())
        _policies(self._admin).delete(name, actor=actor_of(req))
        resp.status = falcon.HTTP_204


@admin_only
class TrustPolicyExplainResource(AdminResource):
    """``POST`` explains claims or a token under one trust policy (POST: a token has no
    place in a URL). It changes nothing; its action names it in refused attempts."""

    def __init__(self, admin: TrustPolicyAdmin | None, auth: AdminAuth) -> None:
        super().__init__(auth)
        self._admin = admin

    @admin_action("trust_policy.explain", target="trust-policy:{name}")
    def on_post(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        check_params(req, ())
        body = read_body_as(req, TrustPolicyExplain)
        claims, token = given(body.claims), given(body.token)
        if claims is not None and token is not None:
            raise ValidationError("claims", "give the claims or a token, not both")
        explanation = _policies(self._admin).explain(
            name, claims=claims, token=Secret(token) if token is not None else None
        )
        resp.media = explanation.as_json()
