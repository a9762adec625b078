"""Refresh tokens: stored by hash, found, touched, listed newest first, revoked, and gone
with their user."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

import pytest

from ...errors import Conflict, NotFound
from ...model import Page
from .support import T0, UsersAndRefreshTokens, in_threads, make_refresh_token, token_hash

PLUS_TWO = timezone(timedelta(hours=2))


class RefreshTokenConformance:
    """Mixed into :class:`~libdockit.testing.conformance.BackendConformance`."""

    def test_add_and_find_round_trip(self, backend: UsersAndRefreshTokens) -> None:
        backend.create_user("alice", "h")
        token = make_refresh_token(
            "Tok_-1",
            created_at=T0.astimezone(PLUS_TWO),
            last_used_at=T0 + timedelta(hours=1, microseconds=1),
            expires_at=T0 + timedelta(days=90),
        )
        backend.add_refresh_token(token)
        found = backend.find_refresh_token(token.token_hash)
        assert found == token
        assert found is not None
        for at in (found.created_at, found.last_used_at, found.expires_at):
            assert at is not None
            assert at.utcoffset() == timedelta(0)
        bare = make_refresh_token("t2", client_id=None)
        backend.add_refresh_token(bare)
        assert backend.find_refresh_token(bare.token_hash) == bare
        assert (bare.last_used_at, bare.expires_at) == (None, None)

    def test_unknown_hash_is_none(self, backend: UsersAndRefreshTokens) -> None:
        assert backend.find_refresh_token(token_hash("nope")) is None
        backend.create_user("alice", "h")
        token = make_refresh_token("t1")
        backend.add_refresh_token(token)
        assert backend.find_refresh_token(token_hash("nope")) is None
        assert backend.find_refresh_token(token.token_hash.upper()) is None  # exact match
        assert backend.find_refresh_token(token.id) is None  # by hash, not by id

    def test_expired_tokens_are_still_found(self, backend: UsersAndRefreshTokens) -> None:
        backend.create_user("alice", "h")
        token = make_refresh_token("old", created_at=T0 - timedelta(days=9), expires_at=T0)
        backend.add_refresh_token(token)
        assert backend.find_refresh_token(token.token_hash) == token  # the caller judges

    def test_add_for_a_missing_user_is_not_found(self, backend: UsersAndRefreshTokens) -> None:
        with pytest.raises(NotFound):
            backend.add_refresh_token(make_refresh_token("t1", "nobody"))
        backend.create_user("alice", "h")
        with pytest.raises(NotFound):
            backend.add_refresh_token(make_refresh_token("t1", "alicia"))
        assert backend.list_refresh_tokens() == Page([], 0)

    def test_duplicate_id_or_hash_is_conflict(self, backend: UsersAndRefreshTokens) -> None:
        backend.create_user("alice", "h")
        backend.create_user("bob", "h")
        first = make_refresh_token("t1")
        backend.add_refresh_token(first)
        with pytest.raises(Conflict):
            backend.add_refresh_token(replace(first, token_hash=token_hash("other")))
        with pytest.raises(Conflict):
            backend.add_refresh_token(replace(first, id="t2", username="bob"))
        assert backend.list_refresh_tokens() == Page([first], 1)
        assert backend.find_refresh_token(token_hash("other")) is None

    def test_touch_sets_last_used(self, backend: UsersAndRefreshTokens) -> None:
        backend.create_user("alice", "h")
        token = make_refresh_token("t1")
        other = make_refresh_token("t2")
        backend.add_refresh_token(token)
        backend.add_refresh_token(other)
        at = T0 + timedelta(minutes=5, microseconds=7)
        backend.touch_refresh_token("t1", at)
        assert backend.find_refresh_token(token.token_hash) == replace(token, last_used_at=at)
        later = (T0 + timedelta(days=1)).astimezone(PLUS_TWO)
        backend.touch_refresh_token("t1", later)
        touched = backend.find_refresh_token(token.token_hash)
        assert touched == replace(token, last_used_at=later)
        assert touched is not None
        assert touched.last_used_at is not None
        assert touched.last_used_at.utcoffset() == timedelta(0)
        with pytest.raises(NotFound):
            backend.touch_refresh_token("nope", at)
        with pytest.raises(NotFound):
            backend.touch_refresh_token(token.token_hash, at)  # by id, not by hash
        assert backend.find_refresh_token(other.token_hash) == other

    def test_list_newest_first_and_paged(self, backend: UsersAndRefreshTokens) -> None:
        backend.create_user("alice", "h")
        backend.create_user("bob", "h")
        # Created at the same time, so ids decide, in code point order, descending.
        tied = [make_refresh_token(i) for i in ("b", "A", "a", "_x", "-x", "B", "a-", "a_", "0")]
        for token in tied:
            backend.add_refresh_token(token)
        newer = make_refresh_token("zz", "bob", created_at=T0 + timedelta(microseconds=1))
        older = make_refresh_token("~~", "bob", created_at=T0 - timedelta(seconds=1))
        backend.add_refresh_token(older)
        backend.add_refresh_token(newer)
        tied_newest_first = sorted(tied, key=lambda t: t.id, reverse=True)
        expected = [newer, *tied_newest_first, older]
        assert backend.list_refresh_tokens() == Page(expected, 11)
        collected = []
        for offset in range(0, 11, 3):
            page = backend.list_refresh_tokens(offset=offset, limit=3)
            assert page.total == 11
            collected += page.items
        assert collected == expected
        assert backend.list_refresh_tokens(username="alice") == Page(tied_newest_first, 9)
        alice_page = backend.list_refresh_tokens(username="alice", offset=2, limit=4)
        assert alice_page == Page(tied_newest_first[2:6], 9)
        assert backend.list_refresh_tokens(username="bob", offset=1) == Page([older], 2)
        assert backend.list_refresh_tokens(username="nobody") == Page([], 0)
        assert backend.list_refresh_tokens(limit=0) == Page([], 11)
        assert backend.list_refresh_tokens(offset=11) == Page([], 11)

    def test_revoke_one(self, backend: UsersAndRefreshTokens) -> None:
        backend.create_user("alice", "h")
        first = make_refresh_token("t1", last_used_at=T0)
        second = make_refresh_token("t2")
        backend.add_refresh_token(first)
        backend.add_refresh_token(second)
        assert backend.revoke_refresh_token("t1") == first
        assert backend.find_refresh_token(first.token_hash) is None
        assert backend.list_refresh_tokens() == Page([second], 1)
        with pytest.raises(NotFound):
            backend.revoke_refresh_token("t1")
        with pytest.raises(NotFound):
            backend.revoke_refresh_token("nope")
        backend.add_refresh_token(first)  # its id and hash are free again
        assert backend.find_refresh_token(first.token_hash) == first

    def test_revoke_all_of_a_user(self, backend: UsersAndRefreshTokens) -> None:
        for name in ("alice", "alicia", "bob"):
            backend.create_user(name, "h")
        for n in range(3):
            backend.add_refresh_token(make_refresh_token(f"alice-{n}"))
        kept = [make_refresh_token("alicia-0", "alicia"), make_refresh_token("bob-0", "bob")]
        for token in kept:
            backend.add_refresh_token(token)
        assert backend.revoke_user_refresh_tokens("alice") == 3
        assert backend.list_refresh_tokens(username="alice") == Page([], 0)
        assert backend.list_refresh_tokens() == Page(kept[::-1], 2)
        assert backend.find_refresh_token(make_refresh_token("alice-0").token_hash) is None
        assert backend.revoke_user_refresh_tokens("alice") == 0
        assert backend.revoke_user_refresh_tokens("nobody") == 0
        assert backend.get_user("alice").username == "alice"  # the user stays

    def test_deleting_a_user_deletes_their_tokens(self, backend: UsersAndRefreshTokens) -> None:
        backend.create_user("alice", "h")
        backend.create_user("bob", "h")
        mine = [make_refresh_token(f"alice-{n}") for n in range(2)]
        theirs = make_refresh_token("bob-0", "bob")
        for token in (*mine, theirs):
            backend.add_refresh_token(token)
        backend.delete_user("alice")
        for token in mine:
            assert backend.find_refresh_token(token.token_hash) is None
        assert backend.list_refresh_tokens() == Page([theirs], 1)
        backend.create_user("alice", "h")
        assert backend.list_refresh_tokens(username="alice") == Page([], 0)
        backend.add_refresh_token(mine[0])  # its id and hash are free again
        assert backend.find_refresh_token(mine[0].token_hash) == mine[0]

    def test_directory_users_hold_tokens_apart_from_local_namesakes(
        self, backend: UsersAndRefreshTokens
    ) -> None:
        """A token whose source is not ``local`` needs no local user; deleting a local user
        leaves a directory namesake's tokens; revoking can be limited to one source."""
        dora = make_refresh_token("dora-0", "dora", source="ldap")
        backend.add_refresh_token(dora)
        assert backend.find_refresh_token(dora.token_hash) == dora
        with pytest.raises(NotFound):
            backend.add_refresh_token(make_refresh_token("ghost-0", "ghost"))
        backend.create_user("alice", "h")
        local = make_refresh_token("alice-local", "alice")
        directory = make_refresh_token("alice-ldap", "alice", source="ldap")
        for token in (local, directory):
            backend.add_refresh_token(token)
        assert backend.list_refresh_tokens(username="alice").total == 2
        backend.delete_user("alice")
        assert backend.list_refresh_tokens(username="alice") == Page([directory], 1)
        backend.add_refresh_token(make_refresh_token("dora-1", "dora", source="other"))
        assert backend.revoke_user_refresh_tokens("dora", source="ldap") == 1
        assert [t.id for t in backend.list_refresh_tokens(username="dora").items] == ["dora-1"]
        assert backend.revoke_user_refresh_tokens("dora") == 1

    def test_credential_changes_keep_tokens(self, backend: UsersAndRefreshTokens) -> None:
        """Revoking on a password change is the caller's policy, not the store's."""
        backend.create_user("alice", "h")
        token = make_refresh_token("t1")
        backend.add_refresh_token(token)
        backend.set_password_hash("alice", "h2")
        backend.set_user_enabled("alice", False)
        backend.set_user_admin("alice", True)
        assert backend.find_refresh_token(token.token_hash) == token

    def test_concurrent_adds_of_one_token_conflict_once(
        self, backend: UsersAndRefreshTokens
    ) -> None:
        backend.create_user("alice", "h")

        def add(_: int) -> bool:
            try:
                backend.add_refresh_token(make_refresh_token("same"))
            except Conflict:
                return False
            return True

        assert sorted(in_threads(add, 8)) == [False] * 7 + [True]
        assert backend.list_refresh_tokens().total == 1
