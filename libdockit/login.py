"""Logins: a password or a refresh token, checked through the failed-login throttle.

:class:`Logins` is the one place credentials are checked: the token endpoint (through
:meth:`libdockit.service.TokenService.handle`) and Admin API authentication (through
:meth:`~libdockit.service.TokenService.authenticate_admin`) both come here.

Refresh tokens (see :mod:`libdockit.refresh`) are accepted wherever a password is: when the
password has the shape of a refresh token and a token with that value exists, the token
decides (a password that merely looks like one is still checked as a password). The
username that comes with it must be the token's user, ``<token>`` (what docker's credential
helpers report for an identity token) or empty (what containerd sends with one). Service
binding: :meth:`Logins.login` for a registry service accepts only tokens issued for that
service; :meth:`Logins.authenticate` (the Admin API) accepts any of the user's tokens, since
the Admin API is not a registry and every one of them proves the same login.

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
from typing import Protocol

from .backends.base import Authenticator, RememberingAuthenticator
from .delegation import DelegatedLoginDenied, Delegation
from .errors import AuthenticationFailed, PermissionDenied
from .model import Identity, LoginFailures, RefreshToken, normalize_name
from .refresh import RefreshTokens, looks_like_refresh_token
from .secret import Secret
from .single_flight import SingleFlight
from .throttle import Attempt, LoginThrottle, client_key, user_key

#: How a delegated login's kind is named in the Admin API's refusal.
_DELEGATION_NAMES = {
    "robot": "robot account",
    "pat": "personal access token",
    "federation": "federated",
}

#: The user name docker's credential helpers report for an identity (refresh) token.
TOKEN_USERNAME = "<token>"  # noqa: S105 - a marker name, not a password


@dataclass(frozen=True, slots=True)
class Login:
    """Who authenticated; ``refresh_token`` is the token they used instead of a password;
    ``delegation`` says how a login by another kind of credential (a robot's or personal
    token's secret, a federated OIDC token) acts (see :mod:`libdockit.delegation`)."""

    identity: Identity
    refresh_token: RefreshToken | None = None
    delegation: Delegation | None = None


class CredentialExchange(Protocol):
    """Logs in with one kind of credential that is not a password."""

    def exchange(
        self,
        username: str,
        password: Secret,
        *,
        service: str | None,
        client_address: str | None = None,
    ) -> Login | None:
        """The login for ``password`` when it is this exchange's kind of credential; None
        when it is not (the next exchange, then the password check, is tried).

        Raises AuthenticationFailed when it is and is refused (unknown, revoked, expired, disabled,
        an owner who may no longer log in): the throttle counts it as a failed login of the
        client; :class:`~libdockit.delegation.CredentialRefused` when the credential is
        known, so the audit log names it. ``service``: the registry service the token is for
        (None: the Admin API asks). ``client_address``: where the request came from (None:
        unknown), for the credential's record of its last use. BackendUnavailable when it
        cannot tell.
        """
        ...


class _CountFailures:
    """What :meth:`Logins._counting_failures` returns: a class rather than a generator,
    which costs several times more to enter and leave on every login."""

    __slots__ = ("_attempt", "_keys", "_logins", "_secret")

    def __init__(
        self,
        logins: Logins,
        keys: Sequence[str | None],
        attempt: Attempt,
        secret: tuple[str, ...],
    ) -> None:
        self._logins = logins
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
            self._logins._failed(self._keys, self._attempt, self._secret)


class Logins:
    """Checks passwords (through ``authenticator``) and refresh tokens (``refresh_tokens``;
    None: none are accepted), with failed logins limited by ``throttle`` (None: no limit).
    ``exchanges`` log in with other kinds of credential, tried in order before a password
    (see :mod:`libdockit.delegation`); what they refuse counts as a failure of the client.
    ``while_waiting`` is entered while a login waits for the same credentials' check in
    another request (see :mod:`libdockit.single_flight`)."""

    def __init__(
        self,
        authenticator: Authenticator,
        *,
        refresh_tokens: RefreshTokens | None = None,
        throttle: LoginThrottle | None = None,
        while_waiting: Callable[[], AbstractContextManager[object]] = nullcontext,
        exchanges: Sequence[CredentialExchange] = (),
    ) -> None:
        self._authenticator = authenticator
        self._exchanges = tuple(exchanges)
        self._remembered = (
            authenticator.remembered_identity
            if isinstance(authenticator, RememberingAuthenticator)
            else None
        )
        self._refresh = refresh_tokens
        self._throttle = throttle
        #: The same user and password checked once at a time (see libdockit.single_flight).
        self._checks: SingleFlight[Identity] = SingleFlight(while_waiting=while_waiting)

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
        if password and self._exchanges:
            counting = self._counting_failures((client,), attempt, ("exchange", password.reveal()))
            for exchange in self._exchanges:
                with counting:
                    exchanged = exchange.exchange(
                        username, password, service=service, client_address=attempt.client_address
                    )
                if exchanged is not None:
                    return exchanged
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

    def authenticate(
        self, username: str, password: Secret, *, attempt: Attempt | None = None
    ) -> Identity:
        """The caller's identity; AuthenticationFailed for bad credentials.

        A refresh token of any service is accepted as the password (see the module docs);
        a delegated login (a robot, a personal access token, a federated token) is refused
        with PermissionDenied: those credentials are for registries, not for managing Dockit.
        BackendUnavailable from the authenticator propagates: "cannot tell" is not "no".
        """
        login = self.login(username, password, service=None, attempt=attempt)
        if login.delegation is not None:
            raise DelegatedLoginDenied(
                f"a {_DELEGATION_NAMES.get(login.delegation.kind, 'delegated')} login cannot "
                "use the Admin API; log in with a password",
                actor=login.delegation.actor,
            )
        return login.identity

    def authenticate_admin(
        self, username: str, password: Secret, *, attempt: Attempt | None = None
    ) -> Identity:
        """:meth:`authenticate`, then PermissionDenied unless the user is an admin."""
        identity = self.authenticate(username, password, attempt=attempt)
        if not identity.is_admin:
            raise PermissionDenied(f"user {identity.username!r} is not an admin")
        return identity

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
