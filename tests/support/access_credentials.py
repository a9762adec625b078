"""Robot accounts and personal access tokens made straight in a running Dockit's database,
the way an operator's tooling on the library would (``libdockit.access_credentials`` and the
store), for end-to-end tests of logging in with them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from libdockit.access_credentials import new_access_credential
from libdockit.backends.sql.backend import SqlBackend
from libdockit.model import LOCAL_SOURCE, AccessCredential, CredentialKind, Grant


@dataclass(frozen=True)
class Made:
    """A stored credential and its secret (the one time it is known)."""

    record: AccessCredential
    secret: str


class CredentialStore:
    """Opens the database at ``url`` (``sqlite:///...`` or ``postgresql://...``) per call, as
    another process would, and closes it again."""

    def __init__(self, url: str) -> None:
        self.url = url

    def make(
        self,
        kind: CredentialKind,
        name: str,
        owner: str,
        *,
        expires_in: timedelta | None = timedelta(days=1),
        scopes: Iterable[str] = (),
        access_token_lifetime: timedelta | None = None,
        owner_source: str = LOCAL_SOURCE,
    ) -> Made:
        now = datetime.now(UTC)
        record, secret = new_access_credential(
            kind,
            name,
            owner,
            now=now,
            expires_at=None if expires_in is None else now + expires_in,
            scopes=scopes,
            access_token_lifetime=access_token_lifetime,
            owner_source=owner_source,
        )
        with SqlBackend(self.url) as store:
            return Made(store.add_access_credential(record), secret.reveal())

    def grant(self, subject: str, resource_type: str, pattern: str, *actions: str) -> None:
        with SqlBackend(self.url) as store:
            store.add_grant(Grant(subject, resource_type, pattern, actions))

    def get(self, credential_id: str) -> AccessCredential:
        with SqlBackend(self.url) as store:
            return store.get_access_credential(credential_id)

    def set_enabled(self, credential_id: str, enabled: bool) -> None:
        with SqlBackend(self.url) as store:
            store.set_access_credential_enabled(credential_id, enabled)

    def delete(self, credential_id: str) -> None:
        with SqlBackend(self.url) as store:
            store.delete_access_credential(credential_id)
