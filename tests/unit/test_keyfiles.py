"""KeyFiles: a key brought in files, taken again when they change (real files, fake clocks)."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import BackendUnavailable, Conflict
from libdockit.keys.bundle import parse_bundle
from libdockit.keys.crypt import PLAINTEXT, KeyProtector
from libdockit.keys.files import KeyFiles
from libdockit.keys.material import to_stored
from libdockit.keys.ring import KeyRing
from libdockit.model import KeyState, StoredKey
from libdockit.secret import Secret
from libdockit.testing.pki import Issued, issue_leaf, make_ca

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
INTERVAL = 5.0


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


class Store:
    """MemoryBackend that counts reads, can be down, and can lose a race on add_key."""

    def __init__(self) -> None:
        self.backend = MemoryBackend()
        self.reads = 0
        self.down = False
        self.lose_race = False

    def list_keys(self) -> list[StoredKey]:
        self.reads += 1
        if self.down:
            raise BackendUnavailable("store is down")
        return self.backend.list_keys()

    def add_key(self, key: StoredKey) -> None:
        if self.down:
            raise BackendUnavailable("store is down")
        if self.lose_race:  # another process stores the same key just before us
            self.backend.add_key(key)
            raise Conflict(f"key {key.kid} exists already")
        self.backend.add_key(key)

    def set_key_state(self, kid: str, state: KeyState, at: datetime) -> StoredKey:
        if self.down:
            raise BackendUnavailable("store is down")
        return self.backend.set_key_state(kid, state, at)

    def states(self) -> dict[str, str]:
        return {k.kid: k.state for k in self.backend.list_keys()}


class Setup:
    def __init__(self, tmp_path: Path, *, protector: KeyProtector = PLAINTEXT) -> None:
        self.root = make_ca(now=NOW)
        self.intermediate = make_ca("Dockit Test Issuing CA", issuer=self.root, now=NOW)
        self.key_file = tmp_path / "tls.key"
        self.cert_file = tmp_path / "tls.crt"
        self.store = Store()
        self.now = NOW
        self.mono = FakeMonotonic()
        self.first = self.leaf()
        self.write(self.first)
        # What prepare() does at start: the key from the files is the active key.
        self.store.add_key(to_stored(self.first.signing_key(include_root=False), "active", NOW))
        self.files = KeyFiles(
            self.key_file,
            self.cert_file,
            store=self.store,
            clock=lambda: self.now,
            protector=protector,
        )
        self.ring = KeyRing(
            self.store,
            clock=lambda: self.now,
            refresh_interval=INTERVAL,
            monotonic=self.mono,
            source=self.files,
            protector=protector,
        )

    def leaf(
        self,
        issuer: Issued | None = None,
        *,
        now: datetime = NOW,
        validity: timedelta = timedelta(days=90),
    ) -> Issued:
        return issue_leaf(issuer or self.intermediate, now=now, validity=validity)

    def write(self, leaf: Issued, *, key_of: Issued | None = None, atomic: bool = True) -> None:
        """Like cert-manager via a secret volume (atomic swap) or an in-place rewrite."""
        for path, data in (
            (self.key_file, (key_of or leaf).key_pem()),
            (self.cert_file, leaf.chain_pem(include_root=False)),
        ):
            if atomic:
                temporary = path.with_suffix(".tmp")
                temporary.write_bytes(data)
                os.replace(temporary, path)
            else:
                path.write_bytes(data)

    def tick(self) -> None:
        self.mono.value += INTERVAL

    def active_kid(self) -> str:
        return self.ring.active().kid


def kid(leaf: Issued) -> str:
    return leaf.signing_key().kid


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def _no_material(text: str) -> None:
    assert "PRIVATE KEY" not in text
    assert "CERTIFICATE" not in text


def test_renewed_files_are_taken_at_the_next_refresh(setup: Setup) -> None:
    assert setup.active_kid() == kid(setup.first)
    renewed = setup.leaf()
    setup.write(renewed)
    # Not per request: the files are looked at on the refresh path only.
    assert setup.active_kid() == kid(setup.first)
    setup.tick()
    assert setup.active_kid() == kid(renewed)
    assert setup.store.states() == {kid(setup.first): "retired", kid(renewed): "active"}
    # The old key stays published for the grace; the bundle carries the CA, not the leaf
    # alone, so registries trust the renewed leaf without a restart.
    assert {k.kid for k in setup.ring.published()} == {kid(setup.first), kid(renewed)}
    bundle = parse_bundle(setup.ring.bundle_pem())
    assert setup.intermediate.certificate in bundle
    assert setup.ring.active().x5c[1:] == setup.first.signing_key(include_root=False).x5c[1:]
    assert len(setup.ring.active().chain) == 2  # leaf + intermediate


def test_in_place_rewrite_is_seen_too(setup: Setup) -> None:
    setup.active_kid()
    renewed = setup.leaf()
    setup.write(renewed, atomic=False)
    setup.tick()
    assert setup.active_kid() == kid(renewed)


def test_unchanged_files_cost_no_store_read(setup: Setup) -> None:
    setup.active_kid()
    reads = setup.store.reads
    for _ in range(5):
        setup.tick()
        setup.active_kid()
    assert setup.store.reads == reads + 5  # the ring's own read; KeyFiles only stats


def test_broken_files_keep_the_current_key(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    setup.active_kid()
    renewed = setup.leaf()
    with caplog.at_level(logging.DEBUG, logger="libdockit"):
        # Half a renewal: the new key, the old certificate.
        setup.write(setup.first, key_of=renewed)
        for _ in range(3):
            setup.tick()
            assert setup.active_kid() == kid(setup.first)
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1  # logged once for one broken pair
        assert "does not match" in errors[0].getMessage()
        assert "the current key keeps signing" in errors[0].getMessage()
        # The other half lands: taken.
        setup.write(renewed)
        setup.tick()
        assert setup.active_kid() == kid(renewed)
    _no_material(caplog.text)


@pytest.mark.parametrize("problem", ["expired", "unreadable", "garbage", "bad chain"])
def test_bad_new_files_are_logged_and_ignored(
    setup: Setup, caplog: pytest.LogCaptureFixture, problem: str
) -> None:
    setup.active_kid()
    if problem == "expired":
        setup.write(setup.leaf(now=NOW - timedelta(days=30), validity=timedelta(days=1)))
        expected = "expired at"
    elif problem == "unreadable":
        setup.key_file.unlink()
        expected = "cannot read"
    elif problem == "garbage":
        setup.key_file.write_bytes(b"-----BEGIN PRIVATE KEY-----\nsecret-ish\n")
        expected = "cannot be read"
    else:
        other_ca = make_ca("Other CA", now=NOW)
        stranger = setup.leaf(issuer=other_ca)
        setup.key_file.write_bytes(stranger.key_pem())
        setup.cert_file.write_bytes(_bad_chain(stranger, setup))
        expected = "did not issue"
    with caplog.at_level(logging.DEBUG, logger="libdockit"):
        setup.tick()
        assert setup.active_kid() == kid(setup.first)
    assert expected in caplog.text
    assert "secret-ish" not in caplog.text
    _no_material(caplog.text)
    assert list(setup.store.states().values()) == ["active"]


def _bad_chain(leaf: Issued, setup: Setup) -> bytes:
    """The leaf followed by a CA that did not issue it."""
    return b"".join(
        cert.public_bytes(serialization.Encoding.PEM)
        for cert in (leaf.certificate, setup.intermediate.certificate)
    )


def test_a_new_ca_stays_pending(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    setup.active_kid()
    other_ca = make_ca("Another Root", now=NOW)
    moved = setup.leaf(issuer=make_ca("Another Issuing CA", issuer=other_ca, now=NOW))
    setup.write(moved)
    with caplog.at_level(logging.WARNING, logger="libdockit"):
        setup.tick()
        assert setup.active_kid() == kid(setup.first)
    assert setup.store.states()[kid(moved)] == "pending"
    assert "stays pending" in caplog.text
    assert f"dockit keys activate {kid(moved)}" in caplog.text
    # Published, so the init step puts its CA into the bundle for the registries.
    assert kid(moved) in {k.kid for k in setup.ring.published()}


def test_the_conflict_of_a_race_means_someone_else_stored_it(setup: Setup) -> None:
    setup.active_kid()
    renewed = setup.leaf()
    setup.write(renewed)
    setup.store.lose_race = True
    setup.tick()
    assert setup.active_kid() == kid(renewed)


def test_two_workers_take_the_same_files_once(setup: Setup) -> None:
    second_ring = KeyRing(
        setup.store,
        clock=lambda: setup.now,
        refresh_interval=INTERVAL,
        monotonic=setup.mono,
        source=KeyFiles(
            setup.key_file, setup.cert_file, store=setup.store, clock=lambda: setup.now
        ),
    )
    assert setup.active_kid() == second_ring.active().kid
    renewed = setup.leaf()
    setup.write(renewed)
    setup.tick()
    assert setup.active_kid() == kid(renewed)
    assert second_ring.active().kid == kid(renewed)
    assert sorted(setup.store.states().values()) == ["active", "retired"]


def test_store_down_during_the_change_is_retried(setup: Setup) -> None:
    setup.active_kid()
    renewed = setup.leaf()
    setup.write(renewed)
    setup.store.down = True
    setup.tick()
    assert setup.active_kid() == kid(setup.first)  # the keys read last
    setup.store.down = False
    setup.tick()
    assert setup.active_kid() == kid(renewed)


def test_a_retired_key_is_not_brought_back(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    setup.active_kid()
    renewed = setup.leaf()
    setup.write(renewed)
    setup.tick()
    assert setup.active_kid() == kid(renewed)
    setup.write(setup.first)  # rolled back to the old files
    with caplog.at_level(logging.WARNING, logger="libdockit"):
        setup.tick()
        assert setup.active_kid() == kid(renewed)
    assert "was retired" in caplog.text


def test_a_certificate_not_valid_yet_waits(setup: Setup) -> None:
    setup.active_kid()
    early = setup.leaf(now=NOW + timedelta(hours=1))  # valid from 55 minutes on
    setup.write(early)
    setup.tick()
    assert setup.active_kid() == kid(setup.first)
    assert kid(early) not in setup.store.states()
    setup.now = NOW + timedelta(hours=1)
    setup.tick()  # no file change: checked again because it was only early
    assert setup.active_kid() == kid(early)


def test_keys_from_files_are_stored_encrypted(tmp_path: Path) -> None:
    protector = KeyProtector(Secret("a-long-enough-key-encryption-secret"))
    setup = Setup(tmp_path, protector=protector)
    setup.active_kid()
    renewed = setup.leaf()
    setup.write(renewed)
    setup.tick()
    assert setup.active_kid() == kid(renewed)
    stored = next(k for k in setup.store.backend.list_keys() if k.kid == kid(renewed))
    assert protector.is_sealed(stored.private_key_pem)


def test_repr_names_the_files_only(setup: Setup) -> None:
    assert repr(setup.files) == f"KeyFiles({str(setup.key_file)!r}, {str(setup.cert_file)!r})"
