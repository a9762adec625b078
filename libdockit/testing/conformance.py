"""The one behaviour every backend must have, as tests: subclass and supply ``backend``.

::

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        def backend(self) -> Iterator[MyBackend]:
            store = MyBackend(...)  # fresh and empty, schema in place
            yield store
            store.close()

:class:`BackendConformance` does not start with ``Test`` so pytest only collects it through
such subclasses. Every test goes through the public protocol methods only; the in-memory
backend is the reference these tests were written against.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol, TypeVar

import pytest

from ..backends.base import GrantStore, HealthCheck, KeyState, KeyStore, StoredKey, UserStore
from ..errors import Conflict, NotFound
from ..model import Grant, Page

T = TypeVar("T")

STORED_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"  # the shape, not a real secret
T0 = datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
# Code point order, which differs from most linguistic collations (they ignore punctuation).
AWKWARD_NAMES = ("b", "a.c", "ab", "a-b", "a_b", "a0", "z", "a@b", "a1", "aa", "a.b-c")


class ConformingBackend(UserStore, GrantStore, KeyStore, HealthCheck, Protocol):
    """What a full Dockit backend implements (UserStore includes GroupSource.groups_for)."""


def make_key(
    kid: str,
    state: KeyState = "pending",
    *,
    created_at: datetime = T0,
    activated_at: datetime | None = None,
    retired_at: datetime | None = None,
) -> StoredKey:
    return StoredKey(
        kid=kid,
        algorithm="ES256",
        private_key_pem=b"-----BEGIN PRIVATE KEY-----\n" + kid.encode() + b"\x00\xff\n",
        certificate_chain_pem=b"-----BEGIN CERTIFICATE-----\n" + kid.encode() + b"\n",
        state=state,
        created_at=created_at,
        not_after=created_at + timedelta(days=365),
        activated_at=activated_at,
        retired_at=retired_at,
    )


def make_grant(
    subject: str = "user:alice",
    pattern: str = "alice/*",
    actions: tuple[str, ...] = ("pull", "push"),
    resource_type: str = "repository",
) -> Grant:
    return Grant(subject, resource_type, pattern, actions)


def in_threads(fn: Callable[[int], T], count: int, workers: int = 8) -> list[T]:
    """Run ``fn(0..count-1)`` on a thread pool; re-raise the first failure."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, range(count)))


class BackendConformance:
    """Subclass as ``Test...`` and provide a ``backend`` fixture returning a fresh backend."""

    # -- users ----------------------------------------------------------------------------
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

    # -- groups ---------------------------------------------------------------------------
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

    # -- grants ---------------------------------------------------------------------------
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

    # -- keys -----------------------------------------------------------------------------
    def test_add_and_list_keys_round_trip(self, backend: ConformingBackend) -> None:
        assert backend.list_keys() == []
        plus_two = timezone(timedelta(hours=2))
        key = make_key(
            "kid-a",
            "retired",
            created_at=datetime(2029, 5, 6, 9, 8, 7, 654321, tzinfo=plus_two),
            activated_at=T0,
            retired_at=T0 + timedelta(days=30, microseconds=1),
        )
        backend.add_key(key)
        (stored,) = backend.list_keys()
        assert stored == key
        assert isinstance(stored.private_key_pem, bytes)
        assert stored.created_at.utcoffset() is not None

    def test_list_keys_oldest_first(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("k-new", created_at=T0 + timedelta(days=2)))
        backend.add_key(make_key("k-old", created_at=T0))
        backend.add_key(make_key("k-mid-b", created_at=T0 + timedelta(days=1)))
        backend.add_key(make_key("k-mid-a", created_at=T0 + timedelta(days=1)))
        assert [k.kid for k in backend.list_keys()] == ["k-old", "k-mid-a", "k-mid-b", "k-new"]

    def test_duplicate_kid_is_conflict(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("kid-a"))
        with pytest.raises(Conflict):
            backend.add_key(make_key("kid-a", created_at=T0 + timedelta(days=1)))
        assert [k.created_at for k in backend.list_keys()] == [T0]

    def test_second_active_key_is_conflict(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("kid-a", "active", activated_at=T0))
        with pytest.raises(Conflict):
            backend.add_key(make_key("kid-b", "active", activated_at=T0))
        backend.add_key(make_key("kid-c", "pending"))
        backend.add_key(make_key("kid-d", "retired", retired_at=T0))
        assert [(k.kid, k.state) for k in backend.list_keys()] == [
            ("kid-a", "active"),
            ("kid-c", "pending"),
            ("kid-d", "retired"),
        ]

    def test_activation_retires_the_active_key(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("old", "active", activated_at=T0))
        backend.add_key(make_key("new", created_at=T0 + timedelta(hours=1)))
        backend.add_key(make_key("spare", created_at=T0 + timedelta(hours=2)))
        at = T0 + timedelta(days=3)
        activated = backend.set_key_state("new", "active", at)
        assert (activated.kid, activated.state, activated.activated_at) == ("new", "active", at)
        assert activated.retired_at is None
        keys = {k.kid: k for k in backend.list_keys()}
        assert keys["new"] == activated
        assert (keys["old"].state, keys["old"].retired_at) == ("retired", at)
        assert keys["old"].activated_at == T0
        assert keys["spare"] == make_key("spare", created_at=T0 + timedelta(hours=2))
        assert [k.kid for k in backend.list_keys() if k.state == "active"] == ["new"]

    def test_activating_the_active_key_keeps_it_active(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("only", "active", activated_at=T0))
        again = backend.set_key_state("only", "active", T0 + timedelta(days=1))
        assert again.state == "active"
        assert again.retired_at is None
        assert [k.state for k in backend.list_keys()] == ["active"]

    def test_retire_and_pending_transitions(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("k", "active", activated_at=T0))
        at = T0 + timedelta(days=10)
        retired = backend.set_key_state("k", "retired", at)
        assert (retired.state, retired.retired_at, retired.activated_at) == ("retired", at, T0)
        assert backend.list_keys() == [retired]
        backend.add_key(make_key("p", created_at=T0 + timedelta(days=1)))
        pending = backend.set_key_state("p", "pending", at)
        assert pending == make_key("p", created_at=T0 + timedelta(days=1))
        assert backend.set_key_state("p", "active", at).state == "active"

    def test_set_state_of_missing_key_is_not_found(self, backend: ConformingBackend) -> None:
        backend.add_key(make_key("k", "active", activated_at=T0))
        with pytest.raises(NotFound):
            backend.set_key_state("nope", "active", T0)
        assert [k.state for k in backend.list_keys()] == ["active"]

    # -- health ---------------------------------------------------------------------------
    def test_ping(self, backend: ConformingBackend) -> None:
        backend.ping()  # answers: returns, rather than raising BackendUnavailable
        backend.create_user("alice", "h")
        backend.ping()
        assert backend.get_user("alice").username == "alice"

    # -- concurrency ----------------------------------------------------------------------
    def test_concurrent_writes_all_land(self, backend: ConformingBackend) -> None:
        backend.create_group("crowd")

        def work(n: int) -> int:
            name = f"user{n:03d}"
            backend.create_user(name, f"hash{n}")
            backend.add_member("crowd", name)
            stored = backend.add_grant(make_grant(f"user:{name}", f"{name}/*"))
            return stored.id or 0

        ids = in_threads(work, 40)
        assert len(set(ids)) == 40
        assert backend.list_users(limit=1000).total == 40
        assert len(backend.get_group("crowd").members) == 40
        assert backend.list_grants(limit=1000).total == 40

    def test_concurrent_duplicate_writes_conflict_once(self, backend: ConformingBackend) -> None:
        def create(_: int) -> bool:
            try:
                backend.create_user("alice", "h")
            except Conflict:
                return False
            return True

        assert sorted(in_threads(create, 8)) == [False] * 7 + [True]
        assert backend.list_users().total == 1

    def test_concurrent_activations_leave_one_active_key(self, backend: ConformingBackend) -> None:
        for n in range(8):
            backend.add_key(make_key(f"k{n}", created_at=T0 + timedelta(minutes=n)))
        in_threads(lambda n: backend.set_key_state(f"k{n}", "active", T0 + timedelta(days=1)), 8)
        states = [k.state for k in backend.list_keys()]
        assert states.count("active") == 1
        assert states.count("retired") == 7
