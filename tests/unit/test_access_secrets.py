"""Robot and personal-access-token secrets: shape, randomness, hash."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from libdockit.access_secrets import (
    CREDENTIAL_PREFIX,
    credential_secret_hash,
    looks_like_credential_secret,
    new_credential_id,
    new_credential_secret,
)
from libdockit.secret import Secret


def test_a_secret_has_the_prefix_and_256_random_bits() -> None:
    secret = new_credential_secret()
    value = secret.reveal()
    assert value.startswith(CREDENTIAL_PREFIX)
    assert len(value) == len(CREDENTIAL_PREFIX) + 43  # 32 bytes in unpadded base64url
    assert looks_like_credential_secret(secret)
    assert "dkt_" not in repr(secret)


def test_secrets_and_ids_do_not_repeat() -> None:
    secrets = {new_credential_secret().reveal() for _ in range(200)}
    ids = {new_credential_id() for _ in range(200)}
    assert len(secrets) == 200
    assert len(ids) == 200
    assert not any(i.startswith(CREDENTIAL_PREFIX) for i in ids)


def test_passwords_do_not_look_like_secrets() -> None:
    value = new_credential_secret().reveal()
    for candidate in (
        "hunter2",
        value[len(CREDENTIAL_PREFIX) :],  # no prefix
        value + "x",  # too long
        value[:-1],  # too short
        "DKT_" + value[len(CREDENTIAL_PREFIX) :],  # the prefix is exact
        value[:-1] + "=",  # not base64url
        value + "\n",
    ):
        assert not looks_like_credential_secret(Secret(candidate)), candidate


def test_the_stored_hash_is_hex_sha256_of_the_whole_secret() -> None:
    secret = new_credential_secret()
    expected = hashlib.sha256(secret.reveal().encode()).hexdigest()
    assert credential_secret_hash(secret) == expected
    assert credential_secret_hash(Secret(secret.reveal())) == expected
    assert credential_secret_hash(new_credential_secret()) != expected


def test_an_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """``dockit token revoke -AbC…`` would be read as an option: such ids are drawn again."""
    drawn = iter(["-OOP9B38Jtel", "--x0000000000", "QOP9B38Jtel0"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda size: next(drawn))
    assert new_credential_id() == "QOP9B38Jtel0"
