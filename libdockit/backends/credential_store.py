"""The contract of robot accounts' and personal access tokens' secrets, one of the
protocols :class:`~libdockit.backends.base.Store` combines (re-exported there; the shared
contracts in that module's docstring hold here too)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from ..model import AccessCredential, CredentialKind, Page


@runtime_checkable
class AccessCredentialStore(Protocol):
    """Robot accounts' and personal access tokens' secrets, stored by the SHA-256 of their
    value, never the value (:class:`~libdockit.model.AccessCredential`)."""

    def add_access_credential(self, credential: AccessCredential) -> AccessCredential:
        """Store a credential and return it (its access-token lifetime cut to whole
        seconds). Conflict if its id or hash is taken, or if it
        is a robot whose name another robot has; NotFound if its ``owner_source`` is
        ``local`` and its owner (``user:NAME`` or ``group:NAME``) does not exist."""
        ...

    def find_access_credential(self, secret_hash: str) -> AccessCredential | None:
        """The credential with this hash, expired or disabled or not (the caller judges);
        None if unknown. On every robot or token login: one indexed read."""
        ...

    def get_access_credential(self, credential_id: str) -> AccessCredential:
        """The credential with this id; NotFound if there is none."""
        ...

    def list_access_credentials(
        self,
        *,
        owner: str | None = None,
        kind: CredentialKind | None = None,
        name: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[AccessCredential]:
        """Credentials (of one owner, of one kind, of one name, if given), newest first: by
        ``created_at``, then ``id`` in code point order, both descending. A robot is found
        by its name this way (``kind="robot", name=NAME``: at most one)."""
        ...

    def access_credentials_expiring(self, before: datetime) -> list[AccessCredential]:
        """The enabled credentials with an expiry before ``before`` (strictly), expired ones
        included, soonest first (then by ``id``): what expiry reminders count."""
        ...

    def set_access_credential_enabled(self, credential_id: str, enabled: bool) -> AccessCredential:
        """Enable or disable a credential; NotFound if there is none."""
        ...

    def replace_access_credential_secret(
        self, credential_id: str, secret_hash: str, *, expires_at: datetime | None
    ) -> AccessCredential:
        """Rotate: the old secret stops working at once, the new one and ``expires_at``
        take its place. NotFound if there is no such credential, Conflict if the hash is
        taken (then nothing changes)."""
        ...

    def touch_access_credential(
        self, credential_id: str, *, at: datetime, address: str | None
    ) -> None:
        """Set ``last_used_at`` and ``last_used_from``; NotFound if there is none."""
        ...

    def delete_access_credential(self, credential_id: str) -> AccessCredential:
        """Delete a credential and return it; NotFound if there is none. Deleting a robot
        deletes its grants (subject ``robot:NAME``) in the same transaction, so a robot made
        again under that name starts with none.

        Deleting a local user or group deletes the ``local`` credentials it owns too (and the
        grants of the robots among them)."""
        ...
