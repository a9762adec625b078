"""Grants: ids, round trips, conflicts, listing, lookup by subject."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ...errors import Conflict, NotFound
from ...model import Page
from .support import ConformingBackend, make_grant


class GrantConformance:
    """Mixed into :class:`~libdockit.testing.conformance.BackendConformance`."""

    def test_add_grant_sets_id_and_created_at(self, backend: ConformingBackend) -> None:
        grant = make_grant("group:devs", "devs/**", ("pull", "push", "delete"))
        stored = backend.add_grant(grant)
        assert stored.id is not None
        assert stored.created_at is not None
        assert stored.created_at.utcoffset() == timedelta(0)
        assert replace(stored, id=None, created_at=None) == grant
        assert backend.get_grant(stored.id) == stored
        assert isinstance(backend.get_grant(stored.id).actions, tuple)

    def test_grant_actions_round_trip(self, backend: ConformingBackend) -> None:
        cases = [("pull",), ("pull", "push"), ("*",), ("pull", "push", "delete", "*")]
        for number, actions in enumerate(cases):
            stored = backend.add_grant(make_grant(pattern=f"p{number}", actions=actions))
            assert stored.id is not None
            assert backend.get_grant(stored.id).actions == actions

    def test_grant_ids_are_unique_and_never_reused(self, backend: ConformingBackend) -> None:
        first = backend.add_grant(make_grant(pattern="a"))
        second = backend.add_grant(make_grant(pattern="b"))
        assert first.id is not None
        assert second.id is not None
        assert second.id > first.id
        backend.delete_grant(second.id)
        third = backend.add_grant(make_grant(pattern="b"))
        assert third.id is not None
        assert third.id > second.id

    def test_missing_grant_is_not_found(self, backend: ConformingBackend) -> None:
        with pytest.raises(NotFound):
            backend.get_grant(12345)
        with pytest.raises(NotFound):
            backend.delete_grant(12345)

    def test_delete_grant(self, backend: ConformingBackend) -> None:
        first = backend.add_grant(make_grant(pattern="a"))
        second = backend.add_grant(make_grant(pattern="b"))
        assert first.id is not None
        backend.delete_grant(first.id)
        with pytest.raises(NotFound):
            backend.get_grant(first.id)
        with pytest.raises(NotFound):
            backend.delete_grant(first.id)
        assert backend.list_grants().items == [second]

    def test_duplicate_grant_is_conflict(self, backend: ConformingBackend) -> None:
        first = backend.add_grant(make_grant("user:alice", "alice/*", ("pull",)))
        with pytest.raises(Conflict) as caught:
            backend.add_grant(make_grant("user:alice", "alice/*", ("pull", "push")))
        assert caught.value.detail == {"id": first.id}
        assert backend.list_grants().items == [first]
        # Any one of subject, resource type and pattern differing is a different grant.
        backend.add_grant(make_grant("user:bob", "alice/*"))
        backend.add_grant(make_grant("user:alice", "alice/**"))
        backend.add_grant(make_grant("user:alice", "alice/*", resource_type="registry"))
        assert backend.list_grants().total == 4

    def test_list_grants_by_id_filtered_and_paged(self, backend: ConformingBackend) -> None:
        assert backend.list_grants().items == []
        assert backend.list_grants().total == 0
        stored = [
            backend.add_grant(make_grant(subject, f"{subject.split(':')[-1]}/{n}"))
            for n in range(4)
            for subject in ("user:alice", "group:devs", "anonymous")
        ]
        everything = backend.list_grants()
        assert everything.items == stored
        assert everything.total == 12
        ids = [g.id or 0 for g in everything.items]
        assert ids == sorted(ids)
        alice = backend.list_grants(subject="user:alice")
        assert alice.items == [g for g in stored if g.subject == "user:alice"]
        assert alice.total == 4
        page = backend.list_grants(subject="group:devs", offset=1, limit=2)
        assert page.items == [g for g in stored if g.subject == "group:devs"][1:3]
        assert page.total == 4
        assert backend.list_grants(offset=10, limit=5).items == stored[10:]
        assert backend.list_grants(subject="user:nobody") == Page(items=[], total=0)

    def test_grants_for_subjects(self, backend: ConformingBackend) -> None:
        alice = backend.add_grant(make_grant("user:alice", "alice/*"))
        devs = backend.add_grant(make_grant("group:devs", "devs/*"))
        backend.add_grant(make_grant("group:ops", "ops/*"))
        anyone = backend.add_grant(make_grant("anonymous", "public/*", ("pull",)))
        members = backend.add_grant(make_grant("authenticated", "shared/*", ("pull",)))
        backend.add_grant(make_grant("user:alicia", "alicia/*"))
        found = backend.grants_for_subjects(
            ["user:alice", "group:devs", "authenticated", "anonymous", "group:none"]
        )
        assert found == [alice, devs, anyone, members]
        assert backend.grants_for_subjects(("anonymous",)) == [anyone]
        assert backend.grants_for_subjects(["user:alice", "user:alice"]) == [alice]
        assert backend.grants_for_subjects([]) == []
        assert backend.grants_for_subjects(["group:none"]) == []
