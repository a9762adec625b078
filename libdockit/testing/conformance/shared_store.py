"""Two handles on one store: a change made through one is seen through the other at once.

This is what several worker processes, or several Dockit instances on one PostgreSQL, rely
on: each has its own handle (and its own caches), and an admin change made through any of
them must decide the very next token everywhere. Every test first *warms* the reading handle
(so a cache, if the backend keeps one, holds the old answer), changes the store through the
other handle, and reads again.

The ``other_handle`` fixture defaults to ``backend`` itself; a backend whose store can be
opened twice (a database file or server) overrides it with a second, separately opened handle.
"""

from __future__ import annotations

import pytest

from ...model import AUTHENTICATED
from .support import STORED_HASH, ConformingBackend, make_grant


def _subjects(username: str, *groups: str) -> list[str]:
    return [f"user:{username}", *(f"group:{group}" for group in groups), AUTHENTICATED]


def _grant_patterns(reader: ConformingBackend, username: str, *groups: str) -> list[str]:
    return [grant.pattern for grant in reader.grants_for_subjects(_subjects(username, *groups))]


class SharedStoreConformance:
    """Mixed into :class:`~libdockit.testing.conformance.BackendConformance`."""

    @pytest.fixture
    def other_handle(self, backend: ConformingBackend) -> ConformingBackend:
        return backend

    @pytest.fixture
    def alice_in_devs(self, backend: ConformingBackend) -> ConformingBackend:
        backend.create_user("alice", STORED_HASH)
        backend.create_group("devs")
        backend.create_group("ops")
        backend.add_member("devs", "alice")
        backend.add_grant(make_grant("group:devs", "devs/*"))
        backend.add_grant(make_grant("user:alice", "alice/*"))
        return backend

    def test_login_record_is_credentials_and_enabled_groups(
        self, alice_in_devs: ConformingBackend
    ) -> None:
        backend = alice_in_devs
        backend.add_member("ops", "alice")
        backend.set_group_enabled("ops", False)
        record = backend.login_record("alice")
        assert record is not None
        assert (record.username, record.password_hash) == ("alice", STORED_HASH)
        assert (record.enabled, record.is_admin, record.groups) == (True, False, ("devs",))
        assert record.groups == backend.groups_for("alice")
        assert backend.login_record("nobody") is None

    def test_membership_changes_are_seen_by_the_other_handle(
        self, alice_in_devs: ConformingBackend, other_handle: ConformingBackend
    ) -> None:
        writer, reader = alice_in_devs, other_handle
        assert _groups(reader, "alice") == ("devs",)
        writer.add_member("ops", "alice")
        assert _groups(reader, "alice") == ("devs", "ops")
        writer.remove_member("devs", "alice")
        assert _groups(reader, "alice") == ("ops",)
        assert reader.groups_for("alice") == ("ops",)

    def test_group_disable_and_delete_are_seen_by_the_other_handle(
        self, alice_in_devs: ConformingBackend, other_handle: ConformingBackend
    ) -> None:
        writer, reader = alice_in_devs, other_handle
        writer.add_member("ops", "alice")
        assert _groups(reader, "alice") == ("devs", "ops")
        writer.set_group_enabled("devs", False)
        assert _groups(reader, "alice") == ("ops",)
        writer.set_group_enabled("devs", True)
        assert _groups(reader, "alice") == ("devs", "ops")
        writer.delete_group("ops")
        assert _groups(reader, "alice") == ("devs",)

    def test_disabled_groups_are_seen_by_the_other_handle(
        self, alice_in_devs: ConformingBackend, other_handle: ConformingBackend
    ) -> None:
        writer, reader = alice_in_devs, other_handle
        assert reader.disabled_groups(["devs", "ops", "directory-only"]) == frozenset()
        assert reader.disabled_groups([]) == frozenset()
        writer.set_group_enabled("ops", False)
        assert reader.disabled_groups(["devs", "ops", "directory-only"]) == {"ops"}
        assert reader.disabled_groups(["devs"]) == frozenset()
        writer.set_group_enabled("ops", True)
        writer.set_group_enabled("devs", False)
        assert reader.disabled_groups(["devs", "ops"]) == {"devs"}
        writer.delete_group("devs")
        assert reader.disabled_groups(["devs", "ops"]) == frozenset()

    def test_grant_changes_are_seen_by_the_other_handle(
        self, alice_in_devs: ConformingBackend, other_handle: ConformingBackend
    ) -> None:
        writer, reader = alice_in_devs, other_handle
        assert _grant_patterns(reader, "alice", "devs") == ["devs/*", "alice/*"]
        added = writer.add_grant(make_grant(AUTHENTICATED, "shared/*", ("pull",)))
        assert _grant_patterns(reader, "alice", "devs") == ["devs/*", "alice/*", "shared/*"]
        assert _grant_patterns(reader, "bob") == ["shared/*"]
        assert added.id is not None
        writer.delete_grant(added.id)
        assert _grant_patterns(reader, "alice", "devs") == ["devs/*", "alice/*"]
        assert _grant_patterns(reader, "bob") == []

    def test_deleting_a_group_drops_its_grants_for_the_other_handle(
        self, alice_in_devs: ConformingBackend, other_handle: ConformingBackend
    ) -> None:
        writer, reader = alice_in_devs, other_handle
        assert _grant_patterns(reader, "alice", "devs") == ["devs/*", "alice/*"]
        writer.delete_group("devs")
        writer.create_group("devs")  # the same name again: the old grants do not come back
        assert _grant_patterns(reader, "alice", "devs") == ["alice/*"]

    def test_a_user_deleted_and_created_again_starts_afresh_for_the_other_handle(
        self, alice_in_devs: ConformingBackend, other_handle: ConformingBackend
    ) -> None:
        writer, reader = alice_in_devs, other_handle
        assert _groups(reader, "alice") == ("devs",)
        assert _grant_patterns(reader, "alice") == ["alice/*"]
        writer.delete_user("alice")
        assert reader.login_record("alice") is None
        writer.create_user("alice", "$argon2id$another")
        record = reader.login_record("alice")
        assert record is not None
        assert (record.password_hash, record.groups) == ("$argon2id$another", ())
        assert _grant_patterns(reader, "alice") == []

    def test_credential_changes_are_seen_by_the_other_handle(
        self, alice_in_devs: ConformingBackend, other_handle: ConformingBackend
    ) -> None:
        writer, reader = alice_in_devs, other_handle
        assert _record(reader, "alice") == (STORED_HASH, True, False)
        writer.set_password_hash("alice", "$argon2id$new")
        assert _record(reader, "alice") == ("$argon2id$new", True, False)
        writer.set_user_enabled("alice", False)
        assert _record(reader, "alice") == ("$argon2id$new", False, False)
        writer.set_user_admin("alice", True)
        assert _record(reader, "alice") == ("$argon2id$new", False, True)


def _groups(reader: ConformingBackend, username: str) -> tuple[str, ...]:
    record = reader.login_record(username)
    assert record is not None
    return record.groups


def _record(reader: ConformingBackend, username: str) -> tuple[str, bool, bool]:
    record = reader.login_record(username)
    assert record is not None
    return record.password_hash, record.enabled, record.is_admin
