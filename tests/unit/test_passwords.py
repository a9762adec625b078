from __future__ import annotations

import pytest
from argon2 import PasswordHasher as Argon2Hasher

from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import ConfigError, ValidationError
from libdockit.passwords import HashParameters, PasswordHasher
from libdockit.secret import Secret


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher()


def test_hash_is_argon2id_with_owasp_parameters(hasher: PasswordHasher) -> None:
    encoded = hasher.hash(Secret("s3cret"))
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "s3cret" not in encoded


def test_verify(hasher: PasswordHasher) -> None:
    encoded = hasher.hash(Secret("s3cret"))
    assert hasher.verify(encoded, Secret("s3cret")).ok
    assert not hasher.verify(encoded, Secret("s3cret ")).ok
    assert not hasher.verify(encoded, Secret("")).ok
    assert not hasher.verify("not-a-hash", Secret("s3cret")).ok
    assert not hasher.verify(encoded, Secret("\ud800")).ok


def test_weaker_hash_is_rehashed_on_verify(hasher: PasswordHasher) -> None:
    weak = Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    result = hasher.verify(weak, Secret("pw"))
    assert result.ok
    assert result.new_hash is not None
    assert result.new_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize("bad", ["", "a\x00b", "x" * 1025, "lone \ud800 surrogate"])
def test_unacceptable_passwords(hasher: PasswordHasher, bad: str) -> None:
    with pytest.raises(ValidationError):
        hasher.hash(Secret(bad))


def test_parameters_below_owasp_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"passwords\.memory_kib"):
        PasswordHasher(HashParameters(memory_kib=1024))
    with pytest.raises(ConfigError, match=r"passwords\.time_cost"):
        PasswordHasher(HashParameters(time_cost=1))


def test_secret_never_shows_itself() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret == Secret("hunter2")
    assert secret != Secret("hunter3")


def test_local_authenticator(hasher: PasswordHasher) -> None:
    store = MemoryBackend()
    store.create_user("alice", hasher.hash(Secret("pw")))
    store.create_user("off", hasher.hash(Secret("pw")), enabled=False)
    store.create_group("devs")
    store.create_group("old", enabled=False)
    store.add_member("devs", "alice")
    store.add_member("old", "alice")
    auth = LocalAuthenticator(store, hasher)
    identity = auth.authenticate("Alice", Secret("pw"))
    assert identity is not None
    assert identity.username == "alice"
    assert identity.groups == ("devs",)
    assert auth.authenticate("alice", Secret("wrong")) is None
    assert auth.authenticate("nobody", Secret("pw")) is None
    assert auth.authenticate("off", Secret("pw")) is None
    assert auth.authenticate("a*", Secret("pw")) is None
    assert auth.authenticate("alice", Secret("")) is None


def test_local_authenticator_upgrades_weak_hashes(hasher: PasswordHasher) -> None:
    store = MemoryBackend()
    store.create_user("alice", Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw"))
    assert LocalAuthenticator(store, hasher).authenticate("alice", Secret("pw")) is not None
    found = store.get_credentials("alice")
    assert found is not None
    assert found[1].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
