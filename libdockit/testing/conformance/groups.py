"""Groups and memberships."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ...errors import Conflict, NotFound
from .support import AWKWARD_NAMES, ConformingBackend, make_grant


class GroupConformance:
    """Mixed into :class:`~libdockit.testing.conformance.BackendConformance`."""

    def test_create_and_get_group(self, backend: ConformingBackend) -> None:
        group = backend.create_group("devs")
        assert (group.name, group.enabled, group.members) == ("devs", True, ())
        assert group.created_at is not None
        assert group.created_at.utcoffset() == timedelta(0)
        assert backend.get_group("devs") == group
        assert backend.create_group("ops", enabled=False).enabled is False
        assert backend.get_group("ops").enabled is False

    def test_duplicate_group_is_conflict(self, backend: ConformingBackend) -> None:
        backend.create_group("devs")
        with pytest.raises(Conflict):
            backend.create_group("devs", enabled=False)
        assert backend.get_group("devs").enabled is True

    def test_missing_group_is_not_found(self, backend: ConformingBackend) -> None:
        with pytest.raises(NotFound):
            backend.get_group("nobody")
        with pytest.raises(NotFound):
            backend.set_group_enabled("nobody", True)
        with pytest.raises(NotFound):
            backend.delete_group("nobody")

    def test_list_groups_sorted_and_paged(self, backend: ConformingBackend) -> None:
        assert backend.list_groups().items == []
        for name in AWKWARD_NAMES:
            backend.create_group(name)
        backend.create_user("zed", "h")
        backend.add_member("a.c", "zed")
        expected = sorted(AWKWARD_NAMES)
        page = backend.list_groups()
        assert [g.name for g in page.items] == expected
        assert page.total == len(expected)
        assert [g.name for g in backend.list_groups(offset=2, limit=4).items] == expected[2:6]
        assert backend.list_groups(offset=2, limit=4).total == len(expected)
        by_name = {g.name: g for g in page.items}
        assert by_name["a.c"].members == ("zed",)
        assert by_name["a.c"] == backend.get_group("a.c")

    def test_enable_disable_group(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h")
        backend.create_group("devs")
        backend.add_member("devs", "alice")
        disabled = backend.set_group_enabled("devs", False)
        assert (disabled.enabled, disabled.members) == (False, ("alice",))
        assert backend.get_group("devs").enabled is False
        assert backend.set_group_enabled("devs", True).enabled is True

    def test_delete_group_cascades(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h")
        backend.create_group("devs")
        backend.create_group("devs2")
        backend.add_member("devs", "alice")
        backend.add_member("devs2", "alice")
        gone = backend.add_grant(make_grant("group:devs", "devs/*"))
        kept = [
            backend.add_grant(make_grant("group:devs2", "devs/*")),
            backend.add_grant(make_grant("user:devs", "devs/*")),
            backend.add_grant(make_grant("user:alice", "alice/*")),
        ]
        backend.delete_group("devs")
        with pytest.raises(NotFound):
            backend.get_group("devs")
        assert backend.get_user("alice").groups == ("devs2",)
        assert backend.groups_for("alice") == ("devs2",)
        with pytest.raises(NotFound):
            backend.get_grant(gone.id or 0)
        assert backend.list_grants().items == kept
        assert backend.create_group("devs").members == ()

    def test_add_member(self, backend: ConformingBackend) -> None:
        backend.create_user("bob", "h")
        backend.create_user("alice", "h")
        backend.create_group("devs")
        assert backend.add_member("devs", "bob").members == ("bob",)
        group = backend.add_member("devs", "alice")
        assert group.members == ("alice", "bob")
        assert backend.get_group("devs") == group
        assert backend.get_user("alice").groups == ("devs",)

    def test_add_member_is_idempotent(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h")
        backend.create_group("devs")
        first = backend.add_member("devs", "alice")
        again = backend.add_member("devs", "alice")
        assert first == again
        assert again.members == ("alice",)
        assert backend.get_user("alice").groups == ("devs",)

    def test_add_member_missing_user_or_group(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h")
        backend.create_group("devs")
        with pytest.raises(NotFound):
            backend.add_member("devs", "nobody")
        with pytest.raises(NotFound):
            backend.add_member("nogroup", "alice")
        assert backend.get_group("devs").members == ()

    def test_remove_member(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h")
        backend.create_user("bob", "h")
        backend.create_group("devs")
        backend.add_member("devs", "alice")
        backend.add_member("devs", "bob")
        assert backend.remove_member("devs", "alice").members == ("bob",)
        assert backend.get_user("alice").groups == ()
        with pytest.raises(NotFound):
            backend.remove_member("devs", "alice")
        with pytest.raises(NotFound):
            backend.remove_member("devs", "nobody")
        with pytest.raises(NotFound):
            backend.remove_member("nogroup", "bob")
        assert backend.get_group("devs").members == ("bob",)

    def test_groups_for_only_enabled_sorted(self, backend: ConformingBackend) -> None:
        backend.create_user("alice", "h")
        backend.create_user("bob", "h")
        for name, enabled in (("zeta", True), ("alpha", True), ("off", False), ("mid", True)):
            backend.create_group(name, enabled=enabled)
            backend.add_member(name, "alice")
        backend.create_group("bobs")
        backend.add_member("bobs", "bob")
        groups = backend.groups_for("alice")
        assert isinstance(groups, tuple)
        assert groups == ("alpha", "mid", "zeta")
        backend.set_group_enabled("mid", False)
        backend.set_group_enabled("off", True)
        assert backend.groups_for("alice") == ("alpha", "off", "zeta")
        assert backend.groups_for("bob") == ("bobs",)
        assert backend.groups_for("nobody") == ()
