"""KeyProtector: private keys encrypted at rest, plaintext keys still loading, migration."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from libdockit.audit import Actor
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import KeyMaterialError
from libdockit.keys.crypt import (
    MIN_SECRET_LENGTH,
    PLAINTEXT,
    KeyDecryptionError,
    KeyProtector,
    seal_stored_keys,
)
from libdockit.keys.manager import KeyManager
from libdockit.keys.material import SigningKey, from_stored, generate_key, to_stored
from libdockit.keys.ring import KeyRing, ensure_active_key
from libdockit.secret import Secret

TEST_ACTOR = Actor.system("tests")

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
SECRET = "correct horse battery staple 42"
OTHER_SECRET = "another-secret-of-enough-length"
SEALED = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
PLAIN = b"-----BEGIN PRIVATE KEY-----"


@pytest.fixture(scope="module")
def protector() -> KeyProtector:
    return KeyProtector(Secret(SECRET))


@pytest.fixture(scope="module")
def other() -> KeyProtector:
    return KeyProtector(Secret(OTHER_SECRET))


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_key(now=NOW)


def _private_der(signing_key: SigningKey) -> bytes:
    return signing_key.private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _spki(private_key: PrivateKeyTypes) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _no_material(text: str) -> None:
    assert "PRIVATE KEY" not in text
    assert SECRET not in text
    assert OTHER_SECRET not in text


def test_sealed_round_trip(protector: KeyProtector, key: SigningKey) -> None:
    pem = protector.seal(key.private_key)
    assert pem.startswith(SEALED)
    assert protector.is_sealed(pem)
    assert not protector.needs_sealing(pem)
    opened = protector.unseal(pem)
    assert opened.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) == _private_der(key)
    # Each seal uses its own salt and IV: the same key never gives the same ciphertext.
    assert protector.seal(key.private_key) != pem


def test_rsa_keys_seal_too(protector: KeyProtector) -> None:
    rsa_key = generate_key("RS256", now=NOW)
    stored = to_stored(rsa_key, "pending", NOW, protector=protector)
    assert stored.private_key_pem.startswith(SEALED)
    assert from_stored(stored, protector=protector).kid == rsa_key.kid


def test_the_password_is_derived_not_the_secret(protector: KeyProtector, key: SigningKey) -> None:
    pem = protector.seal(key.private_key)
    # A wrong password fails the padding check, or (about one time in 256) passes it and
    # leaves bytes that are no key: either way nothing opens.
    with pytest.raises(ValueError, match=r"(?i)password|decrypt|deserialize"):
        serialization.load_pem_private_key(pem, password=SECRET.encode())
    # Recovery by hand: the documented PKCS#8 password opens it with any PKCS#8 reader.
    opened = serialization.load_pem_private_key(pem, password=protector.pkcs8_password())
    assert _spki(opened) == _spki(key.private_key)
    # The same secret always derives the same password (no state to keep).
    assert KeyProtector(Secret(SECRET)).pkcs8_password() == protector.pkcs8_password()


def test_plaintext_protector(key: SigningKey) -> None:
    pem = PLAINTEXT.seal(key.private_key)
    assert pem.startswith(PLAIN)
    assert not PLAINTEXT.encrypts
    assert not PLAINTEXT.needs_sealing(pem)
    assert _spki(PLAINTEXT.unseal(pem)) == _spki(key.private_key)
    with pytest.raises(KeyMaterialError, match="no key-encryption secret"):
        PLAINTEXT.pkcs8_password()


def test_a_secret_still_loads_plaintext_keys(protector: KeyProtector, key: SigningKey) -> None:
    pem = PLAINTEXT.seal(key.private_key)
    assert protector.needs_sealing(pem)
    assert _spki(protector.unseal(pem)) == _spki(key.private_key)
    assert protector.is_sealed(protector.reseal(pem))


def test_wrong_secret(protector: KeyProtector, other: KeyProtector, key: SigningKey) -> None:
    pem = protector.seal(key.private_key)
    with pytest.raises(KeyDecryptionError) as caught:
        other.unseal(pem, what="the private key of stored key K1")
    assert caught.value.message == (
        "the private key of stored key K1 cannot be decrypted with this key-encryption secret"
    )
    _no_material(str(caught.value))


def test_missing_secret(protector: KeyProtector, key: SigningKey) -> None:
    pem = protector.seal(key.private_key)
    with pytest.raises(KeyDecryptionError, match="encrypted and no key-encryption secret is set"):
        PLAINTEXT.unseal(pem)
    with pytest.raises(KeyDecryptionError):
        from_stored(to_stored(key, "active", NOW, protector=protector))


def test_garbage_is_not_a_decryption_error(protector: KeyProtector) -> None:
    with pytest.raises(KeyMaterialError) as caught:
        protector.unseal(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    assert not isinstance(caught.value, KeyDecryptionError)
    assert "nope" not in caught.value.message


def test_legacy_encrypted_pem_is_refused_clearly(protector: KeyProtector, key: SigningKey) -> None:
    legacy = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"whatever-password"),
    )
    with pytest.raises(KeyDecryptionError, match="not PKCS#8"):
        protector.unseal(legacy)


def test_short_secret_is_refused() -> None:
    with pytest.raises(KeyMaterialError, match=f"at least {MIN_SECRET_LENGTH} characters"):
        KeyProtector(Secret("x" * (MIN_SECRET_LENGTH - 1)))


def test_repr_shows_no_secret(protector: KeyProtector) -> None:
    assert repr(protector) == "KeyProtector(encrypts=True)"
    assert repr(PLAINTEXT) == "KeyProtector(encrypts=False)"


# -- the secret threaded through the key life cycle ----------------------------------------


def test_store_writers_seal(protector: KeyProtector) -> None:
    store = MemoryBackend()
    ensure_active_key(store, now=NOW, protector=protector)
    KeyManager(store, clock=lambda: NOW + timedelta(seconds=1), protector=protector).create_key(
        actor=TEST_ACTOR
    )
    assert [k.state for k in store.list_keys()] == ["active", "pending"]
    assert all(k.private_key_pem.startswith(SEALED) for k in store.list_keys())
    ring = KeyRing(store, clock=lambda: NOW, protector=protector)
    assert len(ring.published()) == 2
    assert ring.active().kid == store.list_keys()[0].kid


def test_ring_without_the_secret_leaves_sealed_keys_out(
    protector: KeyProtector, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryBackend()
    plain = generate_key(now=NOW)
    sealed = generate_key(now=NOW)
    store.add_key(to_stored(plain, "active", NOW))
    store.add_key(to_stored(sealed, "pending", NOW + timedelta(seconds=1), protector=protector))
    with caplog.at_level(logging.DEBUG):
        ring = KeyRing(store, clock=lambda: NOW)
        assert [k.kid for k in ring.published()] == [plain.kid]
    assert sealed.kid in caplog.text
    assert "no key-encryption secret" in caplog.text
    _no_material(caplog.text)


# -- migration ------------------------------------------------------------------------------


def test_seal_stored_keys_migrates_once(
    protector: KeyProtector, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryBackend()
    first = generate_key(now=NOW)
    second = generate_key("RS256", now=NOW)
    store.add_key(to_stored(first, "active", NOW))
    store.add_key(to_stored(second, "retired", NOW + timedelta(seconds=1)))
    before = store.list_keys()
    with caplog.at_level(logging.DEBUG):
        assert seal_stored_keys(store, protector) == [first.kid, second.kid]
    after = store.list_keys()
    assert all(k.private_key_pem.startswith(SEALED) for k in after)
    # Only the wrapping changed.
    assert [replace(k, private_key_pem=b"") for k in after] == [
        replace(k, private_key_pem=b"") for k in before
    ]
    assert [from_stored(k, protector=protector).kid for k in after] == [first.kid, second.kid]
    assert seal_stored_keys(store, protector) == []
    assert store.list_keys() == after
    _no_material(caplog.text)


def test_seal_stored_keys_without_secret_changes_nothing(key: SigningKey) -> None:
    store = MemoryBackend()
    store.add_key(to_stored(key, "active", NOW))
    before = store.list_keys()
    assert seal_stored_keys(store, PLAINTEXT) == []
    assert store.list_keys() == before


def test_a_key_the_secret_cannot_open_stops_before_any_change(
    protector: KeyProtector, other: KeyProtector
) -> None:
    store = MemoryBackend()
    store.add_key(to_stored(generate_key(now=NOW), "active", NOW))  # plaintext
    locked = generate_key(now=NOW)
    store.add_key(to_stored(locked, "pending", NOW + timedelta(seconds=1), protector=protector))
    before = store.list_keys()
    with pytest.raises(KeyDecryptionError, match=f"stored key {locked.kid}"):
        seal_stored_keys(store, other)
    with pytest.raises(KeyDecryptionError, match="no key-encryption secret"):
        seal_stored_keys(store, PLAINTEXT)
    assert store.list_keys() == before


def test_an_unreadable_stored_key_is_left_alone(
    protector: KeyProtector, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryBackend()
    good = generate_key(now=NOW)
    store.add_key(to_stored(good, "active", NOW))
    broken = replace(
        to_stored(generate_key(now=NOW), "pending", NOW + timedelta(seconds=1)),
        private_key_pem=b"-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n",
    )
    store.add_key(broken)
    with caplog.at_level(logging.ERROR):
        assert seal_stored_keys(store, protector) == [good.kid]
    assert broken.kid in caplog.text
    assert store.list_keys()[1] == broken
