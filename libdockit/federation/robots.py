"""Trust policies that name a robot account: a matching token acts with the robot's grants.

The policy maps a workload (a repository's workflow, a service account) onto a robot an
admin already manages, so the workload pushes where the robot may without anyone handing
it the robot's secret. At every federated login, after the token is verified and its
claims meet the policy's conditions:

* the robot is looked up by name and must be usable now, by the same rules as a login with
  its secret (:class:`~libdockit.credential_checks.CredentialChecks`): disabled, expired,
  deleted, or with an owner who can no longer log in is a refusal (401) naming why, never
  the robot's grants;
* the login acts as the robot does (:func:`~libdockit.credential_login.credential_delegation`):
  the stored grants of ``robot:NAME`` and the public (``anonymous``) ones, read at every
  request, so a grant given to the robot or taken away counts from the next token;
  ``${user}`` in a pattern is the robot's name, as in its own logins;
* it is still named as the federated login it is: identity, actor and the access token's
  ``sub`` are ``federation:POLICY``; the audit event's credential entry adds
  ``"robot": NAME`` to the issuer, ``sub`` and ``jti``;
* the access token lives the shortest of: the policy's cap, the service's access-token
  lifetime, and the robot's own access-token lifetime when it has one (capped as for its
  own logins). The policy bounds what a workload gets, the robot how long its grants are
  used in one token; neither widens the other.

The robot's last use (its record's ``last_used_at``) stays that of its secret: a federated
login writes nothing, and the audit log says which robot each one acted as.

Deleting a robot a policy names is allowed (a robot also goes when its owner is deleted):
the policy's tokens are refused from then on, saying the robot does not exist. A robot made
again under that name is the one the policy acts as (with no grants until given some).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..backends.base import GrantSource
from ..backends.credential_store import AccessCredentialStore
from ..clock import Clock, utc_now
from ..credential_checks import CredentialChecks
from ..credential_login import credential_delegation
from ..delegation import Delegation
from ..errors import AuthenticationFailed
from ..grant_checks import check_robot_exists
from ..model import ROBOT_PREFIX, AccessCredential, Grant
from .explain import RobotOutcome
from .logins import FederatedLogin
from .matching import FEDERATION_PREFIX
from .trust import TrustPolicy

__all__ = ["PolicyRobots"]


class PolicyRobots:
    """The robot accounts trust policies name (see the module docs): ``credentials`` where
    robots are kept, ``grants`` their grants (for ``explain``), ``checks`` the rules a robot
    must pass."""

    def __init__(
        self,
        credentials: AccessCredentialStore,
        grants: GrantSource,
        checks: CredentialChecks,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._credentials = credentials
        self._grants = grants
        self._checks = checks
        self._clock = clock

    def check_exists(self, name: str) -> None:
        """ValidationError (``robot``) unless a robot of this name exists: what a policy
        that names one must pass to be stored."""
        check_robot_exists(
            ROBOT_PREFIX + name,
            self._credentials,
            field="robot",
            then="name it in the trust policy",
        )

    def delegation(
        self,
        login: FederatedLogin,
        robot: str,
        *,
        max_lifetime: int | None,
        detail: Mapping[str, str],
    ) -> Delegation:
        """How ``login`` acts as the robot ``robot`` (``detail``: the audit log's words on
        the workload); AuthenticationFailed saying why when the robot may not act now,
        BackendUnavailable when its owner cannot be looked up."""
        record, refusal = self._judge(robot)
        if record is None or refusal is not None:
            raise AuthenticationFailed(_refusal_message(robot, refusal))
        own = self._checks.token_lifetime(record)
        lifetimes = [login.token_lifetime, *(x for x in (max_lifetime, own) if x is not None)]
        subject = FEDERATION_PREFIX + login.match.policy
        return dataclasses.replace(
            credential_delegation(record),
            kind="federation",
            credential=subject,
            actor=subject,
            token_subject=subject,
            token_lifetime=min(lifetimes),
            detail={**detail, "robot": record.name},
            pattern_user=record.name,
        )

    def outcome(self, policy: TrustPolicy) -> RobotOutcome:
        """What ``policy``'s robot would give a login now (``policy.robot`` must be set)."""
        assert policy.robot is not None
        record, refusal = self._judge(policy.robot)
        if record is None:
            return RobotOutcome(policy.robot, _refusal_message(policy.robot, None), (), None)
        subjects = credential_delegation(record).subjects or ()
        grants = self._grants.grants_for_subjects(subjects)
        return RobotOutcome(
            record.name,
            None if refusal is None else _refusal_message(record.name, refusal),
            tuple(sorted(grants, key=_grant_order)),
            self._checks.token_lifetime(record),
        )

    def _judge(self, name: str) -> tuple[AccessCredential | None, str | None]:
        found = self._credentials.list_access_credentials(kind="robot", name=name, limit=1)
        if not found.items:
            return None, None
        record = found.items[0]
        return record, self._checks.robot_refusal(record, self._clock())


def _refusal_message(robot: str, refusal: str | None) -> str:
    """A federated refusal for the policy's robot: ``refusal`` (None: it does not exist)."""
    why = refusal or "the robot account does not exist"
    return f"federated token refused: {why} (the trust policy acts as {ROBOT_PREFIX}{robot})"


def _grant_order(grant: Grant) -> tuple[str, str, str]:
    return (grant.subject, grant.resource_type, grant.pattern)
