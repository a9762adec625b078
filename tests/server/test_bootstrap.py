"""prepare(): schema, signing key and first admin on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockit_server.bootstrap import build_components, open_store, prepare
from dockit_server.config import Settings
from libdockit.errors import ConfigError
from libdockit.keys.bundle import parse_bundle
from libdockit.secret import Secret
from libdockit.testing.pki import make_chain


def settings_for(tmp_path: Path, **env: str) -> Settings:
    return Settings.load({"DOCKIT_DATABASE_URL": f"sqlite:///{tmp_path}/dockit.db", **env})


def test_first_start_creates_key_and_admin_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    first = prepare(settings)
    assert first is not None
    assert first.username == "admin"
    assert first.generated_password is not None
    assert len(first.generated_password.reveal()) >= 20
    components = build_components(settings)
    admin = components.tokens.authenticate_admin("admin", first.generated_password)
    assert admin.is_admin
    kid = components.tokens.keys.active().kid
    assert prepare(settings) is None  # no second admin, no second password
    again = build_components(settings)
    assert again.tokens.keys.active().kid == kid
    assert again.admin.list_users().total == 1


def test_admin_password_from_settings(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path, DOCKIT_ADMIN_PASSWORD="pw-from-env", DOCKIT_ADMIN_USERNAME="Root"
    )
    first = prepare(settings)
    assert first is not None
    assert first.generated_password is None
    identity = build_components(settings).tokens.authenticate_admin("root", Secret("pw-from-env"))
    assert identity.username == "root"


def test_rs256_when_asked(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, DOCKIT_KEY_ALGORITHM="RS256")
    prepare(settings)
    assert build_components(settings).tokens.keys.active().algorithm == "RS256"


def test_key_and_chain_from_files(tmp_path: Path) -> None:
    leaf = make_chain(depth=3)
    (tmp_path / "key.pem").write_bytes(leaf.key_pem())
    (tmp_path / "chain.pem").write_bytes(leaf.chain_pem(include_root=False))
    env = {
        "DOCKIT_KEY_FILE": str(tmp_path / "key.pem"),
        "DOCKIT_CERT_FILE": str(tmp_path / "chain.pem"),
    }
    settings = settings_for(tmp_path, **env)
    prepare(settings)
    prepare(settings)  # idempotent
    keys = build_components(settings).tokens.keys
    active = keys.active()
    assert active.chain[0] == leaf.chain[0]
    bundle = parse_bundle(keys.bundle_pem())
    assert leaf.chain[0] in bundle
    assert leaf.chain[-2] in bundle  # the top of the chain we were given
    store = open_store(settings)
    try:
        assert [k.state for k in store.list_keys()] == ["active"]
    finally:
        store.close()


def test_key_files_replace_a_generated_key(tmp_path: Path) -> None:
    prepare(settings_for(tmp_path))
    leaf = make_chain(depth=2)
    (tmp_path / "key.pem").write_bytes(leaf.key_pem())
    (tmp_path / "chain.pem").write_bytes(leaf.chain_pem())
    settings = settings_for(
        tmp_path,
        DOCKIT_KEY_FILE=str(tmp_path / "key.pem"),
        DOCKIT_CERT_FILE=str(tmp_path / "chain.pem"),
    )
    prepare(settings)
    store = open_store(settings)
    try:
        states = sorted(k.state for k in store.list_keys())
    finally:
        store.close()
    assert states == ["active", "retired"]
    assert build_components(settings).tokens.keys.active().chain[0] == leaf.chain[0]


@pytest.mark.parametrize(
    ("problem", "key_name"),
    [("missing", "keys.key_file"), ("mismatch", "keys.key_file"), ("expired", "keys.cert_file")],
)
def test_bad_key_files_stop_start_up(tmp_path: Path, problem: str, key_name: str) -> None:
    now = datetime.now(UTC)
    if problem == "expired":
        leaf = make_chain(depth=2, now=now - timedelta(days=10), leaf_validity=timedelta(days=1))
    else:
        leaf = make_chain(depth=2)
    other = make_chain(depth=2)
    if problem != "missing":
        (tmp_path / "key.pem").write_bytes(
            other.key_pem() if problem == "mismatch" else leaf.key_pem()
        )
    (tmp_path / "chain.pem").write_bytes(leaf.chain_pem())
    settings = settings_for(
        tmp_path,
        DOCKIT_KEY_FILE=str(tmp_path / "key.pem"),
        DOCKIT_CERT_FILE=str(tmp_path / "chain.pem"),
    )
    with pytest.raises(ConfigError) as caught:
        prepare(settings)
    assert caught.value.key == key_name
    assert "PRIVATE KEY" not in caught.value.message


def test_the_first_admin_is_in_the_audit_log(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, DOCKIT_ADMIN_PASSWORD="first-admin-pw")
    assert prepare(settings) is not None
    assert prepare(settings) is None  # a second start changes nothing, records nothing
    store = open_store(settings)
    try:
        events = store.query_events(kind="admin").items
    finally:
        store.close()
    assert [(e.actor, e.action, e.target) for e in events] == [
        ("system:startup", "user.create", "user:admin")
    ]
    assert events[0].after is not None
    assert (events[0].after["username"], events[0].after["admin"]) == ("admin", True)
    assert "first-admin-pw" not in repr(events)
