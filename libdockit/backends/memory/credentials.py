"""Robot and personal-access-token secrets in memory: the AccessCredentialStore of
:class:`~libdockit.backends.memory.MemoryBackend`.

Kept by id with an index by secret hash, so a login's lookup is one dict read. Whether an
owner exists, and how a deleted robot's grants go, are the backend's to say (the callables
it passes in), and the backend drops a deleted owner's credentials (:meth:`_drop_credentials_of`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from ...clock import as_utc
from ...errors import Conflict, NotFound
from ...model import LOCAL_SOURCE, ROBOT_PREFIX, AccessCredential, CredentialKind, Page


def _stored(credential: AccessCredential) -> AccessCredential:
    """Times as aware UTC and the lifetime in whole seconds, as every store hands them back."""

    def utc(at: datetime | None) -> datetime | None:
        return None if at is None else as_utc(at)

    return replace(
        credential,
        created_at=as_utc(credential.created_at),
        expires_at=utc(credential.expires_at),
        last_used_at=utc(credential.last_used_at),
        scopes=tuple(credential.scopes),
        access_token_lifetime=whole_seconds(credential.access_token_lifetime),
    )


def whole_seconds(lifetime: timedelta | None) -> timedelta | None:
    second = timedelta(seconds=1)
    return None if lifetime is None else lifetime // second * second


class MemoryAccessCredentials:
    """Implements AccessCredentialStore. ``owner_exists`` says whether a local owner
    (``user:NAME`` or ``group:NAME``) exists; ``drop_grants_of`` deletes every grant to a
    subject (a deleted robot's). Both are called under ``lock``."""

    def __init__(
        self,
        lock: threading.RLock,
        *,
        owner_exists: Callable[[str], bool],
        drop_grants_of: Callable[[str], None],
    ) -> None:
        self._credentials_lock = lock
        self._credentials: dict[str, AccessCredential] = {}  # by id
        self._credential_ids: dict[str, str] = {}  # secret hash -> id
        self._owner_exists = owner_exists
        self._drop_subject_grants = drop_grants_of

    def _get(self, credential_id: str) -> AccessCredential:
        credential = self._credentials.get(credential_id)
        if credential is None:
            raise NotFound(f"access credential {credential_id!r} not found")
        return credential

    def add_access_credential(self, credential: AccessCredential) -> AccessCredential:
        with self._credentials_lock:
            if credential.owner_source == LOCAL_SOURCE and not self._owner_exists(credential.owner):
                raise NotFound(f"owner {credential.owner!r} not found")
            if credential.id in self._credentials:
                raise Conflict("an access credential with this id exists already")
            if credential.secret_hash in self._credential_ids:
                raise Conflict("an access credential with this secret exists already")
            if credential.kind == "robot" and any(
                c.kind == "robot" and c.name == credential.name for c in self._credentials.values()
            ):
                raise Conflict(f"robot {credential.name!r} exists already")
            stored = _stored(credential)
            self._credentials[stored.id] = stored
            self._credential_ids[stored.secret_hash] = stored.id
            return stored

    def find_access_credential(self, secret_hash: str) -> AccessCredential | None:
        with self._credentials_lock:
            credential_id = self._credential_ids.get(secret_hash)
            return None if credential_id is None else self._credentials[credential_id]

    def get_access_credential(self, credential_id: str) -> AccessCredential:
        with self._credentials_lock:
            return self._get(credential_id)

    def list_access_credentials(
        self,
        *,
        owner: str | None = None,
        kind: CredentialKind | None = None,
        name: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[AccessCredential]:
        with self._credentials_lock:
            matching = sorted(
                (
                    c
                    for c in self._credentials.values()
                    if owner in (None, c.owner)
                    and kind in (None, c.kind)
                    and name in (None, c.name)
                ),
                key=lambda c: (c.created_at, c.id),
                reverse=True,
            )
        start = max(offset, 0)
        return Page(matching[start : start + max(limit, 0)], len(matching))

    def access_credentials_expiring(self, before: datetime) -> list[AccessCredential]:
        limit = as_utc(before)
        with self._credentials_lock:
            expiring = [
                c
                for c in self._credentials.values()
                if c.enabled and c.expires_at is not None and c.expires_at < limit
            ]
        return sorted(expiring, key=lambda c: (c.expires_at, c.id))

    def set_access_credential_enabled(self, credential_id: str, enabled: bool) -> AccessCredential:
        with self._credentials_lock:
            changed = replace(self._get(credential_id), enabled=enabled)
            self._credentials[credential_id] = changed
            return changed

    def replace_access_credential_secret(
        self, credential_id: str, secret_hash: str, *, expires_at: datetime | None
    ) -> AccessCredential:
        with self._credentials_lock:
            old = self._get(credential_id)
            if self._credential_ids.get(secret_hash, credential_id) != credential_id:
                raise Conflict("an access credential with this secret exists already")
            changed = _stored(replace(old, secret_hash=secret_hash, expires_at=expires_at))
            del self._credential_ids[old.secret_hash]
            self._credential_ids[secret_hash] = credential_id
            self._credentials[credential_id] = changed
            return changed

    def touch_access_credential(
        self, credential_id: str, *, at: datetime, address: str | None
    ) -> None:
        with self._credentials_lock:
            self._credentials[credential_id] = replace(
                self._get(credential_id), last_used_at=as_utc(at), last_used_from=address
            )

    def delete_access_credential(self, credential_id: str) -> AccessCredential:
        with self._credentials_lock:
            credential = self._get(credential_id)
            del self._credentials[credential_id]
            del self._credential_ids[credential.secret_hash]
            if credential.kind == "robot":
                self._drop_subject_grants(ROBOT_PREFIX + credential.name)
            return credential

    def _drop_credentials_of(self, owner: str) -> None:
        """Delete the local credentials ``owner`` (a deleted user or group) had."""
        with self._credentials_lock:
            for credential in list(self._credentials.values()):
                if credential.owner == owner and credential.owner_source == LOCAL_SOURCE:
                    self.delete_access_credential(credential.id)
