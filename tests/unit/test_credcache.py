"""The verified-credentials cache: skips the hash only for the exact triple, briefly."""

from __future__ import annotations

from pathlib import Path

import pytest

from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.backends.sql.backend import SqlBackend
from libdockit.credcache import VerifiedCredentials
from libdockit.passwords import PasswordHasher, VerifyResult
from libdockit.secret import Secret


class CountingHasher(PasswordHasher):
    """The real argon2id hasher, counting how often it really verifies."""

    def __init__(self) -> None:
        super().__init__()
        self.verifications = 0

    def verify(self, password_hash: str, password: Secret) -> VerifyResult:
        self.verifications += 1
        return super().verify(password_hash, password)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def hasher() -> CountingHasher:
    return CountingHasher()


def make(
    hasher: CountingHasher, clock: Clock, **kwargs: float
) -> tuple[MemoryBackend, LocalAuthenticator]:
    store = MemoryBackend()
    store.create_user("alice", hasher.hash(Secret("pw-1")))
    cache = VerifiedCredentials(monotonic=clock, **kwargs)  # type: ignore[arg-type]
    return store, LocalAuthenticator(store, hasher, verified=cache)


def test_second_login_skips_the_hash(hasher: CountingHasher) -> None:
    clock = Clock()
    _, auth = make(hasher, clock)
    before = hasher.verifications
    assert auth.authenticate("alice", Secret("pw-1")) is not None
    assert auth.authenticate("alice", Secret("pw-1")) is not None
    assert auth.authenticate("Alice", Secret("pw-1")) is not None
    assert hasher.verifications - before == 1


def test_wrong_password_is_never_cached(hasher: CountingHasher) -> None:
    _, auth = make(hasher, Clock())
    before = hasher.verifications
    for _ in range(3):
        assert auth.authenticate("alice", Secret("wrong")) is None
    assert hasher.verifications - before == 3


def test_entries_expire(hasher: CountingHasher) -> None:
    clock = Clock()
    _, auth = make(hasher, clock, ttl_seconds=30)
    auth.authenticate("alice", Secret("pw-1"))
    before = hasher.verifications
    clock.now += 29
    auth.authenticate("alice", Secret("pw-1"))
    assert hasher.verifications == before
    clock.now += 2
    auth.authenticate("alice", Secret("pw-1"))
    assert hasher.verifications == before + 1


def test_new_password_disable_and_delete_take_effect_at_once(hasher: CountingHasher) -> None:
    store, auth = make(hasher, Clock())
    assert auth.authenticate("alice", Secret("pw-1")) is not None
    store.set_password_hash("alice", hasher.hash(Secret("pw-2")))
    assert auth.authenticate("alice", Secret("pw-1")) is None
    assert auth.authenticate("alice", Secret("pw-2")) is not None
    store.set_user_enabled("alice", False)
    assert auth.authenticate("alice", Secret("pw-2")) is None
    store.set_user_enabled("alice", True)
    assert auth.authenticate("alice", Secret("pw-2")) is not None
    store.delete_user("alice")
    assert auth.authenticate("alice", Secret("pw-2")) is None
    store.create_user("alice", hasher.hash(Secret("pw-3")))
    assert auth.authenticate("alice", Secret("pw-2")) is None


def test_change_through_another_store_instance(tmp_path: Path, hasher: CountingHasher) -> None:
    """Two backends on one database stand for two processes: no shared memory."""
    url = f"sqlite:///{tmp_path}/dockit.db"
    with SqlBackend(url) as one, SqlBackend(url) as other:
        one.migrate()
        one.create_user("alice", hasher.hash(Secret("pw-1")))
        auth = LocalAuthenticator(one, hasher, verified=VerifiedCredentials())
        assert auth.authenticate("alice", Secret("pw-1")) is not None
        other.set_password_hash("alice", hasher.hash(Secret("pw-2")))
        assert auth.authenticate("alice", Secret("pw-1")) is None
        other.set_user_enabled("alice", False)
        assert auth.authenticate("alice", Secret("pw-2")) is None
        other.set_user_enabled("alice", True)
        assert auth.authenticate("alice", Secret("pw-2")) is not None
        other.delete_user("alice")
        assert auth.authenticate("alice", Secret("pw-2")) is None


def test_bounded_and_keyed() -> None:
    cache = VerifiedCredentials(max_entries=3)
    for number in range(5):
        cache.remember(f"u{number}", "$argon2id$hash", Secret(f"password-{number}"))
    assert len(cache) == 3
    assert not cache.matches("u0", "$argon2id$hash", Secret("password-0"))
    assert cache.matches("u4", "$argon2id$hash", Secret("password-4"))
    assert not cache.matches("u4", "$argon2id$other", Secret("password-4"))
    assert not cache.matches("u3", "$argon2id$hash", Secret("password-4"))
    stored = b"".join(cache._entries)  # the keys are MACs, never the password
    assert b"password-4" not in stored
    other = VerifiedCredentials()
    other.remember("u4", "$argon2id$hash", Secret("password-4"))
    assert set(other._entries).isdisjoint(cache._entries)  # per-process key


@pytest.mark.parametrize(("ttl", "size"), [(0, 10), (10, 0), (-1, 10)])
def test_bad_settings(ttl: float, size: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        VerifiedCredentials(ttl_seconds=ttl, max_entries=size)
