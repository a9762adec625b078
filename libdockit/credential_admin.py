"""Managing robot accounts and personal access tokens: what the Admin API, the CLI and
embedding apps call to make, list, rotate, switch off and delete them.

The sibling of :class:`~libdockit.admin.AdminService` (same habits: names checked here,
every change audited with an ``actor`` and the views before and after). A view never holds
a secret nor its hash (:func:`~libdockit.views.robot_view`,
:func:`~libdockit.views.token_view`); a new secret is handed back once, to the caller, as a
:class:`~libdockit.secret.Secret`.

Expiry: a robot needs one (``expires``: a moment, or a time from now); a personal token
without one gets the longest allowed. :class:`CredentialLimits` caps both; ``never`` is
allowed only where the cap is None. A robot's name is a login name shared with local users:
neither may take the other's (409), so ``docker login -u NAME`` and the audit log always
mean one account. A directory's (LDAP) users cannot be checked and are not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .access_credentials import new_access_credential
from .access_secrets import credential_secret_hash, new_credential_secret
from .audit import Actor, Auditor, record_change
from .backends.base import Store
from .clock import Clock, as_utc, rfc3339, utc_now
from .credential_checks import DEFAULT_MAX_CREDENTIAL_TOKEN_LIFETIME
from .errors import Conflict, DockitError, NotFound, ValidationError
from .model import (
    GROUP_PREFIX,
    LOCAL_SOURCE,
    USER_PREFIX,
    AccessCredential,
    CredentialKind,
    Page,
    parse_subject,
    validate_name,
)
from .paging import check_paging
from .secret import Secret
from .views import robot_view, token_view

#: The longest access-token lifetime a credential may ask for, whatever the settings.
MAX_ACCESS_TOKEN_LIFETIME = timedelta(hours=24)
#: Longest public id accepted (ids are 12 characters; more is never one).
MAX_CREDENTIAL_ID_LENGTH = 64

#: When a credential expires: a moment, a time from now, or None (not given).
Expiry = datetime | timedelta | None


@dataclass(frozen=True, slots=True)
class CredentialLimits:
    """Admin settings: the longest a robot and a personal token may live from when they are
    made or rotated. None: no cap, and ``never`` (no expiry) is allowed."""

    robot_max_lifetime: timedelta | None = timedelta(days=365)
    token_max_lifetime: timedelta | None = timedelta(days=90)


class CredentialAdmin:
    def __init__(
        self,
        store: Store,
        *,
        limits: CredentialLimits | None = None,
        directory: str | None = None,
        audit: Auditor | None = None,
        clock: Clock = utc_now,
        max_token_lifetime: int | None = DEFAULT_MAX_CREDENTIAL_TOKEN_LIFETIME,
    ) -> None:
        """``directory`` names a directory (e.g. ``"LDAP"``) whose users and groups may own
        credentials without a local row; ``audit`` records every change (None: nothing).
        ``max_token_lifetime``: the longest access-token lifetime (seconds) a credential may
        ask for, the token path's cap (None: :data:`MAX_ACCESS_TOKEN_LIFETIME`), so a longer
        one is refused here rather than cut short at login."""
        self.store = store
        longest = MAX_ACCESS_TOKEN_LIFETIME
        if max_token_lifetime is not None:
            longest = min(longest, timedelta(seconds=max_token_lifetime))
        self.max_token_lifetime = longest
        self.limits = limits or CredentialLimits()
        self.directory = directory
        self.audit = audit
        self.clock = clock

    # -- robots -------------------------------------------------------------------------
    def create_robot(
        self,
        name: str,
        owner: str,
        *,
        actor: Actor,
        expires: Expiry = None,
        never: bool = False,
        access_token_lifetime: timedelta | None = None,
    ) -> tuple[AccessCredential, Secret]:
        """A new robot and its secret (show it once). ValidationError for a bad name,
        owner, expiry (missing, past, beyond the cap) or lifetime; Conflict when a robot or
        a local user has the name; NotFound for an owner that does not exist."""
        robot_name = validate_name(name)
        owner_subject, owner_source = self._owner(owner)
        now = self.clock()
        expires_at = self._expiry("robot", now, expires, never)
        self._check_lifetime(access_token_lifetime)
        if self._local_user_exists(robot_name):
            raise Conflict(
                f"a local user is named {robot_name!r}: robots and users share login names "
                "(docker login -u NAME), so pick another name",
                detail={"name": robot_name},
            )
        credential, secret = new_access_credential(
            "robot",
            robot_name,
            owner_subject,
            now=now,
            expires_at=expires_at,
            access_token_lifetime=access_token_lifetime,
            owner_source=owner_source,
        )
        stored = self.store.add_access_credential(credential)
        record_change(
            self.audit, actor, "robot.create", f"robot:{stored.name}", after=robot_view(stored)
        )
        return stored, secret

    def get_robot(self, name: str) -> AccessCredential:
        robot_name = validate_name(name)
        found = self.store.list_access_credentials(kind="robot", name=robot_name, limit=1)
        if not found.items:
            raise NotFound(f"robot {robot_name!r} not found")
        return found.items[0]

    def find_robot(self, name: str) -> AccessCredential | None:
        """The robot of this (already checked) name, or None."""
        found = self.store.list_access_credentials(kind="robot", name=name, limit=1)
        return found.items[0] if found.items else None

    def list_robots(
        self, *, owner: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[AccessCredential]:
        """Robots, newest first; of one owner (``user:NAME`` or ``group:NAME``) if given."""
        check_paging(offset, limit)
        wanted = self._owner_subject(owner) if owner is not None else None
        return self.store.list_access_credentials(
            kind="robot", owner=wanted, offset=offset, limit=limit
        )

    def rotate_robot_secret(
        self, name: str, *, actor: Actor, expires: Expiry = None, never: bool = False
    ) -> tuple[AccessCredential, Secret]:
        """A new secret for the robot; the old one stops working at once. The expiry is
        kept unless a new one is given (a robot that has expired needs one)."""
        before = self.get_robot(name)
        now = self.clock()
        if expires is None and not never:
            expires_at = before.expires_at
            if expires_at is not None and expires_at <= as_utc(now):
                raise ValidationError(
                    "expires_at", "the robot has expired: give a new expiry with the new secret"
                )
        else:
            expires_at = self._expiry("robot", now, expires, never)
        secret = new_credential_secret()
        after = self.store.replace_access_credential_secret(
            before.id, credential_secret_hash(secret), expires_at=expires_at
        )
        record_change(
            self.audit,
            actor,
            "robot.rotate",
            f"robot:{after.name}",
            before=robot_view(before),
            after=robot_view(after),
        )
        return after, secret

    def set_robot_enabled(self, name: str, enabled: bool, *, actor: Actor) -> AccessCredential:
        before = self.get_robot(name)
        after = self.store.set_access_credential_enabled(before.id, enabled)
        record_change(
            self.audit,
            actor,
            "robot.update",
            f"robot:{after.name}",
            before=robot_view(before),
            after=robot_view(after),
        )
        return after

    def delete_robot(self, name: str, *, actor: Actor) -> None:
        """Delete the robot and its grants."""
        robot = self.get_robot(name)
        self.store.delete_access_credential(robot.id)
        record_change(
            self.audit, actor, "robot.delete", f"robot:{robot.name}", before=robot_view(robot)
        )

    # -- personal access tokens -----------------------------------------------------------
    def create_token(
        self,
        username: str,
        name: str,
        *,
        actor: Actor,
        scopes: Iterable[str] = (),
        expires: Expiry = None,
        never: bool = False,
        access_token_lifetime: timedelta | None = None,
        owner_source: str = LOCAL_SOURCE,
    ) -> tuple[AccessCredential, Secret]:
        """A new personal access token of ``username`` (who logged in with their password;
        ``owner_source`` says where that user lives) and its secret (show it once)."""
        owner = USER_PREFIX + validate_name(username, field_name="username")
        now = self.clock()
        expires_at = self._expiry("pat", now, expires, never)
        self._check_lifetime(access_token_lifetime)
        credential, secret = new_access_credential(
            "pat",
            name,
            owner,
            now=now,
            expires_at=expires_at,
            scopes=scopes,
            access_token_lifetime=access_token_lifetime,
            owner_source=owner_source,
        )
        stored = self.store.add_access_credential(credential)
        record_change(self.audit, actor, "pat.create", f"pat:{stored.id}", after=token_view(stored))
        return stored, secret

    def list_tokens(
        self, username: str, *, offset: int = 0, limit: int = 100
    ) -> Page[AccessCredential]:
        """A user's personal access tokens, newest first."""
        owner = USER_PREFIX + validate_name(username, field_name="username")
        check_paging(offset, limit)
        return self.store.list_access_credentials(
            kind="pat", owner=owner, offset=offset, limit=limit
        )

    def get_token(self, token_id: str, *, username: str | None = None) -> AccessCredential:
        """The personal access token with this id, of ``username`` if given (another
        user's is NotFound, as if it did not exist)."""
        if not token_id or len(token_id) > MAX_CREDENTIAL_ID_LENGTH or not token_id.isprintable():
            raise ValidationError("token_id", "is not a personal access token id")
        missing = NotFound(f"personal access token {token_id!r} not found")
        try:
            token = self.store.get_access_credential(token_id)
        except NotFound:
            raise missing from None
        owner = None if username is None else USER_PREFIX + normalize_username(username)
        if token.kind != "pat" or owner not in (None, token.owner):
            raise missing
        return token

    def revoke_token(
        self, token_id: str, *, actor: Actor, username: str | None = None
    ) -> AccessCredential:
        """Delete a personal access token (only ``username``'s, if given)."""
        token = self.get_token(token_id, username=username)
        self.store.delete_access_credential(token.id)
        record_change(self.audit, actor, "pat.revoke", f"pat:{token.id}", before=token_view(token))
        return token

    # -- rules ----------------------------------------------------------------------------
    def _expiry(
        self, kind: CredentialKind, now: datetime, expires: Expiry, never: bool
    ) -> datetime | None:
        cap = self.limits.robot_max_lifetime if kind == "robot" else self.limits.token_max_lifetime
        what = "a robot" if kind == "robot" else "a personal access token"
        if never:
            if expires is not None:
                raise ValidationError("never", "give an expiry or never, not both")
            if cap is not None:
                raise ValidationError(
                    "never",
                    f"{what} must expire here: at most {_days(cap)} from now (an admin "
                    "setting); give an expiry instead",
                )
            return None
        if expires is None:
            if kind == "robot" or cap is None:
                limit = f"at most {_days(cap)} from now" if cap is not None else "or never"
                raise ValidationError(
                    "expires_at", f"{what} needs an expiry ({limit}): give expires_at or expires_in"
                )
            return as_utc(now) + cap
        if isinstance(expires, timedelta):
            if expires <= timedelta(0):
                raise ValidationError("expires_in", "must be more than zero")
            expires_at = as_utc(now) + expires
        else:
            expires_at = as_utc(expires)
            if expires_at <= as_utc(now):
                raise ValidationError("expires_at", "must be in the future")
        if cap is not None and expires_at > as_utc(now) + cap:
            field = "expires_in" if isinstance(expires, timedelta) else "expires_at"
            raise ValidationError(
                field,
                f"{what} may live at most {_days(cap)} (an admin setting), so it must expire "
                f"by {rfc3339(as_utc(now) + cap)}",
            )
        return expires_at

    def _check_lifetime(self, lifetime: timedelta | None) -> None:
        if lifetime is not None and not timedelta(seconds=1) <= lifetime <= (
            self.max_token_lifetime
        ):
            seconds = int(self.max_token_lifetime.total_seconds())
            raise ValidationError(
                "access_token_lifetime", f"must be 1 to {seconds} seconds (an admin setting)"
            )

    def _owner_subject(self, owner: str) -> str:
        subject = parse_subject(owner)
        if not subject.startswith((USER_PREFIX, GROUP_PREFIX)):
            raise ValidationError("owner", "must be user:NAME or group:NAME")
        return subject

    def _owner(self, owner: str) -> tuple[str, str]:
        """The owner's subject and who vouches for it: local, or the directory's."""
        subject = self._owner_subject(owner)
        name = subject.partition(":")[2]
        try:
            if subject.startswith(USER_PREFIX):
                self.store.get_user(name)
            else:
                self.store.get_group(name)
        except NotFound:
            if self.directory is None:
                raise NotFound(f"owner {subject} not found: create it first") from None
            return subject, self.directory.lower()
        return subject, LOCAL_SOURCE

    def _local_user_exists(self, name: str) -> bool:
        try:
            self.store.get_user(name)
        except NotFound:
            return False
        return True


def normalize_username(username: str) -> str:
    try:
        return validate_name(username, field_name="username")
    except DockitError:
        raise NotFound("no such user") from None


def _days(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return f"{days:g} day{'s' if days != 1 else ''}"
