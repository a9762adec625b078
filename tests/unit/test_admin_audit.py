"""Changes made through the library's AdminService and KeyManager are in the audit log, with
who made them, whoever calls (no HTTP here): an app embedding the library, on a real SQLite
store, read back through a second connection to the same file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from libdockit.admin import AdminService
from libdockit.audit import Actor, Auditor, RequestInfo
from libdockit.backends.sql.backend import SqlBackend
from libdockit.errors import Conflict, NotFound, ValidationError
from libdockit.keys.manager import KeyManager
from libdockit.keys.ring import ensure_active_key
from libdockit.model import AuditEvent, RefreshToken
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret

APP = Actor.system("my-app")
PASSWORD = "first-secret-pw"
NEW_PASSWORD = "second-secret-pw"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dockit.db'}"


@pytest.fixture
def store(url: str) -> Iterator[SqlBackend]:
    backend = SqlBackend(url)
    backend.migrate()
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def admin(store: SqlBackend) -> AdminService:
    return AdminService(store, store, PasswordHasher(), audit=Auditor(store))


def recorded(url: str) -> list[AuditEvent]:
    """The admin events in the database, oldest first, read as another process would."""
    reader = SqlBackend(url)
    try:
        return list(reversed(reader.query_events(kind="admin", limit=1000).items))
    finally:
        reader.close()


def test_user_changes_are_recorded_with_their_actor(admin: AdminService, url: str) -> None:
    by_alice = Actor.user("Alice", RequestInfo(client_address="192.0.2.7", request_id="r-1"))
    admin.create_user("bob", Secret(PASSWORD), actor=APP)
    admin.update_user("bob", enabled=False, actor=by_alice)
    admin.set_password("bob", Secret(NEW_PASSWORD), actor=APP)
    admin.delete_user("bob", actor=APP)
    create, update, password, delete = recorded(url)
    assert [(e.actor, e.action, e.target) for e in (create, update, password, delete)] == [
        ("system:my-app", "user.create", "user:bob"),
        ("user:alice", "user.update", "user:bob"),
        ("system:my-app", "user.password", "user:bob"),
        ("system:my-app", "user.delete", "user:bob"),
    ]
    assert create.before is None
    assert create.after is not None
    assert (create.after["username"], create.after["enabled"]) == ("bob", True)
    assert update.before is not None
    assert update.after is not None
    assert (update.before["enabled"], update.after["enabled"]) == (True, False)
    assert (update.client_address, update.request_id) == ("192.0.2.7", "r-1")
    assert (password.before, password.after) == (None, None)
    assert delete.before is not None
    assert (delete.before["username"], delete.after) == ("bob", None)
    text = json.dumps([(e.before, e.after, e.detail) for e in recorded(url)])
    assert PASSWORD not in text
    assert NEW_PASSWORD not in text
    assert "argon2" not in text  # no hash either


def test_group_and_grant_changes_are_recorded(admin: AdminService, url: str) -> None:
    admin.create_user("carol", Secret(PASSWORD), actor=APP)
    admin.create_group("devs", actor=APP)
    admin.add_member("DEVS", "Carol", actor=APP)
    admin.set_group_enabled("devs", False, actor=APP)
    added = admin.add_grant_from_scope("group:devs", "repository:devs/*:pull", actor=APP)
    admin.delete_grant(added.grant.id or 0, actor=APP)
    admin.remove_member("devs", "carol", actor=APP)
    admin.delete_group("devs", actor=APP)
    events = recorded(url)[1:]
    assert [(e.action, e.target) for e in events] == [
        ("group.create", "group:devs"),
        ("group.member.add", "group:devs"),
        ("group.update", "group:devs"),
        ("grant.create", f"grant:{added.grant.id}"),
        ("grant.delete", f"grant:{added.grant.id}"),
        ("group.member.remove", "group:devs"),
        ("group.delete", "group:devs"),
    ]
    member_add, update, grant_create, grant_delete = events[1:5]
    assert member_add.before is not None
    assert member_add.after is not None
    assert (member_add.before["members"], member_add.after["members"]) == ([], ["carol"])
    assert update.after is not None
    assert update.after["enabled"] is False
    assert grant_create.after is not None
    assert grant_create.after["scope"] == "repository:devs/*:pull"
    assert grant_delete.before == grant_create.after
    assert grant_delete.after is None


def test_refresh_token_revocations_are_recorded(
    admin: AdminService, store: SqlBackend, url: str
) -> None:
    admin.create_user("dave", Secret(PASSWORD), actor=APP)
    now = datetime.now(UTC)
    for token_id in ("t1", "t2"):
        store.add_refresh_token(RefreshToken(token_id, token_id * 32, "dave", "reg", None, now))
    admin.revoke_refresh_token("t1", actor=APP)
    assert admin.revoke_user_refresh_tokens("dave", actor=APP) == 1
    one, every = recorded(url)[1:]
    assert (one.action, one.target, one.before, one.after) == (
        "refresh_token.revoke",
        "refresh_token:t1",
        None,
        None,
    )
    assert (every.action, every.target) == ("user.refresh_tokens.revoke", "user:dave")
    assert every.after == {"username": "dave", "revoked": 1}
    assert "t2" * 32 not in json.dumps([every.before, every.after])


def test_key_changes_are_recorded(store: SqlBackend, url: str) -> None:
    old = ensure_active_key(store, now=datetime.now(UTC))
    keys = KeyManager(store, audit=Auditor(store))
    pending = keys.create_key(actor=APP)
    keys.activate_key(pending.kid, actor=APP)
    keys.retire_key(old.kid, actor=APP)
    create, activate, retire = recorded(url)
    assert [(e.action, e.target) for e in (create, activate, retire)] == [
        ("key.create", f"key:{pending.kid}"),
        ("key.activate", f"key:{pending.kid}"),
        ("key.retire", f"key:{old.kid}"),
    ]
    assert activate.before is not None
    assert activate.after is not None
    assert (activate.before["state"], activate.after["state"]) == ("pending", "active")
    assert retire.before is not None
    assert retire.after is not None
    assert (retire.before["state"], retire.after["state"]) == ("retired", "retired")
    assert "PRIVATE KEY" not in json.dumps([(e.before, e.after) for e in recorded(url)])


def test_refused_changes_are_not_recorded(admin: AdminService, store: SqlBackend, url: str) -> None:
    admin.create_user("erin", Secret(PASSWORD), actor=APP)
    with pytest.raises(Conflict):
        admin.create_user("erin", Secret(PASSWORD), actor=APP)
    with pytest.raises(ValidationError):
        admin.set_password("erin", Secret("short"), actor=APP)
    with pytest.raises(NotFound):
        admin.delete_user("nobody", actor=APP)
    with pytest.raises(NotFound):
        admin.add_member("nogroup", "erin", actor=APP)
    with pytest.raises(NotFound):
        admin.revoke_user_refresh_tokens("nobody", actor=APP)
    with pytest.raises(NotFound):
        KeyManager(store, audit=Auditor(store)).activate_key("no-such-kid", actor=APP)
    assert [e.action for e in recorded(url)] == ["user.create"]


def test_without_an_audit_log_nothing_is_recorded(store: SqlBackend, url: str) -> None:
    AdminService(store, store, PasswordHasher()).create_user("frank", Secret(PASSWORD), actor=APP)
    assert store.get_user("frank").username == "frank"
    assert recorded(url) == []
