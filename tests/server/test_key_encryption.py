"""keys.encryption_secret and the other key settings, through prepare() on a real SQLite file
and through the real ``dockit api-server`` refusing to start."""

from __future__ import annotations

import logging
import stat
from datetime import timedelta
from pathlib import Path

import falcon.testing
import pytest

from dockit_server.app import create_app
from dockit_server.bootstrap import build_components, open_store, prepare
from dockit_server.config import Settings
from dockit_server.keysetup import retired_grace
from libdockit.audit import Actor
from libdockit.errors import ConfigError
from libdockit.model import StoredKey
from libdockit.secret import Secret
from libdockit.testing.pki import issue_leaf, make_ca, make_chain
from tests.support.dockit import base_env, basic_auth, run_dockit

TEST_ACTOR = Actor.system("tests")

SECRET = "s3cret-key-encryption-for-tests"
WRONG = "not-the-secret-the-keys-have-yet"
SEALED = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
PLAIN = b"-----BEGIN PRIVATE KEY-----"


def settings_for(tmp_path: Path, **env: str) -> Settings:
    return Settings.load(
        {
            "DOCKIT_DATABASE_URL": f"sqlite:///{tmp_path}/dockit.db",
            "DOCKIT_ADMIN_PASSWORD": "admin-pw",
            **env,
        }
    )


def stored_keys(settings: Settings) -> list[StoredKey]:
    store = open_store(settings)
    try:
        return store.list_keys()
    finally:
        store.close()


def no_material(text: str) -> None:
    assert "PRIVATE KEY" not in text
    assert SECRET not in text
    assert WRONG not in text


def test_keys_are_stored_encrypted_and_sign(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, DOCKIT_KEY_ENCRYPTION_SECRET=SECRET)
    prepare(settings)
    (stored,) = stored_keys(settings)
    assert stored.private_key_pem.startswith(SEALED)
    components = build_components(settings)
    assert components.tokens.keys.active().kid == stored.kid
    # Keys the Admin API creates are sealed too.
    created = components.key_manager.create_key(actor=TEST_ACTOR)
    assert created.private_key_pem.startswith(SEALED)
    client = falcon.testing.TestClient(create_app(components))
    admin = {"Authorization": basic_auth(("admin", "admin-pw"))}
    answer = client.simulate_get("/v2/token", query_string="service=s", headers=admin)
    assert answer.status_code == 200, answer.text
    listing = client.simulate_get("/api/v1/keys", headers=admin)
    assert listing.status_code == 200
    no_material(listing.text)
    assert {item["kid"] for item in listing.json["items"]} == {stored.kid, created.kid}


def test_start_up_encrypts_plaintext_keys_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = settings_for(tmp_path)
    prepare(plain)
    components = build_components(plain)
    pending = components.key_manager.create_key(actor=TEST_ACTOR)
    before = stored_keys(plain)
    assert all(k.private_key_pem.startswith(PLAIN) for k in before)

    secured = settings_for(tmp_path, DOCKIT_KEY_ENCRYPTION_SECRET=SECRET)
    with caplog.at_level(logging.INFO):
        prepare(secured)
    after = stored_keys(secured)
    assert [(k.kid, k.state) for k in after] == [(k.kid, k.state) for k in before]
    assert all(k.private_key_pem.startswith(SEALED) for k in after)
    assert "encrypted 2 stored private key(s)" in caplog.text
    no_material(caplog.text)
    ring = build_components(secured).tokens.keys
    assert ring.active().kid == before[0].kid
    assert pending.kid in {k.kid for k in ring.published()}
    prepare(secured)  # again: nothing left to encrypt
    assert [k.private_key_pem for k in stored_keys(secured)] == [k.private_key_pem for k in after]


@pytest.mark.parametrize("secret", [WRONG, None])
def test_a_wrong_or_missing_secret_stops_start_up(tmp_path: Path, secret: str | None) -> None:
    prepare(settings_for(tmp_path, DOCKIT_KEY_ENCRYPTION_SECRET=SECRET))
    env = {"DOCKIT_KEY_ENCRYPTION_SECRET": secret} if secret is not None else {}
    with pytest.raises(ConfigError) as caught:
        prepare(settings_for(tmp_path, **env))
    assert caught.value.key == "keys.encryption_secret"
    assert "stored key" in caught.value.message
    if secret is None:
        assert "no key-encryption secret is set" in caught.value.message
        assert "DOCKIT_KEY_ENCRYPTION_SECRET_FILE" in caught.value.message
    else:
        assert "cannot be decrypted" in caught.value.message
    no_material(str(caught.value))


def test_api_server_exits_non_zero_on_a_wrong_secret(tmp_path: Path) -> None:
    prepare(settings_for(tmp_path, DOCKIT_KEY_ENCRYPTION_SECRET=SECRET))
    secret_file = tmp_path / "kek"
    secret_file.write_text(WRONG + "\n")
    env = base_env(tmp_path) | {
        "DOCKIT_DATABASE_URL": f"sqlite:///{tmp_path}/dockit.db",
        "DOCKIT_KEY_ENCRYPTION_SECRET_FILE": str(secret_file),
    }
    result = run_dockit(["api-server", "--bind", "127.0.0.1:1"], env=env, cwd=tmp_path)
    assert result.returncode == 2, result
    assert "keys.encryption_secret" in result.stderr
    assert "cannot be decrypted" in result.stderr
    no_material(result.stdout + result.stderr)


def test_secret_from_a_file_in_toml(tmp_path: Path) -> None:
    secret_file = tmp_path / "kek"
    secret_file.write_text(SECRET + "\n")
    config = tmp_path / "dockit.toml"
    config.write_text(
        f'[keys]\nencryption_secret_file = "{secret_file}"\nexpiry_warning_days = 7\n'
        "retired_grace_seconds = 120\n"
    )
    settings = settings_for(tmp_path, DOCKIT_CONFIG=str(config))
    assert settings.keys_encryption_secret == Secret(SECRET)
    assert settings.keys_expiry_warning_days == 7
    assert settings.keys_retired_grace_seconds == 120
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"DOCKIT_KEY_ENCRYPTION_SECRET": "too-short"}, "keys.encryption_secret"),
        ({"DOCKIT_KEY_RETIRED_GRACE_SECONDS": "5"}, "keys.retired_grace_seconds"),
        ({"DOCKIT_KEY_EXPIRY_WARNING_DAYS": "-1"}, "keys.expiry_warning_days"),
    ],
)
def test_bad_key_settings(tmp_path: Path, env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(tmp_path, **env)
    assert caught.value.key == key
    assert "too-short" not in caught.value.message


def test_retired_grace(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert retired_grace(settings_for(tmp_path, DOCKIT_TOKEN_LIFETIME="600")) == timedelta(
        seconds=3660  # a robot's or personal token's access token may live an hour
    )
    short = settings_for(
        tmp_path, DOCKIT_TOKEN_LIFETIME="600", DOCKIT_MAX_CREDENTIAL_TOKEN_LIFETIME="120"
    )
    assert retired_grace(short) == timedelta(seconds=660)
    longer = settings_for(tmp_path, DOCKIT_KEY_RETIRED_GRACE_SECONDS="7200")
    with caplog.at_level(logging.WARNING):
        assert retired_grace(longer) == timedelta(seconds=7200)
    assert caplog.text == ""
    shorter = settings_for(
        tmp_path, DOCKIT_TOKEN_LIFETIME="3600", DOCKIT_KEY_RETIRED_GRACE_SECONDS="10"
    )
    with caplog.at_level(logging.WARNING):
        assert retired_grace(shorter) == timedelta(seconds=10)
    assert "refused before they expire" in caplog.text


def test_a_new_database_file_is_private(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    prepare(settings)
    database = tmp_path / "dockit.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    for extra in (tmp_path / "dockit.db-wal", tmp_path / "dockit.db-shm"):
        if extra.exists():
            assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0


def test_an_open_database_file_is_repaired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "dockit.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        prepare(settings_for(tmp_path))
    assert "made it 0600" in caplog.text
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_key_files_with_a_secret(tmp_path: Path) -> None:
    leaf = make_chain(depth=2)
    (tmp_path / "key.pem").write_bytes(leaf.key_pem())
    (tmp_path / "chain.pem").write_bytes(leaf.chain_pem(include_root=False))
    settings = settings_for(
        tmp_path,
        DOCKIT_KEY_FILE=str(tmp_path / "key.pem"),
        DOCKIT_CERT_FILE=str(tmp_path / "chain.pem"),
        DOCKIT_KEY_ENCRYPTION_SECRET=SECRET,
    )
    prepare(settings)
    (stored,) = stored_keys(settings)
    assert stored.private_key_pem.startswith(SEALED)
    assert build_components(settings).tokens.keys.active().chain[0] == leaf.certificate


def test_key_files_are_watched_by_the_server(tmp_path: Path) -> None:
    issuing = make_ca("Issuing CA", issuer=make_ca())
    first = issue_leaf(issuing)
    key_file, cert_file = tmp_path / "key.pem", tmp_path / "chain.pem"
    key_file.write_bytes(first.key_pem())
    cert_file.write_bytes(first.chain_pem(include_root=False))
    settings = settings_for(
        tmp_path, DOCKIT_KEY_FILE=str(key_file), DOCKIT_CERT_FILE=str(cert_file)
    )
    prepare(settings)
    ring = build_components(settings).tokens.keys
    assert ring.active().chain[0] == first.certificate
    renewed = issue_leaf(issuing)
    key_file.write_bytes(renewed.key_pem())
    cert_file.write_bytes(renewed.chain_pem(include_root=False))
    ring.refresh()  # what the refresh interval does (tests/unit/test_keyfiles.py)
    assert ring.active().chain[0] == renewed.certificate
    assert [k.state for k in stored_keys(settings)] == ["retired", "active"]
