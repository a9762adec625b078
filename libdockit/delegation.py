"""Logins that act with less (or other) than their owner's rights: robot accounts, personal
access tokens and federated (OIDC) logins.

A :class:`~libdockit.login.CredentialExchange` turns a credential that is not a password (a
robot's or a personal token's secret, an external OIDC token) into a
:class:`~libdockit.login.Login` carrying a :class:`Delegation`: whose grants apply, or which
grants exactly, how the result is narrowed, how long the access token lives, and what the
audit log records. The token path (:meth:`libdockit.service.TokenService.handle`) reads it;
the exchanges plug into :class:`~libdockit.login.Logins` in order, before the password
check.

A delegated login never gets a refresh token (the credential itself is what a client keeps)
and never authenticates to the Admin API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .access_credentials import actions_within_scopes
from .errors import AuthenticationFailed, BackendUnavailable, PermissionDenied
from .model import Grant
from .policy import Decision, GrantMatch, ScopeDecision


@dataclass(frozen=True, slots=True)
class Delegation:
    """What a login by a credential other than a password may do, and how it is named.

    ``kind``: ``robot``, ``pat`` or ``federation``. ``credential``: what the audit log and
    explanations name as the credential that granted access (``robot:ci``, ``pat:ID``,
    ``federation:POLICY``). ``actor``: the audit log's actor and the decision's subject.
    ``subjects``: the grant subjects whose stored grants apply (None: the login identity's,
    as for a password). ``grants``: exactly these grants instead of stored ones (a trust
    policy's grants, filled in from the token's claims). ``scopes``: ``TYPE:PATTERN:ACTIONS``
    texts that narrow whatever the grants give (see
    :func:`libdockit.access_credentials.actions_within_scopes`; empty: not narrowed).
    ``token_subject``: the access token's ``sub`` (None: the identity's username).
    ``token_lifetime``: the access token's lifetime in seconds (None: the service's).
    ``detail``: more for the audit log (an issuer, an external ``sub`` and ``jti``).
    ``pattern_user``: the name ``${user}`` stands for in grant patterns (None: the login
    identity's username); a federated login that acts as a robot uses the robot's, so its
    grants match what they match for the robot's own logins.
    """

    kind: str
    credential: str
    actor: str
    subjects: tuple[str, ...] | None = None
    grants: tuple[Grant, ...] | None = None
    scopes: tuple[str, ...] = ()
    token_subject: str | None = None
    token_lifetime: int | None = None
    detail: Mapping[str, str] = field(default_factory=dict)
    pattern_user: str | None = None

    def audit_detail(self) -> dict[str, str]:
        """The audit event's ``credential`` entry."""
        return {"kind": self.kind, "id": self.credential, **self.detail}


class CredentialRefused(AuthenticationFailed):
    """A credential that may not log in (unknown, disabled, expired, its owner gone, sent
    with another name): the audit log names the credential's ``actor`` and ``credential``
    (:meth:`Delegation.audit_detail`'s shape); ``actor`` None (an unknown credential's)
    names the user the client claimed to be."""

    def __init__(self, message: str, *, actor: str | None, credential: Mapping[str, str]) -> None:
        super().__init__(message)
        self.actor = actor
        self.credential = dict(credential)


class CredentialUnavailable(BackendUnavailable):
    """A credential that cannot be checked now (its issuer cannot be reached, and no keys
    are cached): a 503 like every "cannot tell", recorded under the credential's ``actor``
    and ``credential`` as :class:`CredentialRefused` is."""

    def __init__(self, message: str, *, actor: str, credential: Mapping[str, str]) -> None:
        super().__init__(message)
        self.actor = actor
        self.credential = dict(credential)


class DelegatedLoginDenied(PermissionDenied):
    """A robot's, personal token's or federated login where only a password will do (the
    Admin API): ``actor`` is the :attr:`Delegation.actor` the audit log names."""

    def __init__(self, message: str, *, actor: str) -> None:
        super().__init__(message)
        self.actor = actor


def narrow(decision: Decision, scopes: Sequence[str], username: str) -> Decision:
    """``decision`` with every granted action outside ``scopes`` taken away (``${user}`` in
    a scope's pattern is ``username``); unchanged when ``scopes`` is empty."""
    if not scopes:
        return decision
    narrowed = []
    for scope in decision.scopes:
        requested = scope.requested
        allowed = actions_within_scopes(scopes, requested.type, requested.name, username)
        if allowed is None:  # pragma: no cover - scopes is not empty
            narrowed.append(scope)
            continue
        matches = []
        for match in scope.matches:
            kept = tuple([action for action in match.actions if action in allowed])
            if kept:
                matches.append(GrantMatch(match.grant, kept))
        granted = tuple([action for action in scope.granted if action in allowed])
        narrowed.append(ScopeDecision(requested, granted, tuple(matches)))
    return Decision(decision.subject, tuple(narrowed))
