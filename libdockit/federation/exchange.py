"""The federated login as a :class:`~libdockit.login.CredentialExchange`: a trust
policy's name as the user name and the workload's OIDC token as the password.

Cheap for everybody else: a password that does not have a JWT's shape, or a user name that
is no trust policy's, is not this exchange's (None: the password check goes on), and the
shape is checked before any policy is looked up. A token for a policy is verified and
matched (see :class:`~.logins.Federation`); what it gets is a
:class:`~libdockit.delegation.Delegation`:

* identity: the policy's name, ``source="federation"``;
* actor, credential and the access token's ``sub``: ``federation:POLICY``, stable whatever
  the workload, so ``dockit audit --actor federation:POLICY`` finds every use; which
  workload it was (the external ``sub``), its issuer and its ``jti`` go to the audit
  event's ``credential`` entry;
* grants: exactly the policy's templates filled from the claims, under the subject
  ``federation:POLICY``, which no stored grant can name (``authenticated`` grants do not
  apply either); or, for a policy that names a robot account, that robot's grants as they
  are now, if the robot may act (see :mod:`.robots`);
* lifetime: the policy's cap, cut to the service's access-token lifetime (and to a
  policy's robot's own lifetime).

A token may be presented again while it is valid (docker logs in once and sends it for
every pull and push): replays are allowed, and each is recorded with its ``jti``, so the
audit log shows how often one token was used. A refused token is recorded under the
policy's actor too (:class:`~libdockit.delegation.CredentialRefused`), with ``sub``
and ``jti`` once the signature was good; an issuer that cannot be reached raises
BackendUnavailable (503) for that policy's tokens only.
"""

from __future__ import annotations

from typing import Protocol

from ..delegation import CredentialRefused, CredentialUnavailable, Delegation
from ..errors import AuthenticationFailed, BackendUnavailable, ValidationError
from ..login import Login
from ..model import Identity, validate_name
from ..secret import Secret
from .logins import FederatedLogin, Federation, looks_like_jwt
from .matching import FEDERATION_PREFIX
from .robots import PolicyRobots
from .trust import TrustPolicy

__all__ = ["FEDERATION_SOURCE", "FederationExchange", "FederationSource", "federated_delegation"]

#: The ``source`` of a federated login's identity.
FEDERATION_SOURCE = "federation"


class FederationSource(Protocol):
    """Where the exchange gets the trust policies in force (a fixed :class:`Federation`,
    or policies read from a store and reloaded when they change)."""

    def current(self) -> Federation: ...


def federated_delegation(login: FederatedLogin, *, max_lifetime: int | None) -> Delegation:
    """What a verified, matching token may do (see the module docs)."""
    name = login.match.policy
    subject = FEDERATION_PREFIX + name
    lifetime = login.token_lifetime
    if max_lifetime is not None:
        lifetime = min(lifetime, max_lifetime)
    return Delegation(
        kind="federation",
        credential=subject,
        actor=subject,
        subjects=(subject,),
        grants=tuple(login.match.grants),
        token_subject=subject,
        token_lifetime=lifetime,
        detail=_who(login.token.issuer, login.token.subject, login.token.jti),
    )


def _who(issuer: str, subject: object, jti: object) -> dict[str, str]:
    detail = {"issuer": issuer}
    if isinstance(subject, str):
        detail["sub"] = subject
    if isinstance(jti, str):
        detail["jti"] = jti
    return detail


class FederationExchange:
    """Logs in trust-policy name + OIDC token (see the module docs). ``max_lifetime``: the
    service's access-token lifetime in seconds, which no policy's cap exceeds. ``robots``:
    the robot accounts policies may name (None: a policy naming one is refused)."""

    def __init__(
        self,
        source: FederationSource,
        *,
        max_lifetime: int | None = None,
        robots: PolicyRobots | None = None,
    ) -> None:
        self._source = source
        self._max_lifetime = max_lifetime
        self._robots = robots

    def exchange(
        self,
        username: str,
        password: Secret,
        *,
        service: str | None,
        client_address: str | None = None,
    ) -> Login | None:
        if not looks_like_jwt(password.reveal()):
            return None
        try:
            name = validate_name(username)
        except ValidationError:
            return None
        federation = self._source.current()
        policy = federation.policy(name)
        if policy is None:
            return None
        try:
            login = federation.login(name, password)
        except AuthenticationFailed as error:
            known = error.detail if isinstance(error.detail, dict) else {}
            who = _who(policy.issuer, known.get("subject"), known.get("jti"))
            raise _refused(policy, error, who) from error
        except BackendUnavailable as error:
            raise CredentialUnavailable(
                error.message,
                actor=FEDERATION_PREFIX + name,
                credential={"kind": "federation", "id": FEDERATION_PREFIX + name}
                | _who(policy.issuer, None, None),
            ) from error
        if policy.robot is None:
            delegation = federated_delegation(login, max_lifetime=self._max_lifetime)
        else:
            delegation = self._as_robot(policy, policy.robot, login)
        return Login(Identity(username=name, source=FEDERATION_SOURCE), delegation=delegation)

    def _as_robot(self, policy: TrustPolicy, robot: str, login: FederatedLogin) -> Delegation:
        who = {**_who(policy.issuer, login.token.subject, login.token.jti), "robot": robot}
        if self._robots is None:
            error = AuthenticationFailed(
                "federated token refused: this Dockit keeps no robot accounts "
                f"(the trust policy acts as robot:{robot})"
            )
            raise _refused(policy, error, who)
        try:
            return self._robots.delegation(
                login, robot, max_lifetime=self._max_lifetime, detail=who
            )
        except AuthenticationFailed as error:
            raise _refused(policy, error, who) from error


def _refused(
    policy: TrustPolicy, error: AuthenticationFailed, who: dict[str, str]
) -> CredentialRefused:
    """``error`` as a refusal the audit log records under the policy, with ``who``."""
    return CredentialRefused(
        error.message,
        actor=FEDERATION_PREFIX + policy.name,
        credential={"kind": "federation", "id": FEDERATION_PREFIX + policy.name, **who},
    )
