"""TokenService: the one place that ties authenticate → groups → grants → policy → sign.

The server's token endpoint and embedding applications call this and nothing below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .backends.base import Authenticator, GrantStore, GroupSource
from .errors import AuthenticationFailed, InvalidRequest, PermissionDenied, UnknownService
from .explain import Explanation, explain_decision
from .keyring import KeyRing
from .model import Identity, normalize_name, validate_name
from .policy import Decision, decide, subjects_for
from .scope import ResourceScope
from .secret import Secret
from .tokens import IssuedToken, TokenSigner

MAX_SERVICE_LENGTH = 255


@dataclass(frozen=True, slots=True)
class TokenResult:
    token: IssuedToken
    decision: Decision


class TokenService:
    """Authenticates callers and issues registry tokens for what their grants allow.

    ``services`` is the allow-list of registry service names tokens may be issued for;
    empty means any service. ``groups`` tells which groups a user is in without their
    password, for :meth:`explain`; without it explanations consider no groups.
    """

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        grants: GrantStore,
        keys: KeyRing,
        signer: TokenSigner,
        services: Sequence[str] = (),
        groups: GroupSource | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._grants = grants
        self._keys = keys
        self._signer = signer
        self._services = frozenset(services)
        self._groups = groups

    @property
    def keys(self) -> KeyRing:
        return self._keys

    def authenticate(self, username: str, password: Secret) -> Identity:
        """The caller's identity; AuthenticationFailed for bad credentials.

        BackendUnavailable from the authenticator propagates: "cannot tell" is not "no".
        """
        if not username or not password:
            raise AuthenticationFailed("username and password are required")
        identity = self._authenticator.authenticate(username, password)
        if identity is None:
            raise AuthenticationFailed("invalid username or password")
        return identity

    def authenticate_admin(self, username: str, password: Secret) -> Identity:
        identity = self.authenticate(username, password)
        if not identity.is_admin:
            raise PermissionDenied(f"user {identity.username!r} is not an admin")
        return identity

    def check_service(self, service: str | None) -> str:
        if not service:
            raise InvalidRequest("the 'service' parameter is required")
        if len(service) > MAX_SERVICE_LENGTH or not service.isprintable():
            raise InvalidRequest("the 'service' parameter is not a valid service name")
        if self._services and service not in self._services:
            raise UnknownService(f"service {service!r} is not served by this Dockit")
        return service

    def check_account(self, identity: Identity, account: str | None) -> None:
        """The legacy ``account`` parameter must name the authenticated user, if sent."""
        if account and normalize_name(account) != identity.username:
            raise InvalidRequest("the 'account' parameter does not match the authenticated user")

    def decide(self, identity: Identity | None, scopes: Sequence[ResourceScope]) -> Decision:
        """What ``identity`` (None: anonymous) gets for ``scopes``, with matching grants."""
        if not scopes:
            subject = "anonymous" if identity is None else f"user:{identity.username}"
            return Decision(subject=subject, scopes=())
        grants = self._grants.grants_for_subjects(subjects_for(identity))
        return decide(identity, grants, scopes)

    def issue(
        self, identity: Identity | None, *, service: str, scopes: Sequence[ResourceScope]
    ) -> TokenResult:
        """Sign a token for ``service`` carrying granted ∩ requested for every scope."""
        audience = self.check_service(service)
        decision = self.decide(identity, scopes)
        token = self._signer.sign(
            self._keys.active(),
            subject=identity.username if identity is not None else "",
            audience=audience,
            access=decision.access(),
        )
        return TokenResult(token=token, decision=decision)

    def explain(self, username: str | None, scopes: Sequence[ResourceScope]) -> Explanation:
        """What ``username`` (None: anonymous) would be granted for ``scopes``, and why.

        Uses the user's current groups; it does not check that the user could log in.
        """
        identity = None
        if username is not None:
            name = validate_name(username, field_name="user")
            groups = self._groups.groups_for(name) if self._groups is not None else ()
            identity = Identity(username=name, groups=groups)
        return explain_decision(identity, self.decide(identity, scopes))
