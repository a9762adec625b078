"""Robot and personal-access-token secrets: stored by hash, found, listed newest first,
switched off, rotated, touched, deleted, and gone with their local owner."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Protocol

import pytest

from ...backends.base import GrantStore, UserStore
from ...backends.credential_store import AccessCredentialStore
from ...errors import Conflict, NotFound
from ...model import AccessCredential, CredentialKind, Grant, Page
from .support import T0, in_threads, token_hash

PLUS_TWO = timezone(timedelta(hours=2))


class UsersAndAccessCredentials(UserStore, GrantStore, AccessCredentialStore, Protocol):
    """What these tests need: credentials belong to users or groups; robots hold grants."""


def make_credential(
    credential_id: str,
    owner: str = "user:alice",
    *,
    kind: CredentialKind = "pat",
    name: str | None = None,
    created_at: datetime = T0,
    expires_at: datetime | None = T0 + timedelta(days=30),
    **fields: object,
) -> AccessCredential:
    return AccessCredential(
        id=credential_id,
        kind=kind,
        name=credential_id if name is None else name,
        owner=owner,
        secret_hash=token_hash("dkt_secret-of-" + credential_id),
        created_at=created_at,
        expires_at=expires_at,
        **fields,  # type: ignore[arg-type]
    )


class AccessCredentialConformance:
    """Mixed into a backend's conformance tests once it implements AccessCredentialStore."""

    def test_add_find_and_get_round_trip(self, backend: UsersAndAccessCredentials) -> None:
        backend.create_user("alice", "h")
        full = make_credential(
            "Pat_-1",
            created_at=T0.astimezone(PLUS_TWO),
            expires_at=T0 + timedelta(days=90, microseconds=1),
            scopes=("repository:alice/app:pull", "repository:alice/*:pull,push"),
            access_token_lifetime=timedelta(hours=2, seconds=1),
            last_used_at=T0 + timedelta(hours=1),
            last_used_from="2001:db8::1",
            enabled=False,
        )
        assert backend.add_access_credential(full) == full
        assert backend.find_access_credential(full.secret_hash) == full
        found = backend.get_access_credential("Pat_-1")
        assert found == full
        for at in (found.created_at, found.expires_at, found.last_used_at):
            assert at is not None
            assert at.utcoffset() == timedelta(0)
        bare = make_credential("robot-1", kind="robot", expires_at=None)
        backend.add_access_credential(bare)
        assert backend.get_access_credential("robot-1") == bare
        assert (bare.scopes, bare.access_token_lifetime, bare.last_used_at) == ((), None, None)
        fraction = make_credential("p2", access_token_lifetime=timedelta(seconds=90.75))
        kept = backend.add_access_credential(fraction)
        assert kept.access_token_lifetime == timedelta(seconds=90)  # whole seconds are kept
        assert backend.get_access_credential("p2") == kept

    def test_unknown_secret_or_id(self, backend: UsersAndAccessCredentials) -> None:
        assert backend.find_access_credential(token_hash("nope")) is None
        backend.create_user("alice", "h")
        credential = make_credential("c1")
        backend.add_access_credential(credential)
        assert backend.find_access_credential(token_hash("nope")) is None
        assert backend.find_access_credential(credential.secret_hash.upper()) is None
        assert backend.find_access_credential("c1") is None  # by hash, not by id
        with pytest.raises(NotFound):
            backend.get_access_credential("C1")

    def test_expired_and_disabled_are_still_found(self, backend: UsersAndAccessCredentials) -> None:
        backend.create_user("alice", "h")
        old = make_credential("old", created_at=T0 - timedelta(days=9), expires_at=T0)
        off = make_credential("off", enabled=False)
        for credential in (old, off):
            backend.add_access_credential(credential)
            assert backend.find_access_credential(credential.secret_hash) == credential

    def test_local_owner_must_exist(self, backend: UsersAndAccessCredentials) -> None:
        backend.create_user("alice", "h")
        for owner in ("user:nobody", "group:devs", "user:alicia"):
            with pytest.raises(NotFound):
                backend.add_access_credential(make_credential("c1", owner))
        backend.create_group("devs")
        robot = make_credential("r1", "group:devs", kind="robot")
        assert backend.add_access_credential(robot) == robot
        assert backend.list_access_credentials() == Page([robot], 1)

    def test_other_sources_vouch_for_their_owners(self, backend: UsersAndAccessCredentials) -> None:
        pat = make_credential("c1", "user:carol", owner_source="ldap")
        backend.add_access_credential(pat)
        assert backend.find_access_credential(pat.secret_hash) == pat

    def test_duplicates_conflict_and_change_nothing(
        self, backend: UsersAndAccessCredentials
    ) -> None:
        backend.create_user("alice", "h")
        backend.create_user("bob", "h")
        robot = make_credential("r1", kind="robot", name="ci")
        backend.add_access_credential(robot)
        with pytest.raises(Conflict):  # same id
            backend.add_access_credential(replace(robot, name="ci2", secret_hash=token_hash("x")))
        with pytest.raises(Conflict):  # same secret
            backend.add_access_credential(replace(robot, id="r2", name="ci2"))
        with pytest.raises(Conflict):  # same robot name, whoever owns it
            backend.add_access_credential(
                make_credential("r3", "user:bob", kind="robot", name="ci")
            )
        # Personal tokens' names are labels: they may repeat, also beside a robot's name.
        first = make_credential("p1", name="ci")
        second = make_credential("p2", name="ci", created_at=T0 + timedelta(seconds=1))
        backend.add_access_credential(first)
        backend.add_access_credential(second)
        assert backend.list_access_credentials() == Page([second, robot, first], 3)
        assert backend.find_access_credential(token_hash("x")) is None

    def test_listing_newest_first_filtered_and_paged(
        self, backend: UsersAndAccessCredentials
    ) -> None:
        backend.create_user("alice", "h")
        backend.create_user("bob", "h")
        a1 = make_credential("a1", created_at=T0)
        a2 = make_credential("a2", created_at=T0 + timedelta(minutes=1))
        b = make_credential("b", "user:bob", created_at=T0 + timedelta(minutes=2))
        tie = make_credential("a0", created_at=T0 + timedelta(minutes=1))  # same time as a2
        robot = make_credential("r", kind="robot", created_at=T0 - timedelta(days=1))
        for credential in (a1, a2, b, tie, robot):
            backend.add_access_credential(credential)
        assert backend.list_access_credentials() == Page([b, a2, tie, a1, robot], 5)
        assert backend.list_access_credentials(owner="user:alice") == Page([a2, tie, a1, robot], 4)
        assert backend.list_access_credentials(owner="user:alice", kind="pat") == Page(
            [a2, tie, a1], 3
        )
        assert backend.list_access_credentials(kind="robot") == Page([robot], 1)
        assert backend.list_access_credentials(owner="user:nobody") == Page([], 0)
        assert backend.list_access_credentials(offset=1, limit=2) == Page([a2, tie], 5)
        assert backend.list_access_credentials(offset=5) == Page([], 5)
        assert backend.list_access_credentials(kind="robot", name="r") == Page([robot], 1)
        assert backend.list_access_credentials(name="a2") == Page([a2], 1)
        assert backend.list_access_credentials(kind="robot", name="a2") == Page([], 0)

    def test_expiring_credentials_soonest_first(self, backend: UsersAndAccessCredentials) -> None:
        backend.create_user("alice", "h")
        gone = make_credential("gone", expires_at=T0 - timedelta(days=1))
        soon_b = make_credential("b", expires_at=T0 + timedelta(days=2))
        soon_a = make_credential("a", expires_at=T0 + timedelta(days=2))
        edge = make_credential("edge", expires_at=T0 + timedelta(days=7))
        later = make_credential("later", expires_at=T0 + timedelta(days=30))
        never = make_credential("never", kind="robot", expires_at=None)
        off = make_credential("off", enabled=False, expires_at=T0 + timedelta(days=1))
        for credential in (gone, soon_b, soon_a, edge, later, never, off):
            backend.add_access_credential(credential)
        week = (T0 + timedelta(days=7)).astimezone(PLUS_TWO)
        assert backend.access_credentials_expiring(week) == [gone, soon_a, soon_b]
        assert backend.access_credentials_expiring(T0 - timedelta(days=2)) == []

    def test_enable_and_disable(self, backend: UsersAndAccessCredentials) -> None:
        backend.create_user("alice", "h")
        credential = make_credential("c1")
        backend.add_access_credential(credential)
        off = backend.set_access_credential_enabled("c1", False)
        assert off == replace(credential, enabled=False)
        assert backend.find_access_credential(credential.secret_hash) == off
        assert backend.set_access_credential_enabled("c1", True) == credential
        with pytest.raises(NotFound):
            backend.set_access_credential_enabled("c2", False)

    def test_rotation_replaces_the_secret(self, backend: UsersAndAccessCredentials) -> None:
        backend.create_user("alice", "h")
        credential = make_credential("c1")
        other = make_credential("c2")
        backend.add_access_credential(credential)
        backend.add_access_credential(other)
        later = (T0 + timedelta(days=60)).astimezone(PLUS_TWO)
        rotated = backend.replace_access_credential_secret(
            "c1", token_hash("new"), expires_at=later
        )
        assert rotated == replace(credential, secret_hash=token_hash("new"), expires_at=later)
        assert rotated.expires_at is not None
        assert rotated.expires_at.utcoffset() == timedelta(0)
        assert backend.find_access_credential(credential.secret_hash) is None
        assert backend.find_access_credential(token_hash("new")) == rotated
        never = backend.replace_access_credential_secret("c1", token_hash("n2"), expires_at=None)
        assert never.expires_at is None
        with pytest.raises(Conflict):
            backend.replace_access_credential_secret("c1", other.secret_hash, expires_at=T0)
        assert backend.get_access_credential("c1") == never
        assert backend.find_access_credential(other.secret_hash) == other
        with pytest.raises(NotFound):
            backend.replace_access_credential_secret("c3", token_hash("n3"), expires_at=T0)
        assert backend.find_access_credential(token_hash("n3")) is None

    def test_touch_records_the_last_use(self, backend: UsersAndAccessCredentials) -> None:
        backend.create_user("alice", "h")
        credential = make_credential("c1")
        other = make_credential("c2")
        backend.add_access_credential(credential)
        backend.add_access_credential(other)
        at = (T0 + timedelta(hours=3)).astimezone(PLUS_TWO)
        backend.touch_access_credential("c1", at=at, address="192.0.2.7")
        touched = backend.get_access_credential("c1")
        assert touched == replace(credential, last_used_at=at, last_used_from="192.0.2.7")
        assert touched.last_used_at is not None
        assert touched.last_used_at.utcoffset() == timedelta(0)
        backend.touch_access_credential("c1", at=at, address=None)
        assert backend.get_access_credential("c1").last_used_from is None
        assert backend.get_access_credential("c2") == other
        with pytest.raises(NotFound):
            backend.touch_access_credential("c3", at=at, address=None)

    def test_delete(self, backend: UsersAndAccessCredentials) -> None:
        backend.create_user("alice", "h")
        credential = make_credential("c1", kind="robot", name="ci")
        backend.add_access_credential(credential)
        assert backend.delete_access_credential("c1") == credential
        assert backend.find_access_credential(credential.secret_hash) is None
        with pytest.raises(NotFound):
            backend.get_access_credential("c1")
        with pytest.raises(NotFound):
            backend.delete_access_credential("c1")
        again = make_credential("c2", kind="robot", name="ci")  # the name is free again
        assert backend.add_access_credential(again) == again

    def test_deleting_a_robot_deletes_its_grants(self, backend: UsersAndAccessCredentials) -> None:
        """A robot made again under a deleted one's name starts with no grants."""
        backend.create_user("alice", "h")
        backend.create_user("ci", "h")  # a user's grants are not the robot's
        backend.add_access_credential(make_credential("r1", kind="robot", name="ci"))
        backend.add_access_credential(make_credential("r2", kind="robot", name="other"))
        robots = backend.add_grant(Grant("robot:ci", "repository", "ci/*", ("push",)))
        others = backend.add_grant(Grant("robot:other", "repository", "ci/*", ("pull",)))
        users = backend.add_grant(Grant("user:ci", "repository", "ci/*", ("pull",)))
        assert backend.grants_for_subjects(["robot:ci"]) == [robots]
        backend.delete_access_credential("r1")
        assert backend.grants_for_subjects(["robot:ci", "robot:other", "user:ci"]) == [
            others,
            users,
        ]
        backend.add_access_credential(make_credential("p1"))  # a PAT named like nothing
        backend.delete_access_credential("p1")
        assert backend.list_grants().total == 2

    def test_deleting_a_robots_owner_deletes_the_robots_grants(
        self, backend: UsersAndAccessCredentials
    ) -> None:
        backend.create_user("alice", "h")
        backend.create_group("devs")
        backend.add_access_credential(make_credential("r1", "group:devs", kind="robot", name="ci"))
        backend.add_access_credential(make_credential("r2", kind="robot", name="build"))
        backend.add_grant(Grant("robot:ci", "repository", "ci/*", ("push",)))
        kept = backend.add_grant(Grant("robot:build", "repository", "ci/*", ("push",)))
        backend.delete_group("devs")
        assert backend.list_grants().items == [kept]
        backend.delete_user("alice")
        assert backend.list_grants().total == 0

    def test_deleting_an_owner_deletes_its_local_credentials(
        self, backend: UsersAndAccessCredentials
    ) -> None:
        backend.create_user("alice", "h")
        backend.create_user("bob", "h")
        backend.create_group("devs")
        alices = make_credential("a1")
        directory_alice = make_credential("a2", owner_source="ldap")
        bobs = make_credential("b1", "user:bob")
        devs_robot = make_credential("d1", "group:devs", kind="robot")
        for credential in (alices, directory_alice, bobs, devs_robot):
            backend.add_access_credential(credential)
        backend.delete_user("alice")
        assert backend.find_access_credential(alices.secret_hash) is None
        assert backend.find_access_credential(directory_alice.secret_hash) == directory_alice
        backend.delete_group("devs")
        assert backend.find_access_credential(devs_robot.secret_hash) is None
        assert backend.list_access_credentials() == Page([bobs, directory_alice], 2)

    def test_credentials_outlive_changes_to_their_owner(
        self, backend: UsersAndAccessCredentials
    ) -> None:
        """Whether a disabled owner's credential still works is the token path's call."""
        backend.create_user("alice", "h")
        credential = make_credential("c1")
        backend.add_access_credential(credential)
        backend.set_password_hash("alice", "h2")
        backend.set_user_enabled("alice", False)
        assert backend.find_access_credential(credential.secret_hash) == credential

    def test_concurrent_robots_of_one_name_conflict_once(
        self, backend: UsersAndAccessCredentials
    ) -> None:
        backend.create_user("alice", "h")

        def add(number: int) -> bool:
            try:
                backend.add_access_credential(
                    make_credential(f"r{number}", kind="robot", name="ci")
                )
            except Conflict:
                return False
            return True

        assert sorted(in_threads(add, 8)) == [False] * 7 + [True]
        assert backend.list_access_credentials().total == 1
