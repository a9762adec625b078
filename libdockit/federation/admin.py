"""Managing trust policies: what the Admin API, the CLI and embedding apps call. Every
change names who makes it and is recorded in the audit log (``trust_policy.create``,
``trust_policy.update``, ``trust_policy.delete``, target ``trust-policy:NAME``, with the
policy's document before and after), like every other admin change
(:mod:`libdockit.admin`).

A policy that names a robot account is stored only while that robot exists (a
ValidationError naming ``robot`` otherwise, as for a grant to a missing robot); what
happens when the robot goes later is in :mod:`.robots`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt

from ..audit import Actor, Auditor
from ..backends.trust_store import TrustPolicyStore
from ..errors import AuthenticationFailed, DockitError, ValidationError
from ..model import Page, validate_name
from ..paging import check_paging
from ..secret import Secret
from .exchange import FederationSource
from .explain import FederatedExplanation, RobotOutcome, explain_claims
from .robots import PolicyRobots
from .trust import TrustPolicy, policy_document

__all__ = ["TrustPolicyAdmin"]

#: The audit log's target for a trust policy: ``trust-policy:NAME``.
TARGET_PREFIX = "trust-policy:"


class TrustPolicyAdmin:
    """Trust policies in ``store``; ``audit`` records changes (None: none are);
    ``federation`` verifies tokens for :meth:`explain` (None: claims only); ``robots``: the
    robot accounts a policy may name (None: naming one is refused)."""

    def __init__(
        self,
        store: TrustPolicyStore,
        *,
        audit: Auditor | None = None,
        federation: FederationSource | None = None,
        robots: PolicyRobots | None = None,
    ) -> None:
        self._store = store
        self._audit = audit
        self._federation = federation
        self._robots = robots

    def create(self, policy: TrustPolicy, *, actor: Actor) -> TrustPolicy:
        """Add a policy; Conflict if its name is taken."""
        self._check_robot(policy)
        stored = self._store.add_trust_policy(policy)
        self._record(actor, "trust_policy.create", stored.name, after=stored)
        return stored

    def get(self, name: str) -> TrustPolicy:
        return self._store.get_trust_policy(validate_name(name))

    def list(self, *, offset: int = 0, limit: int = 100) -> Page[TrustPolicy]:
        check_paging(offset, limit)
        return self._store.list_trust_policies(offset=offset, limit=limit)

    def replace(self, policy: TrustPolicy, *, actor: Actor) -> TrustPolicy:
        """Replace the policy of that name; NotFound if there is none."""
        self._check_robot(policy)
        before = self._before(policy.name)
        stored = self._store.replace_trust_policy(policy)
        self._record(actor, "trust_policy.update", stored.name, before=before, after=stored)
        return stored

    def delete(self, name: str, *, actor: Actor) -> TrustPolicy:
        """Delete a policy and return it; NotFound if there is none."""
        deleted = self._store.delete_trust_policy(validate_name(name))
        self._record(actor, "trust_policy.delete", deleted.name, before=deleted)
        return deleted

    def explain(
        self,
        name: str,
        *,
        claims: Mapping[str, Any] | None = None,
        token: Secret | None = None,
    ) -> FederatedExplanation:
        """Which conditions ``claims`` meet under the policy ``name`` and what its grants
        become; or, given a ``token``, whether it verifies (a refusal is part of the answer,
        not an error) and the same for its claims. NotFound for an unknown policy;
        BackendUnavailable when the issuer's keys cannot be had."""
        policy = self.get(name)
        if (claims is None) == (token is None):
            raise ValidationError("claims", "give the claims or a token, not both")
        robot = self._robot_outcome(policy)
        if claims is not None:
            return explain_claims(policy, claims, robot=robot)
        assert token is not None
        token_claims, checked = self._check_token(policy, token)
        return explain_claims(policy, token_claims, token=checked, robot=robot)

    def _check_robot(self, policy: TrustPolicy) -> None:
        if policy.robot is None:
            return
        if self._robots is None:
            raise ValidationError("robot", "this Dockit keeps no robot accounts: give grants")
        self._robots.check_exists(policy.robot)

    def _robot_outcome(self, policy: TrustPolicy) -> RobotOutcome | None:
        if policy.robot is None:
            return None
        if self._robots is None:
            return RobotOutcome(policy.robot, "this Dockit keeps no robot accounts", (), None)
        return self._robots.outcome(policy)

    def _check_token(
        self, policy: TrustPolicy, token: Secret
    ) -> tuple[Mapping[str, Any], dict[str, Any]]:
        try:
            unverified: dict[str, Any] = jwt.decode(
                token.reveal(), options={"verify_signature": False}
            )
        except jwt.InvalidTokenError as error:
            raise ValidationError("token", "is not a JWT") from error
        if self._federation is None:
            return unverified, {"verified": False, "reason": "federated logins are turned off"}
        try:
            verified = self._federation.current().verify(policy.name, token)
        except AuthenticationFailed as error:
            return unverified, {"verified": False, "reason": error.message}
        found = {"issuer": verified.issuer, "sub": verified.subject, "jti": verified.jti}
        return verified.claims, {"verified": True, "kid": verified.kid, **found}

    def _before(self, name: str) -> TrustPolicy | None:
        if self._audit is None:
            return None
        try:
            return self._store.get_trust_policy(name)
        except DockitError:
            return None  # the change itself answers the error

    def _record(
        self,
        actor: Actor,
        action: str,
        name: str,
        *,
        before: TrustPolicy | None = None,
        after: TrustPolicy | None = None,
    ) -> None:
        if self._audit is not None:
            self._audit.change(
                actor,
                action,
                TARGET_PREFIX + name,
                before=policy_document(before) if before is not None else None,
                after=policy_document(after) if after is not None else None,
            )
