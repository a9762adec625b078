"""The protocols a backend implements. Protocols only: no behaviour lives here.

Contracts shared by every implementation (checked by :mod:`libdockit.testing.conformance`):

* Names passed in are already normalised and validated (see :mod:`libdockit.model`).
* A missing user, group, grant or key raises :class:`~libdockit.errors.NotFound`; a
  duplicate raises :class:`~libdockit.errors.Conflict`.
* A store that cannot answer raises :class:`~libdockit.errors.BackendUnavailable`, never
  returns "no": the caller turns that into HTTP 503, not 401.
* Listings are ordered (users and groups by name, grants by id) and paged by offset/limit.
* Audit events and refresh tokens are listed newest first.
* Times go in aware (a naive value is taken to be UTC) and come back aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Protocol, Unpack, runtime_checkable

from ..model import (
    AuditEvent,
    AuditFilter,
    BackoffRule,
    Grant,
    Group,
    Identity,
    KeyState,
    LoginFailures,
    LoginRecord,
    LoginReservation,
    Page,
    RefreshToken,
    StoredKey,
    User,
)
from ..secret import Secret
from .credential_store import AccessCredentialStore
from .trust_store import TrustPolicyStore

KEY_STATES: tuple[KeyState, ...] = ("pending", "active", "retired")


@runtime_checkable
class Authenticator(Protocol):
    def authenticate(self, username: str, password: Secret) -> Identity | None:
        """The identity for valid credentials, None for bad ones.

        Raises BackendUnavailable when it cannot tell.
        """
        ...


@runtime_checkable
class RememberingAuthenticator(Protocol):
    """An authenticator that can tell a password it recently accepted without its slow
    check (argon2id, a directory bind): what lets the throttle skip its write then."""

    def remembered_identity(self, username: str, password: Secret) -> Identity | None:
        """What :meth:`Authenticator.authenticate` would return when these credentials are
        known right without the slow check; None when only ``authenticate`` can tell."""
        ...


@runtime_checkable
class GroupSource(Protocol):
    def groups_for(self, username: str) -> tuple[str, ...]:
        """Names of the enabled groups ``username`` belongs to (empty if unknown)."""
        ...


@runtime_checkable
class GrantSource(Protocol):
    """What the token path reads: the grants of a caller's subjects."""

    def grants_for_subjects(self, subjects: Sequence[str]) -> list[Grant]:
        """Every grant whose subject is one of ``subjects``."""
        ...


@runtime_checkable
class GrantStore(GrantSource, Protocol):
    def add_grant(self, grant: Grant) -> Grant:
        """Store a grant; returns it with ``id`` and ``created_at`` set.

        A grant with the same subject, resource type and pattern is a Conflict.
        """
        ...

    def get_grant(self, grant_id: int) -> Grant: ...

    def delete_grant(self, grant_id: int) -> None: ...

    def list_grants(
        self, *, subject: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[Grant]: ...


@runtime_checkable
class UserStore(Protocol):
    """Local users and groups, and the admin writes on them."""

    def create_user(
        self, username: str, password_hash: str, *, is_admin: bool = False, enabled: bool = True
    ) -> User: ...

    def get_user(self, username: str) -> User: ...

    def get_credentials(self, username: str) -> tuple[User, str] | None:
        """The user and their password hash, or None if there is no such user."""
        ...

    def login_record(self, username: str) -> LoginRecord | None:
        """The user's hash, state and enabled groups for a login; None if there is no such
        user. The token path calls this on every password login, so a store should answer it
        with the least work it can (the SQL store: one statement while nothing changed)."""
        ...

    def list_users(self, *, offset: int = 0, limit: int = 100) -> Page[User]: ...

    def set_password_hash(self, username: str, password_hash: str) -> None: ...

    def set_user_enabled(self, username: str, enabled: bool) -> User: ...

    def set_user_admin(self, username: str, is_admin: bool) -> User: ...

    def delete_user(self, username: str) -> None:
        """Delete the user, their memberships and the grants whose subject is ``user:NAME``."""
        ...

    def create_group(self, name: str, *, enabled: bool = True) -> Group: ...

    def get_group(self, name: str) -> Group: ...

    def list_groups(self, *, offset: int = 0, limit: int = 100) -> Page[Group]: ...

    def set_group_enabled(self, name: str, enabled: bool) -> Group: ...

    def delete_group(self, name: str) -> None:
        """Delete the group, its memberships and the grants whose subject is ``group:NAME``."""
        ...

    def add_member(self, group: str, username: str) -> Group:
        """Add a user to a group; adding an existing member is a no-op."""
        ...

    def remove_member(self, group: str, username: str) -> Group:
        """Remove a user from a group; NotFound if they were not a member."""
        ...

    def groups_for(self, username: str) -> tuple[str, ...]:
        """Names of the *enabled* groups the user belongs to, sorted."""
        ...

    def disabled_groups(self, names: Sequence[str]) -> frozenset[str]:
        """Which of ``names`` are local groups that are disabled (unknown names are not).

        For identities from elsewhere (a directory), whose groups count unless a local group
        of the same name is switched off; read on every such login.
        """
        ...

    def credential_version(self, username: str) -> int | None:
        """A number that changes whenever the user's credentials may have changed; None if
        there is no such user.

        For caches of verified credentials shared with other processes: compare for equality
        only. It goes up by one on every ``set_password_hash``, ``set_user_enabled`` and
        ``set_user_admin`` (``is_admin`` is part of the identity a login yields), whether or
        not the value changed; a deleted user has none; and a user created again under the
        same name never repeats a number the earlier one had. Memberships, groups and grants
        leave it alone: they are read afresh for every token.
        """
        ...


@runtime_checkable
class KeyStore(Protocol):
    def list_keys(self) -> list[StoredKey]:
        """Every stored key, oldest first."""
        ...

    def add_key(self, key: StoredKey) -> None:
        """Store a new key; a second ``active`` key is a Conflict."""
        ...

    def set_key_state(self, kid: str, state: KeyState, at: datetime) -> StoredKey:
        """Move a key to ``state``. Activating a key retires the active one atomically."""
        ...


@runtime_checkable
class KeyMaterialStore(KeyStore, Protocol):
    """A KeyStore that can also re-wrap a stored key (encrypt it at rest after the fact)."""

    def replace_private_key_pem(self, kid: str, private_key_pem: bytes) -> StoredKey:
        """Replace the stored private-key PEM of ``kid`` with another encoding of the *same*
        key; state, times and chain are untouched. NotFound if there is no such key."""
        ...


@runtime_checkable
class AuditStore(Protocol):
    """The audit log: admin changes and token decisions, append-only but for pruning."""

    def record_event(self, event: AuditEvent) -> AuditEvent:
        """Append ``event``; return it with ``id`` set (ids only ever grow) and ``at`` set to
        now if it was None (a given ``at`` comes back as the same instant in UTC).

        One cheap write: this is called on the token path. ``before``/``after``/``detail``
        that JSON cannot represent are a ValidationError.
        """
        ...

    def record_events(self, events: Sequence[AuditEvent]) -> int:
        """Append every event of ``events`` in order, in one write; return how many.

        All or nothing: if any event is a ValidationError (see :meth:`record_event`), none
        is written. An event's ``at`` of None means now. For batched writers
        (:mod:`libdockit.audit_writer`), which keep the token path free of audit writes.
        """
        ...

    def query_events(
        self, *, offset: int = 0, limit: int = 100, **where: Unpack[AuditFilter]
    ) -> Page[AuditEvent]:
        """Events matching every filter of ``where`` (:class:`~libdockit.model.AuditFilter`;
        an unknown one is a TypeError), newest first (by ``at``, then ``id``).

        ``action`` is an exact match, or a prefix match when it ends in ``.*`` ("user.*" is
        every action starting with "user."). ``since`` is inclusive, ``until`` exclusive.
        ``total`` counts every matching event.
        """
        ...

    def prune_events(
        self,
        *,
        before: datetime | None = None,
        keep_last: int | None = None,
        kind: str | None = None,
    ) -> int:
        """Delete the events older than ``before`` (strictly) and those beyond the newest
        ``keep_last``; an event either rule selects goes. Return how many were deleted.
        With ``kind``, only events of that kind are counted and deleted.

        Neither given deletes nothing; a negative ``keep_last`` is a ValidationError.
        """
        ...


@runtime_checkable
class RefreshTokenStore(Protocol):
    """OAuth2 refresh tokens, stored by the SHA-256 of their value, never the value."""

    def add_refresh_token(self, token: RefreshToken) -> None:
        """Store a token; Conflict if its id or hash is taken, NotFound if its ``source`` is
        ``local`` and there is no such local user (other sources vouch for their users)."""
        ...

    def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """The token with this hash, expired or not (the caller judges); None if unknown."""
        ...

    def touch_refresh_token(self, token_id: str, at: datetime) -> None:
        """Set ``last_used_at``; NotFound if there is no such token."""
        ...

    def list_refresh_tokens(
        self, *, username: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[RefreshToken]:
        """Tokens (of one user, if given), newest first: by ``created_at``, then ``id``
        in code point order, both descending. An unknown user has none."""
        ...

    def revoke_refresh_token(self, token_id: str) -> RefreshToken:
        """Delete a token and return it; NotFound if there is no such token."""
        ...

    def revoke_user_refresh_tokens(self, username: str, *, source: str | None = None) -> int:
        """Delete every token of ``username`` (only those of ``source``, if given); return
        how many (0 for an unknown user).

        Deleting a local user deletes their ``local`` tokens too; a directory user of the same
        name keeps theirs.
        """
        ...


@runtime_checkable
class LoginFailureStore(Protocol):
    """Failed-login counters shared by every process that uses the store."""

    def login_failures(self, keys: Sequence[str]) -> list[LoginFailures]:
        """The counters of those ``keys`` that have one, in no particular order.

        A counter with no failures and no block (``failures == 0``, ``blocked_until``
        None) may be left out unless its key is a user's (``user:...``): a lookup's counters
        serve blocks, and a user's own is cleared by that user's successful login."""
        ...

    def record_login_failure(
        self, key: str, *, at: datetime, window: timedelta, backoff: BackoffRule
    ) -> LoginFailures:
        """Count one failure under ``key`` atomically and return the counter after it.

        A counter whose window is over (``window_start + window <= at``) and that is not
        blocked at ``at`` starts again from this failure. ``blocked_until`` becomes the later
        of its old value and ``at + backoff(failures)``; never earlier. Concurrent calls
        (threads or processes) each count: n calls add n.
        """
        ...

    def reserve_login_attempt(
        self,
        keys: Sequence[str],
        *,
        at: datetime,
        window: timedelta,
        backoff: BackoffRule,
        fingerprint: str | None = None,
        repeat_within: timedelta = timedelta(0),
    ) -> LoginReservation:
        """Count an attempt under every key *before* its secret is checked, as one atomic
        step for all processes, so concurrent attempts cannot all pass one check.

        If any key is blocked at ``at``, nothing changes (``checking`` set when a blocking
        key has attempts still being checked). Otherwise each key counts one failure as
        :meth:`record_login_failure` does, and one attempt ``checking``, except a key
        whose last wrong secret (:meth:`confirm_login_failure`) was ``fingerprint`` less
        than ``repeat_within`` before ``at``: that key is left as it is (``repeated``).
        """
        ...

    def confirm_login_failure(self, reservation: LoginReservation, *, at: datetime) -> None:
        """The secret was wrong: the counts stand (no longer ``checking``), and each counted
        key remembers
        ``reservation.fingerprint`` (when set) as its last wrong secret, seen at ``at``."""
        ...

    def cancel_login_attempt(
        self, reservation: LoginReservation, *, clear: str | None = None
    ) -> None:
        """The secret was right, or could not be checked: take back each count of the
        reservation (one failure and one ``checking`` fewer, and ``blocked_until`` as it
        was unless another
        failure has moved it since), then delete the counter of ``clear`` (if given)."""
        ...

    def clear_login_failures(self, key: str) -> None:
        """Forget the counter of ``key`` (a successful login); no-op if there is none."""
        ...

    def prune_login_failures(self, before: datetime) -> int:
        """Delete counters whose window started before ``before`` and that are not blocked
        at ``before``; return how many went."""
        ...


@runtime_checkable
class HealthCheck(Protocol):
    def ping(self) -> None:
        """Return if the backend answers; raise BackendUnavailable otherwise."""
        ...


@runtime_checkable
class ReleasesConnection(Protocol):
    """A store that holds one connection for a whole request can give it back while the
    request waits on something else (a directory, another login's check)."""

    def connection_released(self) -> AbstractContextManager[object]: ...


@runtime_checkable
class Store(
    UserStore,
    GroupSource,
    GrantStore,
    KeyMaterialStore,
    RefreshTokenStore,
    AccessCredentialStore,
    TrustPolicyStore,
    LoginFailureStore,
    AuditStore,
    HealthCheck,
    Protocol,
):
    """Everything Dockit keeps: what :func:`libdockit.assembly.assemble` builds on (the
    memory and SQL backends are each one)."""
