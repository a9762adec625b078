"""Logging in with a robot account's or a personal access token's secret (``dkt_...``).

:class:`AccessCredentialExchange` is the :class:`~libdockit.login.CredentialExchange`
for the credentials of :mod:`libdockit.access_credentials`. A password with the exact shape
of such a secret is hashed (SHA-256) and looked up once; there is no slow hash, so the check
costs what the warm password path costs. The rules:

* **Unknown** (never made, rotated away, deleted): refused, like a wrong password; a user
  whose password has the shape of a secret cannot log in with it (the shape is ours).
* **Disabled or expired**, or **a robot whose owner is gone**: refused, by the rules
  every login that acts as a stored credential shares (:mod:`libdockit.credential_checks`).
* **The username** must be the robot's name (a robot) or the owner's user name (a personal
  token), normalised like every name; another one is refused, so a leaked secret is not a
  login under any name.
* **A robot** logs in as its own identity: exactly the grants of ``robot:NAME`` and the
  public (``anonymous``) ones, never those of ``authenticated`` nor of a user of the same
  name. Its token's ``sub`` is ``robot:NAME``, so the registry's logs tell it from a user.
* **A personal token** logs in as its owner, resolved as they are now at every request (a
  deleted or disabled owner is refused; a directory owner through the resolver; "cannot
  tell" is BackendUnavailable, a 503), with the owner's current grants narrowed by the
  token's scopes.
* **The access token's lifetime** is the credential's own when it has one, but at most
  ``max_token_lifetime`` seconds; otherwise the service's (see
  :meth:`~libdockit.credential_checks.CredentialChecks.token_lifetime`).
* **Last use** (time and client address) is written at most once per ``touch_interval``
  per credential, judged by the record just read, so a CI pull storm does not write on
  every request.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .access_secrets import credential_secret_hash, looks_like_credential_secret
from .backends.base import UserStore
from .backends.credential_store import AccessCredentialStore
from .clock import Clock, utc_now
from .credential_checks import DEFAULT_MAX_CREDENTIAL_TOKEN_LIFETIME, CredentialChecks
from .delegation import CredentialRefused, Delegation
from .errors import NotFound
from .login import Login
from .model import (
    ANONYMOUS,
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
DEFAULT_TOUCH_INTERVAL = timedelta(seconds=60)

_UNKNOWN = "unknown or revoked access token"
#: What the audit log records as the credential of a secret no credential has.
UNKNOWN_CREDENTIAL = {"kind": "access_credential", "id": "unknown"}

__all__ = [
    "DEFAULT_MAX_CREDENTIAL_TOKEN_LIFETIME",
    "DEFAULT_TOUCH_INTERVAL",
    "ROBOT_SOURCE",
    "UNKNOWN_CREDENTIAL",
    "AccessCredentialExchange",
    "credential_delegation",
]


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
        self._store = store
        self._checks = CredentialChecks(users, groups, max_token_lifetime=max_token_lifetime)
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
        refusal = self._checks.state_refusal(record, now)
        if refusal is not None:
            raise self._refused(record, refusal)
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
        refusal = self._checks.robot_owner_refusal(record)
        if refusal is not None:
            raise self._refused(record, refusal)
        lifetime = self._checks.token_lifetime(record)
        delegation = credential_delegation(record, token_lifetime=lifetime)
        return Login(Identity(username=record.name, source=ROBOT_SOURCE), delegation=delegation)

    def _personal(self, record: AccessCredential, username: str) -> Login:
        owner = record.owner.removeprefix(USER_PREFIX)
        if normalize_name(username) != owner:
            raise self._refused(record, "the user name is not the access token's owner")
        identity = self._checks.users.identity_for(owner, source=record.owner_source)
        if identity is None or identity.source != record.owner_source:
            raise self._refused(record, "the access token's owner is disabled or no longer exists")
        lifetime = self._checks.token_lifetime(record)
        delegation = credential_delegation(record, token_lifetime=lifetime)
        return Login(identity, delegation=delegation)

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
