"""KeyRing: cached, periodically refreshed keys; ensure_active_key: idempotent and race-safe."""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import BackendUnavailable, Conflict, KeyMaterialError
from libdockit.keys import ring as keyring_module
from libdockit.keys.bundle import parse_bundle
from libdockit.keys.crypt import KeyProtector
from libdockit.keys.material import SigningKey, from_stored, generate_key, to_stored
from libdockit.keys.ring import KeyRing, ensure_active_key
from libdockit.model import KeyState, StoredKey
from libdockit.testing.pki import make_chain
from libdockit.tokens import TokenSigner

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


class CountingStore:
    """A KeyStore around MemoryBackend that counts reads and can be made unavailable."""

    def __init__(self) -> None:
        self.backend = MemoryBackend()
        self.reads = 0
        self.down = False

    def list_keys(self) -> list[StoredKey]:
        self.reads += 1
        if self.down:
            raise BackendUnavailable("store is down")
        return self.backend.list_keys()

    def add_key(self, key: StoredKey) -> None:
        self.backend.add_key(key)

    def set_key_state(self, kid: str, state: KeyState, at: datetime) -> StoredKey:
        return self.backend.set_key_state(kid, state, at)


_SEQUENCE = itertools.count()


def _add(store: CountingStore, state: KeyState, *, at: datetime = NOW) -> SigningKey:
    """Generate and store a key; each one is created a little later (stores sort by time)."""
    key = generate_key(now=at)
    store.add_key(to_stored(key, state, at + timedelta(milliseconds=next(_SEQUENCE))))
    return key


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def clock_value() -> list[datetime]:
    return [NOW]


@pytest.fixture
def mono() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def ring(store: CountingStore, mono: FakeMonotonic, clock_value: list[datetime]) -> KeyRing:
    return KeyRing(store, clock=lambda: clock_value[0], refresh_interval=5.0, monotonic=mono)


# -- KeyRing ----------------------------------------------------------------------------


def test_no_active_key(ring: KeyRing, store: CountingStore) -> None:
    with pytest.raises(KeyMaterialError, match="no active signing key"):
        ring.active()
    _add(store, "pending", at=NOW)
    ring.refresh()
    with pytest.raises(KeyMaterialError, match="no active signing key"):
        ring.active()
    assert len(ring.published()) == 1


def test_active_published_and_bundle(ring: KeyRing, store: CountingStore) -> None:
    retired = _add(store, "retired", at=NOW - timedelta(seconds=2))
    active = _add(store, "active", at=NOW - timedelta(seconds=1))
    pending = _add(store, "pending", at=NOW)
    assert ring.active().kid == active.kid
    assert [k.kid for k in ring.published()] == [retired.kid, active.kid, pending.kid]
    bundle = parse_bundle(ring.bundle_pem())
    assert bundle == [retired.chain[0], active.chain[0], pending.chain[0]]


def test_bundle_carries_the_ca_of_a_chain_key(ring: KeyRing, store: CountingStore) -> None:
    leaf = make_chain(2, now=NOW)
    key = leaf.signing_key()
    store.add_key(to_stored(key, "active", NOW))
    assert parse_bundle(ring.bundle_pem()) == [leaf.certificate, leaf.root]
    assert len(ring.active().chain) == 3


def test_store_is_read_once_per_interval(
    ring: KeyRing, store: CountingStore, mono: FakeMonotonic
) -> None:
    first = _add(store, "active")
    for _ in range(10):
        assert ring.active().kid == first.kid
        ring.published()
        ring.bundle_pem()
    assert store.reads == 1
    second = _add(store, "pending")
    mono.advance(4.9)
    assert [k.kid for k in ring.published()] == [first.kid]
    assert store.reads == 1
    mono.advance(0.1)
    assert [k.kid for k in ring.published()] == [first.kid, second.kid]
    assert store.reads == 2
    assert ring.active().kid == first.kid
    assert store.reads == 2


def test_refresh_forces_a_read(ring: KeyRing, store: CountingStore) -> None:
    first = _add(store, "active")
    ring.active()
    second = _add(store, "pending")
    store.set_key_state(second.kid, "active", NOW)
    assert ring.active().kid == first.kid
    ring.refresh()
    assert store.reads == 2
    assert ring.active().kid == second.kid
    assert [k.kid for k in ring.published()] == [first.kid, second.kid]


def test_parsed_keys_are_cached_by_kid(
    ring: KeyRing,
    store: CountingStore,
    mono: FakeMonotonic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def counting_from_stored(stored: StoredKey, *, protector: KeyProtector) -> SigningKey:
        calls.append(stored.kid)
        return from_stored(stored, protector=protector)

    monkeypatch.setattr(keyring_module, "from_stored", counting_from_stored)
    first = _add(store, "active")
    key = ring.active()
    for _ in range(3):
        mono.advance(10)
        assert ring.active() is key
    second = _add(store, "pending")
    ring.refresh()
    ring.refresh()
    assert ring.active() is key
    assert calls == [first.kid, second.kid]
    assert store.reads == 6  # one first read, three after intervals, two forced


def test_a_key_leaving_the_store_leaves_the_ring(ring: KeyRing, store: CountingStore) -> None:
    kept = _add(store, "active")
    dropped = _add(store, "pending")
    assert len(ring.published()) == 2
    del store.backend._keys[dropped.kid]
    ring.refresh()
    assert [k.kid for k in ring.published()] == [kept.kid]


def test_unusable_stored_key_is_left_out_and_logged_once(
    ring: KeyRing,
    store: CountingStore,
    mono: FakeMonotonic,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = _add(store, "active")
    broken = replace(
        to_stored(generate_key(now=NOW), "pending", NOW + timedelta(seconds=1)),
        private_key_pem=b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
    )
    store.add_key(broken)
    with caplog.at_level(logging.ERROR, logger="libdockit.keys.ring"):
        assert [k.kid for k in ring.published()] == [good.kid]
        mono.advance(10)
        assert [k.kid for k in ring.published()] == [good.kid]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert broken.kid in errors[0].getMessage()
    assert "nope" not in errors[0].getMessage()
    assert ring.active().kid == good.kid


def test_store_outage_keeps_the_last_keys(
    ring: KeyRing, store: CountingStore, mono: FakeMonotonic
) -> None:
    key = _add(store, "active")
    assert ring.active().kid == key.kid
    store.down = True
    mono.advance(10)
    assert ring.active().kid == key.kid
    assert store.reads == 2
    # Retries only after another interval.
    assert ring.active().kid == key.kid
    assert store.reads == 2
    store.down = False
    mono.advance(10)
    ring.active()
    assert store.reads == 3


def test_store_outage_before_any_read_propagates(ring: KeyRing, store: CountingStore) -> None:
    store.down = True
    with pytest.raises(BackendUnavailable):
        ring.active()
    with pytest.raises(BackendUnavailable):
        ring.refresh()


def test_active_key_with_expired_certificate(
    ring: KeyRing, store: CountingStore, clock_value: list[datetime]
) -> None:
    key = _add(store, "active")
    clock_value[0] = key.not_after
    with pytest.raises(KeyMaterialError, match="expired"):
        ring.active()
    assert [k.kid for k in ring.published()] == [key.kid]
    # The token path takes it without the check: the signer refuses it at the issue time.
    assert ring.signing_key() is ring.published()[0]
    signer = TokenSigner(issuer="dockit", clock=lambda: clock_value[0])
    with pytest.raises(KeyMaterialError, match="expired"):
        signer.sign(ring.signing_key(), subject="alice", audience="registry", access=[])


def test_no_active_key_is_refused_on_the_token_path_too(
    ring: KeyRing, store: CountingStore
) -> None:
    _add(store, "pending")
    with pytest.raises(KeyMaterialError, match="no active signing key"):
        ring.signing_key()


def test_concurrent_readers(store: CountingStore) -> None:
    key = _add(store, "active")
    ring = KeyRing(store, clock=lambda: NOW, refresh_interval=0.0)
    errors: list[BaseException] = []
    seen: set[str] = set()

    def work() -> None:
        try:
            for _ in range(200):
                seen.add(ring.active().kid)
                ring.bundle_pem()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert seen == {key.kid}


# -- ensure_active_key ------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_ensure_active_key_generates_once(algorithm: Any) -> None:
    store = MemoryBackend()
    created = ensure_active_key(store, algorithm=algorithm, now=NOW, validity=timedelta(days=30))
    assert created.state == "active"
    assert created.algorithm == algorithm
    assert created.activated_at == NOW
    assert created.not_after == NOW + timedelta(days=30)
    assert store.list_keys() == [created]
    again = ensure_active_key(store, algorithm=algorithm, now=NOW + timedelta(hours=1))
    assert again == created
    assert len(store.list_keys()) == 1
    assert from_stored(created).kid == created.kid


def test_ensure_active_key_keeps_an_existing_active_key() -> None:
    store = MemoryBackend()
    existing = to_stored(generate_key("RS256", now=NOW), "active", NOW)
    store.add_key(existing)
    assert ensure_active_key(store, algorithm="ES256", now=NOW) == existing


def test_ensure_active_key_ignores_pending_keys() -> None:
    store = MemoryBackend()
    store.add_key(to_stored(generate_key(now=NOW), "pending", NOW))
    created = ensure_active_key(store, now=NOW)
    assert created.state == "active"
    assert len(store.list_keys()) == 2


class RacingStore(MemoryBackend):
    """Another process activates its key between our read and our write."""

    def __init__(self) -> None:
        super().__init__()
        self.winner = to_stored(generate_key(now=NOW), "active", NOW)
        self.raced = False

    def add_key(self, key: StoredKey) -> None:
        if not self.raced:
            self.raced = True
            super().add_key(self.winner)
        super().add_key(key)


def test_ensure_active_key_returns_the_winner_of_a_race() -> None:
    store = RacingStore()
    result = ensure_active_key(store, now=NOW)
    assert result == store.winner
    assert store.list_keys() == [store.winner]


def test_ensure_active_key_reraises_a_conflict_without_winner() -> None:
    class Refusing(MemoryBackend):
        def add_key(self, key: StoredKey) -> None:
            raise Conflict("no")

    with pytest.raises(Conflict):
        ensure_active_key(Refusing(), now=NOW)


def test_refresh_with_max_age(ring: KeyRing, store: CountingStore, mono: FakeMonotonic) -> None:
    first = _add(store, "active")
    ring.active()
    second = _add(store, "pending")
    ring.refresh(max_age=2.0)  # read just now: kept
    assert store.reads == 1
    mono.advance(2.0)
    ring.refresh(max_age=2.0)
    assert store.reads == 2
    assert [k.kid for k in ring.pending()] == [second.kid]
    ring.refresh(max_age=0.0)  # always reads
    assert store.reads == 3
    store.down = True
    ring.refresh(max_age=0.0)  # the store is down: the keys read last stay
    assert [k.kid for k in ring.published()] == [first.kid, second.kid]
    with pytest.raises(BackendUnavailable):
        ring.refresh()
