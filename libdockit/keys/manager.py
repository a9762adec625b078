"""Signing-key life cycle: create (pending), activate, retire.

A new key starts *pending*: it is published in the bundle and the JWKS but does not sign,
so registries can restart with its certificate before it is used. Activating it makes it
the one key that signs and retires the previous active key in the same store transaction;
a retired key stays published until the tokens it signed have expired (see
:class:`~libdockit.keys.ring.KeyRing`). The active key cannot be retired directly: activate
its successor, so there is never a moment with no key that signs.

New keys are stored sealed by the manager's :class:`~libdockit.keys.crypt.KeyProtector`
(encrypted at rest when it has a secret).

Every change names who makes it (``actor``) and is recorded in the audit log when the
manager has one (``key.create``, ``key.activate``, ``key.retire``), with the key's public
view (:func:`~libdockit.views.key_json`) before and after: never key material.
"""

from __future__ import annotations

from datetime import timedelta

from ..audit import Actor, Auditor
from ..backends.base import KeyStore
from ..clock import Clock, utc_now
from ..errors import Conflict, NotFound, ValidationError
from ..model import StoredKey
from ..views import key_view
from .crypt import PLAINTEXT, KeyProtector
from .material import Algorithm, generate_key, to_stored

ALGORITHMS: tuple[Algorithm, ...] = ("ES256", "RS256")
MAX_VALIDITY_DAYS = 3650


class KeyManager:
    def __init__(
        self,
        store: KeyStore,
        *,
        clock: Clock = utc_now,
        protector: KeyProtector = PLAINTEXT,
        audit: Auditor | None = None,
    ) -> None:
        """``audit`` records every change; None records nothing."""
        self._store = store
        self._clock = clock
        self._protector = protector
        self._audit = audit

    def list_keys(self) -> list[StoredKey]:
        return self._store.list_keys()

    def get_key(self, kid: str) -> StoredKey:
        for key in self._store.list_keys():
            if key.kid == kid:
                return key
        raise NotFound(f"key {kid} not found")

    def create_key(
        self,
        algorithm: str = "ES256",
        *,
        actor: Actor,
        validity_days: int = 365,
        common_name: str = "dockit",
    ) -> StoredKey:
        """Generate a key and store it *pending*: published, not yet signing."""
        if algorithm not in ALGORITHMS:
            raise ValidationError("algorithm", f"must be one of {', '.join(ALGORITHMS)}")
        if not 1 <= validity_days <= MAX_VALIDITY_DAYS:
            raise ValidationError("validity_days", f"must be from 1 to {MAX_VALIDITY_DAYS}")
        now = self._clock()
        key = generate_key(
            "RS256" if algorithm == "RS256" else "ES256",
            now=now,
            common_name=common_name,
            validity=timedelta(days=validity_days),
        )
        stored = to_stored(key, "pending", now, protector=self._protector)
        self._store.add_key(stored)
        self._record(actor, "key.create", None, stored)
        return stored

    def activate_key(self, kid: str, *, actor: Actor) -> StoredKey:
        """Make ``kid`` the signing key; the previous active key is retired atomically."""
        key = changed = self.get_key(kid)
        if key.state != "active":
            now = self._clock()
            if key.not_after <= now:
                raise Conflict(f"key {kid} cannot sign: its certificate expired at {key.not_after}")
            changed = self._store.set_key_state(kid, "active", now)
        self._record(actor, "key.activate", key, changed)
        return changed

    def retire_key(self, kid: str, *, actor: Actor) -> StoredKey:
        key = changed = self.get_key(kid)
        if key.state == "active":
            raise Conflict(
                f"key {kid} is the active key: activate another key first, which retires it"
            )
        if key.state != "retired":
            changed = self._store.set_key_state(kid, "retired", self._clock())
        self._record(actor, "key.retire", key, changed)
        return changed

    def _record(
        self, actor: Actor, action: str, before: StoredKey | None, after: StoredKey
    ) -> None:
        if self._audit is None:
            return
        now = self._clock()
        self._audit.change(
            actor,
            action,
            f"key:{after.kid}",
            before=dict(key_view(before, now)) if before is not None else None,
            after=dict(key_view(after, now)),
        )
