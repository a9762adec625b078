"""TokenService: the one place that ties authenticate → groups → grants → policy → sign.

The server's token endpoint and embedding applications call this and nothing below it.

Refresh tokens (see :mod:`libdockit.refresh`) are accepted wherever a password is: when the
password has the shape of a refresh token and a token with that value exists, the token
decides (a password that merely looks like one is still checked as a password). The
username that comes with it must be the token's user, ``<token>`` (what docker's credential
helpers report for an identity token) or empty (what containerd sends with one). Service
binding: :meth:`TokenService.login` for a registry service accepts only tokens issued for
that service; :meth:`TokenService.authenticate` (the Admin API) accepts any of the user's
tokens, since the Admin API is not a registry and every one of them proves the same login.

With a :class:`~libdockit.throttle.LoginThrottle`, every password and refresh-token check
goes through it: a blocked client (or, for a password, a blocked user) gets
:class:`~libdockit.errors.TooManyAttempts` before anything is checked, and every
AuthenticationFailed counts as a failure. A password the authenticator knows without its
slow check (:class:`~libdockit.backends.base.RememberingAuthenticator`) costs one read of the
counters (and a delete when the user had failures); any other is reserved in the throttle
before it is checked (see :mod:`libdockit.throttle`), so concurrent guesses cannot all pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from types import TracebackType

from .backends.base import (
    Authenticator,
    GrantSource,
    GroupSource,
    LoginFailures,
    RememberingAuthenticator,
)
from .errors import AuthenticationFailed, InvalidRequest, PermissionDenied, UnknownService
from .explain import Explanation, explain_decision
from .keyring import KeyRing
from .model import Identity, RefreshToken, normalize_name, validate_name
from .policy import Decision, decide, subjects_for
from .refresh import RefreshTokens, looks_like_refresh_token
from .scope import ResourceScope
from .secret import Secret
from .single_flight import SingleFlight
from .throttle import Attempt, LoginThrottle, client_key, user_key
from .tokens import IssuedToken, TokenSigner

MAX_SERVICE_LENGTH = 255
MAX_CLIENT_ID_LENGTH = 255
#: The user name docker's credential helpers report for an identity (refresh) token.
TOKEN_USERNAME = "<token>"  # noqa: S105 - a marker name, not a password


@dataclass(frozen=True, slots=True)
class TokenResult:
    token: IssuedToken
    decision: Decision


@dataclass(frozen=True, slots=True)
class Login:
    """Who authenticated; ``refresh_token`` is the token they used instead of a password."""

    identity: Identity
    refresh_token: RefreshToken | None = None


class _CountFailures:
    """What :meth:`TokenService._counting_failures` returns: a class rather than a generator,
    which costs several times more to enter and leave on every login."""

    __slots__ = ("_attempt", "_keys", "_secret", "_service")

    def __init__(
        self,
        service: TokenService,
        keys: Sequence[str | None],
        attempt: Attempt,
        secret: tuple[str, ...],
    ) -> None:
        self._service = service
        self._keys = keys
        self._attempt = attempt
        self._secret = secret

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, AuthenticationFailed):
            self._service._failed(self._keys, self._attempt, self._secret)


class TokenService:
    """Authenticates callers and issues registry tokens for what their grants allow.

    ``services`` is the allow-list of registry service names tokens may be issued for;
    empty means any service. ``groups`` tells which groups a user is in without their
    password, for :meth:`explain`; without it explanations consider no groups.
    ``refresh_tokens`` turns refresh tokens on; without it none are issued or accepted.
    ``while_waiting`` is entered while a login waits for the same credentials' check in
    another request (see :mod:`libdockit.single_flight`).
    """

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        grants: GrantSource,
        keys: KeyRing,
        signer: TokenSigner,
        services: Sequence[str] = (),
        groups: GroupSource | None = None,
        refresh_tokens: RefreshTokens | None = None,
        throttle: LoginThrottle | None = None,
        while_waiting: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        self._authenticator = authenticator
        self._remembered = (
            authenticator.remembered_identity
            if isinstance(authenticator, RememberingAuthenticator)
            else None
        )
        self._grants = grants
        self._keys = keys
        self._signer = signer
        self._services = frozenset(services)
        self._groups = groups
        self._refresh = refresh_tokens
        self._throttle = throttle
        #: The same user and password checked once at a time (see libdockit.single_flight).
        self._checks: SingleFlight[Identity] = SingleFlight(while_waiting=while_waiting)

    @property
    def keys(self) -> KeyRing:
        return self._keys

    @property
    def refresh_tokens(self) -> RefreshTokens | None:
        return self._refresh

    def login(
        self,
        username: str,
        password: Secret,
        *,
        service: str | None,
        attempt: Attempt | None = None,
    ) -> Login:
        """Authenticate by password or refresh token; AuthenticationFailed for bad ones.

        ``service``: a refresh token must have been issued for it; None accepts any.
        ``attempt`` says where the login came from, for the throttle (see
        :mod:`libdockit.throttle`): TooManyAttempts while the client or, for a password, the
        user is blocked. BackendUnavailable from the authenticator propagates: "cannot tell"
        is not "no".
        """
        attempt = attempt or Attempt()
        client = client_key(attempt.client_address)
        user = user_key(username) if username not in ("", TOKEN_USERNAME) else None
        found = self._lookup(client, user)
        self._enforce(found, client)
        if self._refresh is not None and password and looks_like_refresh_token(password.reveal()):
            record = self._refresh.find(password)
            if record is not None:
                # A valid refresh token still works while the user's password is blocked:
                # nobody guesses one, and a lockout must not log out every docker daemon.
                with self._counting_failures((client,), attempt):
                    if username not in ("", TOKEN_USERNAME) and normalize_name(username) != (
                        record.username
                    ):
                        raise AuthenticationFailed("the refresh token was issued to another user")
                    return Login(self._refresh.redeem(record, service=service), record)
            if username in ("", TOKEN_USERNAME):
                self._failed((client,), attempt, ("refresh_token", password.reveal()))
                raise AuthenticationFailed("the refresh token is unknown or revoked; log in again")
        if not username or not password:
            raise AuthenticationFailed("username and password are required")
        self._enforce(found, user)
        identity = self._remembered(username, password) if self._remembered else None
        if identity is not None:
            if self._throttle is not None:
                self._throttle.succeeded(user, found)
            return Login(identity)
        return Login(self._check_password(username, password, user, client, attempt))

    def _check_password(
        self,
        username: str,
        password: Secret,
        user: str | None,
        client: str | None,
        attempt: Attempt,
    ) -> Identity:
        """The slow check, reserved in the throttle first (see :mod:`libdockit.throttle`)."""
        throttle = self._throttle
        if throttle is None:
            identity = self._authenticator.authenticate(username, password)
            if identity is None:
                raise AuthenticationFailed("invalid username or password")
            return identity
        fingerprint = throttle.password_fingerprint(user or username, password)
        return self._checks.run(
            fingerprint,
            lambda: self._check_reserved(
                throttle, fingerprint, username, password, keys=(user, client), attempt=attempt
            ),
        )

    def _check_reserved(
        self,
        throttle: LoginThrottle,
        fingerprint: str,
        username: str,
        password: Secret,
        *,
        keys: tuple[str | None, str | None],
        attempt: Attempt,
    ) -> Identity:
        """Reserve the attempt under ``keys`` (user, client), check, settle the count."""
        reservation = throttle.reserve(keys, fingerprint=fingerprint)
        if reservation.known_wrong:
            raise AuthenticationFailed("invalid username or password")
        try:
            identity = self._authenticator.authenticate(username, password)
        except BaseException:
            throttle.cancel(reservation)  # "cannot tell" is not a failure
            raise
        if identity is None:
            throttle.wrong(reservation, attempt)
            raise AuthenticationFailed("invalid username or password")
        throttle.cancel(reservation, clear=keys[0])
        return identity

    def authenticate(
        self, username: str, password: Secret, *, attempt: Attempt | None = None
    ) -> Identity:
        """The caller's identity; AuthenticationFailed for bad credentials.

        A refresh token of any service is accepted as the password (see the module docs).
        BackendUnavailable from the authenticator propagates: "cannot tell" is not "no".
        """
        return self.login(username, password, service=None, attempt=attempt).identity

    def redeem_refresh_token(
        self, value: Secret, *, service: str, attempt: Attempt | None = None
    ) -> Login:
        """``grant_type=refresh_token``: the token's user as they are now, for ``service``.

        A bad token counts as a failed login of the client (``attempt``).
        """
        if self._refresh is None:
            raise AuthenticationFailed("this Dockit does not accept refresh tokens")
        attempt = attempt or Attempt()
        client = client_key(attempt.client_address)
        self._enforce(self._lookup(client), client)
        with self._counting_failures((client,), attempt, ("refresh_token", value.reveal())):
            identity, record = self._refresh.redeem_value(value, service=service)
        return Login(identity, record)

    # -- throttle ---------------------------------------------------------------------
    def _lookup(self, *keys: str | None) -> list[LoginFailures]:
        return [] if self._throttle is None else self._throttle.lookup(keys)

    def _enforce(self, found: Sequence[LoginFailures], key: str | None) -> None:
        if self._throttle is not None and key is not None:
            self._throttle.enforce(found, (key,))

    def _failed(
        self, keys: Sequence[str | None], attempt: Attempt, secret: tuple[str, ...] = ()
    ) -> None:
        """Count a failure; ``secret`` (what was sent) makes a repeat of it count once."""
        if self._throttle is not None:
            fingerprint = self._throttle.fingerprint(*secret) if secret else None
            self._throttle.failed(keys, attempt, fingerprint=fingerprint)

    def _counting_failures(
        self, keys: Sequence[str | None], attempt: Attempt, secret: tuple[str, ...] = ()
    ) -> _CountFailures:
        """Count AuthenticationFailed raised inside as a failed login under ``keys``;
        ``secret`` (what was sent) makes a repeat of the same wrong secret count once."""
        return _CountFailures(self, keys, attempt, secret)

    def issue_refresh_token(
        self, identity: Identity, *, service: str, client_id: str | None
    ) -> Secret | None:
        """A new refresh token's value, or None when refresh tokens are off or this identity
        cannot hold one (see :meth:`libdockit.refresh.RefreshTokens.issue`)."""
        if self._refresh is None:
            return None
        issued = self._refresh.issue(identity, service=service, client_id=client_id)
        return None if issued is None else issued.value

    def authenticate_admin(
        self, username: str, password: Secret, *, attempt: Attempt | None = None
    ) -> Identity:
        identity = self.authenticate(username, password, attempt=attempt)
        if not identity.is_admin:
            raise PermissionDenied(f"user {identity.username!r} is not an admin")
        return identity

    def check_service(self, service: str | None) -> str:
        if not service:
            raise InvalidRequest("the 'service' parameter is required")
        if len(service) > MAX_SERVICE_LENGTH or not service.isprintable():
            raise InvalidRequest("the 'service' parameter is not a valid service name")
        if self._services and service not in self._services:
            served = sorted(self._services)
            raise UnknownService(
                f"service {service!r} is not one this Dockit serves ({', '.join(served)})",
                detail={"service": service, "served": served},
            )
        return service

    def check_client_id(self, client_id: str | None) -> str | None:
        """``client_id`` (RFC 6749 appendix A.1: printable ASCII), or None if not sent."""
        if client_id is None:
            return None
        if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
            raise InvalidRequest(
                f"the 'client_id' parameter must be 1 to {MAX_CLIENT_ID_LENGTH} characters"
            )
        if any(not " " <= char <= "~" for char in client_id):
            raise InvalidRequest("the 'client_id' parameter must be printable ASCII")
        return client_id

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
