"""Refresh tokens: what ``docker login`` stores as ``identitytoken``, issued and redeemed.

A refresh token lets a client get access tokens later without the password (distribution's
``offline_token=true`` on GET and ``access_type=offline`` / ``grant_type=refresh_token`` on
POST). The rules:

* **The value** is ``dkr_`` followed by 43 URL-safe characters (256 random bits): the prefix
  makes a leaked token easy to recognise (secret scanners, logs) and lets the token endpoint
  tell a refresh token from a password without a lookup. Only its hex SHA-256 is stored
  (:attr:`~libdockit.model.RefreshToken.token_hash`); the value is handed out once, in a
  :class:`~libdockit.secret.Secret`, and never logged. A hash lookup needs no constant-time
  comparison: the database finds the row by the hash of what was sent.
* **The id** is public and not secret (16 hex digits): it names the token when listing and
  revoking it.
* **Bound** to one username and one registry service; ``client_id`` (e.g. ``docker``) is
  kept for the operator's information.
* **Lifetime**: optional (``lifetime=None`` never expires). An expired token is refused and
  deleted.
* **Every use re-resolves the user**: the :class:`IdentityResolver` answers who the user is
  *now* (enabled? admin? which groups?), and the caller reads the grants afresh, so a token
  carries current grants, never those of the day it was issued. A user the resolver no
  longer knows, or who is disabled, gets nothing, and their token is deleted.
* **last_used_at** is written on use, at most once per ``touch_interval`` (default 60 s): a
  CI pull storm through one token does not turn into a write per request. Set
  ``touch_interval=timedelta(0)`` to record every use.

Who can hold one: an identity the resolver vouches for, from the same ``source``; the token
records that source and is only ever redeemed as an identity from it (a local user created
later under a directory user's name does not inherit the directory user's tokens). The
default resolver, :class:`LocalIdentityResolver`, knows local users only. The authenticator
chain (:class:`~libdockit.backends.chain.ChainAuthenticator`) resolves directory users too
(``identity_for`` asks the directory whether the account still exists and which groups it is
in, without a password), and :func:`identity_resolver` picks it up: then ``docker login`` as a
directory user stores a refresh token instead of the password. A directory user's token keeps
working after a password change in the directory (Dockit cannot see one) until it expires or
the account is deleted, disabled (filtered out of the user search) or the token revoked.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from .backends.base import RefreshTokenStore, UserStore
from .clock import Clock, utc_now
from .errors import AuthenticationFailed, NotFound, ValidationError
from .model import Identity, RefreshToken, validate_name
from .secret import Secret

__all__ = [
    "DEFAULT_REFRESH_LIFETIME",
    "DEFAULT_TOUCH_INTERVAL",
    "REFRESH_TOKEN_PREFIX",
    "IdentityResolver",
    "IssuedRefreshToken",
    "LocalIdentityResolver",
    "RefreshTokens",
    "hash_refresh_token",
    "identity_resolver",
    "lifetime_from_days",
    "looks_like_refresh_token",
]

log = logging.getLogger("dockit.refresh")

REFRESH_TOKEN_PREFIX = "dkr_"  # noqa: S105 - a marker, not a password
DEFAULT_REFRESH_LIFETIME = timedelta(days=90)
DEFAULT_TOUCH_INTERVAL = timedelta(seconds=60)
_RANDOM_BYTES = 32  # token_urlsafe(32): 43 characters
_VALUE_RE = re.compile(re.escape(REFRESH_TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")


def looks_like_refresh_token(value: str) -> bool:
    """Whether ``value`` has the shape of a refresh token (it may still be unknown)."""
    return _VALUE_RE.fullmatch(value) is not None


def hash_refresh_token(value: str) -> str:
    """The hex SHA-256 a token is stored and looked up by."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_token_value() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def new_token_id() -> str:
    return secrets.token_hex(8)


@runtime_checkable
class IdentityResolver(Protocol):
    def identity_for(self, username: str, *, source: str = "local") -> Identity | None:
        """Who ``username`` of ``source`` is now, without a password: their current groups
        and admin flag; None when they could not log in (unknown, disabled) or ``source`` is
        not one this resolver knows.

        Raises BackendUnavailable when it cannot tell (never None for "cannot tell").
        """
        ...


class LocalIdentityResolver:
    """Local users of a :class:`~libdockit.backends.base.UserStore`: the account must exist
    and be enabled; groups are its enabled groups."""

    def __init__(self, users: UserStore) -> None:
        self._users = users

    def identity_for(self, username: str, *, source: str = "local") -> Identity | None:
        if source != "local":
            return None
        try:
            name = validate_name(username)
        except ValidationError:
            return None
        record = self._users.login_record(name)
        if record is None or not record.enabled:
            return None
        return Identity(
            username=record.username,
            groups=record.groups,
            is_admin=record.is_admin,
            source="local",
        )


def identity_resolver(authenticator: object, users: UserStore) -> IdentityResolver:
    """``authenticator`` itself when it can resolve identities without a password (an
    authenticator chain that re-checks the directory), else the local users of ``users``."""
    if isinstance(authenticator, IdentityResolver):
        return authenticator
    return LocalIdentityResolver(users)


@dataclass(frozen=True, slots=True)
class IssuedRefreshToken:
    """A new token: its value (shown once) and what was stored."""

    value: Secret
    record: RefreshToken


class RefreshTokens:
    """Issue, find and redeem refresh tokens kept in a RefreshTokenStore.

    ``lifetime`` None: tokens never expire. ``clock``, ``value_source`` and ``id_source`` are
    for tests.
    """

    def __init__(
        self,
        store: RefreshTokenStore,
        resolver: IdentityResolver,
        *,
        lifetime: timedelta | None = DEFAULT_REFRESH_LIFETIME,
        touch_interval: timedelta = DEFAULT_TOUCH_INTERVAL,
        clock: Clock = utc_now,
        value_source: Callable[[], str] = new_token_value,
        id_source: Callable[[], str] = new_token_id,
    ) -> None:
        if lifetime is not None and lifetime <= timedelta(0):
            raise ValueError("lifetime must be positive (None: tokens never expire)")
        self._store = store
        self._resolver = resolver
        self._lifetime = lifetime
        self._touch_interval = touch_interval
        self._clock = clock
        self._value_source = value_source
        self._id_source = id_source

    @property
    def lifetime(self) -> timedelta | None:
        return self._lifetime

    def issue(
        self, identity: Identity, *, service: str, client_id: str | None
    ) -> IssuedRefreshToken | None:
        """A new token for ``identity`` and ``service``; None when this identity cannot
        hold one (the resolver does not vouch for it, or the store has no such user)."""
        current = self._resolver.identity_for(identity.username, source=identity.source)
        if current is None or current.source != identity.source:
            log.info("no refresh token for %s (source %s)", identity.username, identity.source)
            return None
        value = self._value_source()
        if not looks_like_refresh_token(value):
            raise ValueError("value_source must return dkr_ and 43 URL-safe characters")
        now = self._clock()
        record = RefreshToken(
            id=self._id_source(),
            token_hash=hash_refresh_token(value),
            username=current.username,
            service=service,
            client_id=client_id,
            created_at=now,
            expires_at=None if self._lifetime is None else now + self._lifetime,
            source=current.source,
        )
        try:
            self._store.add_refresh_token(record)
        except NotFound:
            return None
        log.info("refresh token %s issued to %s for %s", record.id, record.username, service)
        return IssuedRefreshToken(Secret(value), record)

    def find(self, value: Secret) -> RefreshToken | None:
        """The stored token with this value (expired or not), None if unknown or revoked."""
        text = value.reveal()
        if not looks_like_refresh_token(text):
            return None
        return self._store.find_refresh_token(hash_refresh_token(text))

    def redeem(self, record: RefreshToken, *, service: str | None) -> Identity:
        """The current identity of ``record``'s user, if the token may be used now.

        ``service`` is the registry service the caller wants a token for; None accepts any
        (the Admin API, which is not a registry). Raises AuthenticationFailed otherwise.
        """
        now = self._clock()
        if record.expires_at is not None and now >= record.expires_at:
            self._forget(record, "expired")
            raise AuthenticationFailed("the refresh token has expired; log in again")
        if service is not None and record.service != service:
            raise AuthenticationFailed(
                f"the refresh token was issued for service {record.service!r}, "
                f"not {service!r}; log in to that registry"
            )
        identity = self._resolver.identity_for(record.username, source=record.source)
        if identity is None or identity.source != record.source:
            self._forget(record, "its user is disabled or gone")
            raise AuthenticationFailed("the refresh token's user is disabled or no longer exists")
        self._touch(record, now)
        return identity

    def redeem_value(self, value: Secret, *, service: str | None) -> tuple[Identity, RefreshToken]:
        """:meth:`find` then :meth:`redeem`; an unknown value is AuthenticationFailed."""
        record = self.find(value)
        if record is None:
            raise AuthenticationFailed("the refresh token is unknown or revoked; log in again")
        return self.redeem(record, service=service), record

    def _touch(self, record: RefreshToken, now: datetime) -> None:
        last = record.last_used_at
        if last is not None and now - last < self._touch_interval:
            return
        try:
            self._store.touch_refresh_token(record.id, now)
        except NotFound:  # revoked between the lookup and now
            raise AuthenticationFailed(
                "the refresh token is unknown or revoked; log in again"
            ) from None

    def _forget(self, record: RefreshToken, why: str) -> None:
        log.info("refresh token %s of %s refused and deleted: %s", record.id, record.username, why)
        with contextlib.suppress(NotFound):  # a concurrent request deleted it first
            self._store.revoke_refresh_token(record.id)


def lifetime_from_days(days: int) -> timedelta | None:
    """A lifetime setting in days: 0 means tokens never expire."""
    if days < 0:
        raise ValueError("a refresh token lifetime cannot be negative")
    return timedelta(days=days) if days else None
