"""Users: create, read, list, update, delete."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from ...errors import Conflict, NotFound
from .support import AWKWARD_NAMES, STORED_HASH, ConformingBackend, in_threads, make_grant


class UserConformance:
    """Mixed into :class:`~libdockit.testing.conformance.BackendConformance`."""

    def test_create_user_returns_the_stored_user(self, backend: ConformingBackend) -> None:
        before = datetime.now(UTC)
        user = backend.create_user("alice", "hash-a")
        assert (user.username, user.enabled, user.is_admin, user.groups) == (
            "alice",
            True,
            False,
            (),
        )
        assert user.created_at is not None
        assert user.created_at.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=5) <= user.created_at <= datetime.now(UTC)
        assert user.updated_at == user.created_at
        assert backend.get_user("alice") == user

    def test_create_user_flags(self, backend: ConformingBackend) -> None:
        backend.create_user("root", "h", is_admin=True, enabled=False)
        user = backend.get_user("root")
        assert user.is_admin is True
        assert user.enabled is False

    def test_duplicate_user_is_conflict(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h1")
        with pytest.raises(Conflict):
            backend.create_user("alice", "h2")
        credentials = backend.get_credentials("alice")
        assert credentials is not None
        assert credentials[1] == "h1"

    def test_missing_user_is_not_found(self, backend: ConformingBackend) -> None:
        with pytest.raises(NotFound):
            backend.get_user("nobody")
        assert backend.get_credentials("nobody") is None

    def test_get_credentials(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", STORED_HASH)
        backend.create_group("devs")
        backend.add_member("devs", "alice")
        found = backend.get_credentials("alice")
        assert found is not None
        user, password_hash = found
        assert password_hash == STORED_HASH
        assert user == backend.get_user("alice")
        assert user.groups == ("devs",)

    def test_list_users_is_sorted_by_code_point_and_paged(self, backend: ConformingBackend) -> None:
        for name in AWKWARD_NAMES:
            backend.create_user(name, "h")
        expected = sorted(AWKWARD_NAMES)
        page = backend.list_users()
        assert [u.username for u in page.items] == expected
        assert page.total == len(AWKWARD_NAMES)
        collected = []
        for offset in range(0, len(expected), 3):
            chunk = backend.list_users(offset=offset, limit=3)
            assert chunk.total == len(expected)
            assert len(chunk.items) == min(3, len(expected) - offset)
            collected += [u.username for u in chunk.items]
        assert collected == expected
        beyond = backend.list_users(offset=len(expected), limit=10)
        assert (beyond.items, beyond.total) == ([], len(expected))
        assert backend.list_users(limit=0).items == []

    def test_list_users_empty_and_with_groups(self, backend: ConformingBackend) -> None:
        assert backend.list_users().items == []
        assert backend.list_users().total == 0
        backend.create_user("bob", "h")
        backend.create_user("alice", "h")
        backend.create_group("ops")
        backend.create_group("devs", enabled=False)
        backend.add_member("ops", "alice")
        backend.add_member("devs", "alice")
        users = backend.list_users().items
        assert [(u.username, u.groups) for u in users] == [("alice", ("devs", "ops")), ("bob", ())]
        assert users[0] == backend.get_user("alice")

    def test_set_password_hash(self, backend: ConformingBackend) -> None:
        created = backend.create_user("alice", "old")
        backend.set_password_hash("alice", "new")
        found = backend.get_credentials("alice")
        assert found is not None
        assert found[1] == "new"
        assert created.updated_at is not None
        after = backend.get_user("alice").updated_at
        assert after is not None
        assert after >= created.updated_at
        assert backend.get_user("alice").created_at == created.created_at
        with pytest.raises(NotFound):
            backend.set_password_hash("nobody", "x")

    def test_enable_disable_user(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h")
        disabled = backend.set_user_enabled("alice", False)
        assert disabled.enabled is False
        assert backend.get_user("alice").enabled is False
        enabled = backend.set_user_enabled("alice", True)
        assert enabled.enabled is True
        assert backend.get_user("alice") == enabled
        with pytest.raises(NotFound):
            backend.set_user_enabled("nobody", True)

    def test_admin_flag(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h")
        backend.create_group("devs")
        backend.add_member("devs", "alice")
        promoted = backend.set_user_admin("alice", True)
        assert promoted.is_admin is True
        assert promoted.groups == ("devs",)
        assert backend.get_user("alice").is_admin is True
        assert backend.set_user_admin("alice", False).is_admin is False
        with pytest.raises(NotFound):
            backend.set_user_admin("nobody", True)

    def test_delete_user_cascades(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h")
        backend.create_user("alicia", "h")
        backend.create_group("devs")
        backend.add_member("devs", "alice")
        backend.add_member("devs", "alicia")
        gone = backend.add_grant(make_grant("user:alice", "alice/*"))
        kept = [
            backend.add_grant(make_grant("user:alicia", "alice/*")),
            backend.add_grant(make_grant("group:devs", "devs/*")),
            backend.add_grant(make_grant("group:alice", "x/*")),
            backend.add_grant(make_grant("authenticated", "public/*", ("pull",))),
        ]
        backend.delete_user("alice")
        with pytest.raises(NotFound):
            backend.get_user("alice")
        assert backend.get_credentials("alice") is None
        assert backend.get_group("devs").members == ("alicia",)
        with pytest.raises(NotFound):
            backend.get_grant(gone.id or 0)
        assert backend.list_grants().items == kept
        backend.create_user("alice", "h2")
        assert backend.get_user("alice").groups == ()
        assert backend.groups_for("alice") == ()
        with pytest.raises(NotFound):
            backend.delete_user("nobody")

    # -- credential version -----------------------------------------------------------------
    def test_credential_version_of_a_missing_user_is_none(self, backend: ConformingBackend) -> None:
        assert backend.credential_version("nobody") is None
        backend.create_user("alice", "h")
        assert isinstance(backend.credential_version("alice"), int)
        assert backend.credential_version("alicia") is None

    def test_credential_version_steps_on_every_credential_change(
        self, backend: ConformingBackend
    ) -> None:
        backend.create_user("alice", "h")
        backend.create_user("bob", "h")
        start = backend.credential_version("alice")
        bob = backend.credential_version("bob")
        assert start is not None
        changes: list[Callable[[], object]] = [
            lambda: backend.set_password_hash("alice", "h2"),
            lambda: backend.set_password_hash("alice", "h2"),  # the same value counts too
            lambda: backend.set_user_enabled("alice", False),
            lambda: backend.set_user_enabled("alice", False),
            lambda: backend.set_user_enabled("alice", True),
            lambda: backend.set_user_admin("alice", True),  # is_admin is part of a login
            lambda: backend.set_user_admin("alice", False),
        ]
        for step, change in enumerate(changes, start=1):
            change()
            assert backend.credential_version("alice") == start + step
        assert backend.credential_version("bob") == bob

    def test_credential_version_ignores_reads_groups_and_grants(
        self, backend: ConformingBackend
    ) -> None:
        backend.create_user("alice", "h")
        version = backend.credential_version("alice")
        backend.get_user("alice")
        backend.get_credentials("alice")
        backend.create_group("devs")
        backend.add_member("devs", "alice")
        backend.set_group_enabled("devs", False)
        backend.remove_member("devs", "alice")
        backend.delete_group("devs")
        grant = backend.add_grant(make_grant("user:alice"))
        backend.delete_grant(grant.id or 0)
        backend.create_user("bob", "h")
        backend.set_password_hash("bob", "h2")
        backend.delete_user("bob")
        assert backend.credential_version("alice") == version

    def test_failed_changes_leave_credential_version(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h")
        version = backend.credential_version("alice")
        with pytest.raises(Conflict):
            backend.create_user("alice", "other")
        for change in (
            lambda: backend.set_password_hash("nobody", "x"),
            lambda: backend.set_user_enabled("nobody", False),
            lambda: backend.set_user_admin("nobody", True),
            lambda: backend.delete_user("nobody"),
        ):
            with pytest.raises(NotFound):
                change()
        assert backend.credential_version("alice") == version
        assert backend.credential_version("nobody") is None

    def test_a_recreated_user_never_repeats_a_credential_version(
        self, backend: ConformingBackend
    ) -> None:
        seen: set[int | None] = set()
        for _ in range(3):
            backend.create_user("alice", "h")
            for change in range(3):
                version = backend.credential_version("alice")
                assert version is not None
                assert version not in seen
                seen.add(version)
                backend.set_password_hash("alice", f"h{change}")
            backend.delete_user("alice")
            assert backend.credential_version("alice") is None

    def test_concurrent_credential_changes_all_count(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h")
        start = backend.credential_version("alice")
        assert start is not None
        in_threads(lambda n: backend.set_password_hash("alice", f"h{n}"), 24)
        assert backend.credential_version("alice") == start + 24
