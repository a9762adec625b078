"""The signing keys a running service uses, read from a KeyStore and kept parsed.

:class:`KeyRing` reads the store once and then at most every ``refresh_interval`` seconds,
so a key rotated by another process (``dockit`` admin command, another replica) is picked
up within that interval, while the token path does no store round-trip and no PEM parsing:
parsed keys are cached by kid and reused as long as their stored PEM is unchanged.

A retired key stays published for ``retired_grace`` after its retirement (the longest a token
it signed can still be presented: token lifetime plus the registry's 60 s leeway), then it
leaves the bundle and the JWKS. It is never deleted from the store, so the audit trail stays.

A refresh that fails because the store cannot answer keeps serving the keys read last (and
tries again after the interval); with nothing read yet, the error propagates. A stored key
that cannot be parsed is left out (logged once) rather than breaking the whole bundle.

Private keys are unsealed by the ring's :class:`~libdockit.keys.crypt.KeyProtector` (stored
encrypted when it has a secret). A :class:`KeySource` (such as
:class:`~libdockit.keys.files.KeyFiles`, a key brought in files) is checked on the same
refresh path, so at most once per interval and never per request; when it changes the store,
the ring reads the store again at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ..backends.base import KeyStore
from ..clock import Clock, utc_now
from ..errors import BackendUnavailable, Conflict, DockitError, KeyMaterialError
from ..model import StoredKey
from .bundle import bundle_certificates
from .bundle import bundle_pem as _bundle_pem
from .crypt import PLAINTEXT, KeyProtector
from .material import Algorithm, SigningKey, from_stored, generate_key, to_stored

__all__ = ["KeyRing", "KeySource", "ensure_active_key"]

log = logging.getLogger(__name__)

Monotonic = Callable[[], float]
#: The registry accepts a token up to this long after its ``exp``.
REGISTRY_LEEWAY_SECONDS = 60
#: Default token lifetime (300 s) plus the registry's leeway.
DEFAULT_RETIRED_GRACE = timedelta(seconds=300 + REGISTRY_LEEWAY_SECONDS)


class KeySource(Protocol):
    """Something outside the store that may bring a new key (e.g. key files)."""

    def check(self, published: Sequence[SigningKey]) -> bool:
        """Look for a change; store what it brings; True if the store changed.

        ``published`` are the keys the ring publishes now. Called with the ring's lock
        held, at most once per refresh; should not raise for a bad source (log instead).
        """
        ...


@dataclass(frozen=True, slots=True)
class _Snapshot:
    active: SigningKey | None
    published: tuple[SigningKey, ...]
    bundle_pem: bytes
    loaded_at: float
    pending: tuple[SigningKey, ...] = ()


@dataclass(frozen=True, slots=True)
class _Parsed:
    private_key_pem: bytes
    certificate_chain_pem: bytes
    key: SigningKey | None  # None: this PEM could not be parsed (logged once)


class KeyRing:
    """Parsed signing keys from ``store``, re-read at most every ``refresh_interval`` s.

    Thread-safe. While one thread re-reads the store, others keep using the previous keys.
    """

    def __init__(
        self,
        store: KeyStore,
        *,
        clock: Clock = utc_now,
        refresh_interval: float = 5.0,
        monotonic: Monotonic = time.monotonic,
        retired_grace: timedelta = DEFAULT_RETIRED_GRACE,
        protector: KeyProtector = PLAINTEXT,
        source: KeySource | None = None,
    ) -> None:
        self._store = store
        self._protector = protector
        self._source = source
        self._retired_grace = retired_grace
        self._clock = clock
        self._interval = refresh_interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._parsed: dict[str, _Parsed] = {}
        self._snapshot: _Snapshot | None = None

    # -- reading ------------------------------------------------------------------------
    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and self._monotonic() - snapshot.loaded_at < self._interval:
            return snapshot
        if snapshot is not None:
            # Someone else is refreshing: serve what we have rather than queue behind them.
            if not self._lock.acquire(blocking=False):
                return snapshot
        else:
            self._lock.acquire()
        try:
            latest = self._snapshot
            if latest is not None and self._monotonic() - latest.loaded_at < self._interval:
                return latest
            return self._reload(fallback=latest)
        finally:
            self._lock.release()

    def refresh(self, *, max_age: float | None = None) -> None:
        """Re-read the store now; with ``max_age``, only if the keys were read longer ago
        than that many seconds, and keeping the keys read last if the store is down."""
        with self._lock:
            latest = self._snapshot
            if max_age is None or latest is None:
                self._reload(fallback=None)
            elif self._monotonic() - latest.loaded_at >= max_age:
                self._reload(fallback=latest)

    def _reload(self, *, fallback: _Snapshot | None) -> _Snapshot:
        """Read the store (and the key source) and swap in a new snapshot; the caller holds
        the lock."""
        snapshot = self._read(fallback=fallback)
        if self._source is None:
            return snapshot
        try:
            changed = self._source.check(snapshot.published)
        except DockitError as exc:
            log.warning("could not take a new key from %r: %s", self._source, exc.message)
            changed = False
        return self._read(fallback=snapshot) if changed else snapshot

    def _read(self, *, fallback: _Snapshot | None) -> _Snapshot:
        try:
            stored_keys = self._store.list_keys()
        except BackendUnavailable:
            if fallback is None:
                raise
            log.warning(
                "key store unavailable; keeping the %d keys read last", len(fallback.published)
            )
            snapshot = _Snapshot(
                fallback.active,
                fallback.published,
                fallback.bundle_pem,
                self._monotonic(),
                fallback.pending,
            )
            self._snapshot = snapshot
            return snapshot
        parsed: dict[str, _Parsed] = {}
        active: SigningKey | None = None
        published: list[SigningKey] = []
        pending: list[SigningKey] = []
        now = _aware(self._clock())
        for stored in stored_keys:
            if self._expired_retirement(stored, now):
                continue
            entry = self._parse(stored)
            parsed[stored.kid] = entry
            if entry.key is None:
                continue
            published.append(entry.key)
            if stored.state == "pending":
                pending.append(entry.key)
            if stored.state == "active":
                if active is not None:
                    log.warning("more than one active key in the store; using %s", stored.kid)
                active = entry.key
        self._parsed = parsed
        snapshot = _Snapshot(
            active=active,
            published=tuple(published),
            bundle_pem=_bundle_pem(bundle_certificates(published)),
            loaded_at=self._monotonic(),
            pending=tuple(pending),
        )
        self._snapshot = snapshot
        return snapshot

    def _expired_retirement(self, stored: StoredKey, now: datetime) -> bool:
        if stored.state != "retired":
            return False
        retired_at = stored.retired_at or stored.created_at
        return _aware(retired_at) + self._retired_grace <= now

    def _parse(self, stored: StoredKey) -> _Parsed:
        cached = self._parsed.get(stored.kid)
        if (
            cached is not None
            and cached.private_key_pem == stored.private_key_pem
            and cached.certificate_chain_pem == stored.certificate_chain_pem
        ):
            return cached
        try:
            key: SigningKey | None = from_stored(stored, protector=self._protector)
        except KeyMaterialError as exc:
            log.error("stored key %s cannot be used and is left out: %s", stored.kid, exc.message)
            key = None
        return _Parsed(stored.private_key_pem, stored.certificate_chain_pem, key)

    # -- public -------------------------------------------------------------------------
    def active(self) -> SigningKey:
        """The key that signs; KeyMaterialError if there is none or its certificate expired."""
        key = self.signing_key()
        if key.not_after <= _aware(self._clock()):
            raise KeyMaterialError(
                f"the certificate of the active key {key.kid} expired at "
                f"{key.not_after.isoformat()}"
            )
        return key

    def signing_key(self) -> SigningKey:
        """:meth:`active` without its check of the certificate's end, for a signer that
        makes that check itself at the token's own issue time (as
        :meth:`libdockit.tokens.TokenSigner.sign` does): one clock read less per token."""
        key = self._current().active
        if key is None:
            raise KeyMaterialError("there is no active signing key")
        return key

    def published(self) -> list[SigningKey]:
        """Pending, active and recently retired keys, in store order."""
        return list(self._current().published)

    def pending(self) -> list[SigningKey]:
        """Pending keys (published, not signing yet), in store order."""
        return list(self._current().pending)

    def bundle_pem(self) -> bytes:
        """The certificates registries should trust for the published keys, as PEM."""
        return self._current().bundle_pem


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _active_of(store: KeyStore) -> StoredKey | None:
    active = [stored for stored in store.list_keys() if stored.state == "active"]
    return active[-1] if active else None


def ensure_active_key(
    store: KeyStore,
    *,
    algorithm: Algorithm = "ES256",
    now: datetime,
    validity: timedelta = timedelta(days=365),
    protector: KeyProtector = PLAINTEXT,
) -> StoredKey:
    """The store's active key; if there is none, generate one, store it active (sealed by
    ``protector``), return it.

    Safe against a concurrent start: if another process stored an active key first (the
    store answers Conflict), that key is returned instead.
    """
    existing = _active_of(store)
    if existing is not None:
        return existing
    key = generate_key(algorithm, now=now, validity=validity)
    stored = to_stored(key, "active", now, protector=protector)
    try:
        store.add_key(stored)
    except Conflict:
        winner = _active_of(store)
        if winner is None:
            raise
        log.info("another process activated key %s first", winner.kid)
        return winner
    log.info("generated and activated %s signing key %s", algorithm, stored.kid)
    return stored
