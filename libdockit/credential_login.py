"""Logging in with a robot account's or a personal access token's secret (``dkt_...``).

:class:`AccessCredentialExchange` is the :class:`~libdockit.delegation.CredentialExchange`
for the credentials of :mod:`libdockit.access_credentials`. A password with the exact shape
of such a secret is hashed (SHA-256) and looked up once; there is no slow hash, so the check
costs what the warm password path costs. The rules:

* **Unknown** (never made, rotated away, deleted): refused, like a wrong password; a user
  whose password has the shape of a secret cannot log in with it (the shape is ours).
* **Disabled or expired**: refused (:func:`~libdockit.access_credentials.credential_refusal`).
* **The username** must be the robot's name (a robot) or the owner's user name (a personal
  token), normalised like every name; another one is refused, so a leaked secret is not a
  login under any name.
* **A robot** logs in as its own identity: exactly the grants of ``robot:NAME`` and the
  public (``anonymous``) ones, never those of ``authenticated`` nor of a user of the same
  name. Its token's ``sub`` is ``robot:NAME``, so the registry's logs tell it from a user.
  Its owner must still be there: a user owner who can no longer log in (deleted, disabled,
  gone from the directory; resolved like a refresh token's user) takes the robot with
  them; a local group owner must exist and be enabled (a deleted group deletes its robots
  in the store anyway); a directory group owner is not checked (a directory cannot be asked
  whether a group exists without a member), so such a robot works until it is disabled,
  revoked or expires.
* **A personal token** logs in as its owner, resolved as they are now at every request (a
  deleted or disabled owner is refused; a directory owner through the resolver; "cannot
  tell" is BackendUnavailable, a 503), with the owner's current grants narrowed by the
  token's scopes.
* **The access token's lifetime** is the credential's own when it has one, but at most
  ``max_token_lifetime`` seconds; otherwise the service's.
* **Last use** (time and client address) is written at most once per ``touch_interval``
  per credential, judged by the record just read, so a CI pull storm does not write on
  every request.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .access_credentials import DISABLED, credential_refusal
from .access_secrets import credential_secret_hash, looks_like_credential_secret
from .backends.base import UserStore
from .backends.credential_store import AccessCredentialStore
from .clock import Clock, utc_now
from .delegation import CredentialRefused, Delegation
from .errors import NotFound
from .login import Login
from .model import (
    ANONYMOUS,
    GROUP_PREFIX,
    LOCAL_SOURCE,
    ROBOT_PREFIX,
    USER_PREFIX,
    AccessCredential,
    Identity,
    normalize_name,
)
from .refresh import IdentityResolver
from .secret import Secret

#: The ``source`` of a robot's identity: it is no user of any user source.
ROBOT_SOURCE = "robot"
#: The longest access token a credential's own lifetime may ask for, by default (seconds).
DEFAULT_MAX_CREDENTIAL_TOKEN_LIFETIME = 3600
DEFAULT_TOUCH_INTERVAL = timedelta(seconds=60)

_UNKNOWN = "unknown or revoked access token"
#: What the audit log records as the credential of a secret no credential has.
UNKNOWN_CREDENTIAL = {"kind": "access_credential", "id": "unknown"}
_KIND_NAMES = {"robot": "robot account", "pat": "personal access token"}


def credential_delegation(
    record: AccessCredential, *, token_lifetime: int | None = None
) -> Delegation:
    """How a login with ``record``'s secret acts (see the module docs): what the exchange
    logs in with, and what ``explain`` explains (:mod:`libdockit.credential_explain`)."""
    if record.kind == "robot":
        subject = ROBOT_PREFIX + record.name
        return Delegation(
            kind="robot",
            credential=subject,
            actor=subject,
            subjects=(subject, ANONYMOUS),
            token_subject=subject,
            token_lifetime=token_lifetime,
        )
    return Delegation(
        kind="pat",
        credential=f"pat:{record.id}",
        actor=record.owner,
        scopes=record.scopes,
        token_lifetime=token_lifetime,
    )


class AccessCredentialExchange:
    """Logs in robots and personal access tokens kept in ``store`` (see the module docs).

    ``users`` says who a user owner is now (see :func:`libdockit.refresh.identity_resolver`);
    ``groups`` whether a local group owner exists. ``max_token_lifetime``: the cap on a
    credential's own access-token lifetime (None: no cap).
    """

    def __init__(
        self,
        store: AccessCredentialStore,
        users: IdentityResolver,
        groups: UserStore,
        *,
        max_token_lifetime: int | None = DEFAULT_MAX_CREDENTIAL_TOKEN_LIFETIME,
        touch_interval: timedelta = DEFAULT_TOUCH_INTERVAL,
        clock: Clock = utc_now,
    ) -> None:
        if max_token_lifetime is not None and max_token_lifetime < 1:
            raise ValueError("max_token_lifetime must be at least one second (None: no cap)")
        self._store = store
        self._users = users
        self._groups = groups
        self._max_lifetime = max_token_lifetime
        self._touch_interval = touch_interval
        self._clock = clock

    def exchange(
        self,
        username: str,
        password: Secret,
        *,
        service: str | None,
        client_address: str | None = None,
    ) -> Login | None:
        if not looks_like_credential_secret(password):
            return None
        record = self._store.find_access_credential(credential_secret_hash(password))
        if record is None:
            raise CredentialRefused(_UNKNOWN, actor=None, credential=UNKNOWN_CREDENTIAL)
        now = self._clock()
        refusal = credential_refusal(record, now)
        if refusal is not None:
            state = "disabled" if refusal == DISABLED else "expired"
            raise self._refused(record, f"the {_KIND_NAMES[record.kind]} is {state}")
        if record.kind == "robot":
            login = self._robot(record, username)
        else:
            login = self._personal(record, username)
        if self._must_touch(record, now):
            try:
                self._store.touch_access_credential(record.id, at=now, address=client_address)
            except NotFound:  # deleted between the lookup and now
                raise CredentialRefused(
                    _UNKNOWN, actor=None, credential=UNKNOWN_CREDENTIAL
                ) from None
        return login

    def _robot(self, record: AccessCredential, username: str) -> Login:
        if normalize_name(username) != record.name:
            raise self._refused(record, "the user name is not the robot account's name")
        self._check_owner(record)
        delegation = credential_delegation(record, token_lifetime=self._lifetime(record))
        return Login(Identity(username=record.name, source=ROBOT_SOURCE), delegation=delegation)

    def _personal(self, record: AccessCredential, username: str) -> Login:
        owner = record.owner.removeprefix(USER_PREFIX)
        if normalize_name(username) != owner:
            raise self._refused(record, "the user name is not the access token's owner")
        identity = self._users.identity_for(owner, source=record.owner_source)
        if identity is None or identity.source != record.owner_source:
            raise self._refused(record, "the access token's owner is disabled or no longer exists")
        delegation = credential_delegation(record, token_lifetime=self._lifetime(record))
        return Login(identity, delegation=delegation)

    def _check_owner(self, record: AccessCredential) -> None:
        """A robot's owner must still be there (see the module docs)."""
        if record.owner.startswith(USER_PREFIX):
            name = record.owner.removeprefix(USER_PREFIX)
            owner = self._users.identity_for(name, source=record.owner_source)
            if owner is None or owner.source != record.owner_source:
                raise self._refused(
                    record, "the robot account's owner is disabled or no longer exists"
                )
        elif record.owner.startswith(GROUP_PREFIX) and record.owner_source == LOCAL_SOURCE:
            try:
                enabled = self._groups.get_group(record.owner.removeprefix(GROUP_PREFIX)).enabled
            except NotFound:
                enabled = False
            if not enabled:
                raise self._refused(
                    record, "the robot account's owning group is disabled or no longer exists"
                )

    def _lifetime(self, record: AccessCredential) -> int | None:
        if record.access_token_lifetime is None:
            return None
        seconds = int(record.access_token_lifetime.total_seconds())
        return seconds if self._max_lifetime is None else min(seconds, self._max_lifetime)

    def _must_touch(self, record: AccessCredential, now: datetime) -> bool:
        """Whether this use is recorded: the first, then one per interval (a clock that went
        back records too); the address of the uses between is not kept."""
        last = record.last_used_at
        return last is None or not timedelta(0) <= now - last < self._touch_interval

    @staticmethod
    def _refused(record: AccessCredential, message: str) -> CredentialRefused:
        if record.kind == "robot":
            actor, credential = ROBOT_PREFIX + record.name, ROBOT_PREFIX + record.name
        else:
            actor, credential = record.owner, f"pat:{record.id}"
        return CredentialRefused(
            message, actor=actor, credential={"kind": record.kind, "id": credential}
        )
