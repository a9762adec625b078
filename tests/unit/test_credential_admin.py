"""Managing robot accounts and personal access tokens through the library (no HTTP): on a
real SQLite store, with the audit log read back from it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from libdockit.access_secrets import credential_secret_hash, looks_like_credential_secret
from libdockit.admin import AdminService
from libdockit.audit import Actor, Auditor
from libdockit.backends.sql.backend import SqlBackend
from libdockit.credential_admin import CredentialAdmin, CredentialLimits
from libdockit.errors import Conflict, NotFound, ValidationError
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
APP = Actor.system("test")
ALICE = Actor.user("alice")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlBackend]:
    backend = SqlBackend(f"sqlite:///{tmp_path / 'dockit.db'}")
    backend.migrate()
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def auditor(store: SqlBackend) -> Auditor:
    return Auditor(store)


@pytest.fixture
def admin(store: SqlBackend, auditor: Auditor) -> AdminService:
    service = AdminService(store, store, PasswordHasher(), audit=auditor)
    service.create_user("alice", Secret("alice-password-1"), actor=APP)
    service.create_group("devs", actor=APP)
    return service


@pytest.fixture
def credentials(store: SqlBackend, auditor: Auditor, admin: AdminService) -> CredentialAdmin:
    return CredentialAdmin(store, audit=auditor, clock=lambda: NOW)


def events(store: SqlBackend, action_prefix: str) -> list[dict[str, object]]:
    found = store.query_events(kind="admin", limit=1000).items
    return [
        {"action": e.action, "target": e.target, "before": e.before, "after": e.after}
        for e in reversed(found)
        if e.action.startswith(action_prefix)
    ]


def test_robot_life_cycle_is_audited_without_secrets(
    credentials: CredentialAdmin, store: SqlBackend
) -> None:
    robot, secret = credentials.create_robot(
        "CI", "group:devs", actor=APP, expires=timedelta(days=30)
    )
    assert robot.name == "ci"
    assert robot.owner == "group:devs"
    assert robot.expires_at == NOW + timedelta(days=30)
    assert looks_like_credential_secret(secret)
    assert store.find_access_credential(credential_secret_hash(secret)) == robot
    rotated, new_secret = credentials.rotate_robot_secret("ci", actor=APP)
    assert store.find_access_credential(credential_secret_hash(secret)) is None
    assert store.find_access_credential(credential_secret_hash(new_secret)) == rotated
    assert rotated.expires_at == robot.expires_at  # kept
    assert credentials.set_robot_enabled("ci", False, actor=APP).enabled is False
    credentials.delete_robot("ci", actor=APP)
    with pytest.raises(NotFound):
        credentials.get_robot("ci")
    recorded = events(store, "robot.")
    assert [(e["action"], e["target"]) for e in recorded] == [
        ("robot.create", "robot:ci"),
        ("robot.rotate", "robot:ci"),
        ("robot.update", "robot:ci"),
        ("robot.delete", "robot:ci"),
    ]
    text = json.dumps(recorded)
    for value in (secret.reveal(), new_secret.reveal(), robot.secret_hash, rotated.secret_hash):
        assert value not in text
    assert "secret_hash" not in text
    assert recorded[2]["before"]["enabled"] is True  # type: ignore[index]
    assert recorded[2]["after"]["enabled"] is False  # type: ignore[index]


def test_a_robot_needs_an_expiry_within_the_cap(credentials: CredentialAdmin) -> None:
    with pytest.raises(ValidationError, match="needs an expiry"):
        credentials.create_robot("ci", "user:alice", actor=APP)
    with pytest.raises(ValidationError, match="at most 365 days") as refused:
        credentials.create_robot("ci", "user:alice", actor=APP, expires=timedelta(days=366))
    assert refused.value.field == "expires_in"
    with pytest.raises(ValidationError, match="must expire here"):
        credentials.create_robot("ci", "user:alice", actor=APP, never=True)
    with pytest.raises(ValidationError, match="in the future"):
        credentials.create_robot("ci", "user:alice", actor=APP, expires=NOW)
    with pytest.raises(ValidationError, match="1 to 3600 seconds"):  # the login path's cap
        credentials.create_robot(
            "ci",
            "user:alice",
            actor=APP,
            expires=NOW + timedelta(days=1),
            access_token_lifetime=timedelta(seconds=3601),
        )
    assert credentials.list_robots().total == 0
    at_cap = credentials.create_robot(
        "ci",
        "user:alice",
        actor=APP,
        expires=timedelta(days=365),
        access_token_lifetime=timedelta(hours=1),
    )
    assert at_cap[0].expires_at == NOW + timedelta(days=365)
    assert at_cap[0].access_token_lifetime == timedelta(hours=1)


def test_never_is_allowed_without_a_cap(store: SqlBackend, admin: AdminService) -> None:
    uncapped = CredentialAdmin(
        store, limits=CredentialLimits(robot_max_lifetime=None), clock=lambda: NOW
    )
    robot, _ = uncapped.create_robot("ci", "user:alice", actor=APP, never=True)
    assert robot.expires_at is None
    with pytest.raises(ValidationError, match="not both"):
        uncapped.create_robot("ci2", "user:alice", actor=APP, never=True, expires=NOW)


def test_robots_and_users_never_share_a_name(
    credentials: CredentialAdmin, admin: AdminService
) -> None:
    with pytest.raises(Conflict, match="local user is named 'alice'"):
        credentials.create_robot("alice", "user:alice", actor=APP, expires=timedelta(days=1))
    credentials.create_robot("builder", "user:alice", actor=APP, expires=timedelta(days=1))
    with pytest.raises(Conflict, match="robot account is named 'builder'"):
        admin.create_user("Builder", Secret("builder-password-1"), actor=APP)
    with pytest.raises(Conflict, match="robot 'builder' exists"):
        credentials.create_robot("builder", "user:alice", actor=APP, expires=timedelta(days=1))


def test_a_robot_owner_must_exist_unless_a_directory_vouches(
    credentials: CredentialAdmin, store: SqlBackend
) -> None:
    with pytest.raises(NotFound, match="owner user:nobody not found"):
        credentials.create_robot("ci", "user:nobody", actor=APP, expires=timedelta(days=1))
    with pytest.raises(ValidationError, match="user:NAME or group:NAME"):
        credentials.create_robot("ci", "authenticated", actor=APP, expires=timedelta(days=1))
    ldap = CredentialAdmin(store, directory="LDAP", clock=lambda: NOW)
    robot, _ = ldap.create_robot("ci", "group:ops", actor=APP, expires=timedelta(days=1))
    assert robot.owner_source == "ldap"


def test_rotating_an_expired_robot_needs_a_new_expiry(
    credentials: CredentialAdmin, store: SqlBackend
) -> None:
    credentials.create_robot("ci", "user:alice", actor=APP, expires=timedelta(days=1))
    later = CredentialAdmin(store, clock=lambda: NOW + timedelta(days=2))
    with pytest.raises(ValidationError, match="has expired"):
        later.rotate_robot_secret("ci", actor=APP)
    rotated, _ = later.rotate_robot_secret("ci", actor=APP, expires=timedelta(days=7))
    assert rotated.expires_at == NOW + timedelta(days=9)


def test_grants_to_a_missing_robot_are_refused(
    credentials: CredentialAdmin, admin: AdminService
) -> None:
    credentials.create_robot("builder", "user:alice", actor=APP, expires=timedelta(days=1))
    with pytest.raises(ValidationError, match=r"robot:buildr does not exist \(did you mean"):
        admin.add_grant_from_scope("robot:buildr", "repository:ci/*:push", actor=APP)
    added = admin.add_grant_from_scope("robot:builder", "repository:ci/*:push", actor=APP)
    assert added.grant.subject == "robot:builder"
    credentials.delete_robot("builder", actor=APP)
    assert admin.list_grants(subject="robot:builder").total == 0


def test_personal_tokens_belong_to_their_owner(
    credentials: CredentialAdmin, admin: AdminService, store: SqlBackend
) -> None:
    admin.create_user("bob", Secret("bob-password-12"), actor=APP)
    token, secret = credentials.create_token(
        "alice", "laptop", actor=ALICE, scopes=["repository:alice/**:pull"]
    )
    assert token.expires_at == NOW + timedelta(days=90)  # the longest allowed
    assert token.scopes == ("repository:alice/**:pull",)
    credentials.create_token("bob", "ci", actor=Actor.user("bob"), expires=timedelta(days=1))
    assert [t.name for t in credentials.list_tokens("alice").items] == ["laptop"]
    with pytest.raises(NotFound):
        credentials.revoke_token(token.id, actor=Actor.user("bob"), username="bob")
    assert credentials.get_token(token.id).id == token.id
    credentials.revoke_token(token.id, actor=ALICE, username="alice")
    assert store.find_access_credential(credential_secret_hash(secret)) is None
    with pytest.raises(ValidationError, match="at most 90 days"):
        credentials.create_token("alice", "x", actor=ALICE, expires=NOW + timedelta(days=91))
    with pytest.raises(ValidationError, match="scopes"):
        credentials.create_token("alice", "x", actor=ALICE, scopes=["repository:a"])
    recorded = events(store, "pat.")
    assert [e["action"] for e in recorded] == ["pat.create", "pat.create", "pat.revoke"]
    assert secret.reveal() not in json.dumps(recorded)
    assert token.secret_hash not in json.dumps(recorded)
