"""A login in a request that holds its connection: the failed-login lookup reads the user's
login record in the same statement, and the record that follows is the same one an
unheld read gives, however the store changed in between.

Mixed into the SQLite and PostgreSQL test modules, which supply ``sql_backend`` and
``other_sql_handle`` (the same store opened again, as another process would).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libdockit.backends.sql.backend import SqlBackend
from libdockit.backends.sql.models import LoginFailureRow
from libdockit.backends.sql.records import to_db
from libdockit.errors import TooManyAttempts
from libdockit.model import LoginFailures, LoginRecord
from libdockit.throttle import LoginThrottle

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
CLIENT = "client:192.0.2.7"


def never(failures: int) -> timedelta | None:
    return None


def _sorted(found: list[LoginFailures]) -> list[LoginFailures]:
    return sorted(found, key=lambda counter: counter.key)


class HeldLoginReads:
    def _alice_in_devs(self, backend: SqlBackend) -> None:
        backend.create_user("alice", "stored-hash-a")
        backend.create_user("bob", "stored-hash-b")
        backend.create_group("devs")
        backend.add_member("devs", "alice")

    def test_held_lookup_gives_the_counters_and_record_of_an_unheld_one(
        self, sql_backend: SqlBackend
    ) -> None:
        backend = sql_backend
        self._alice_in_devs(backend)
        keys = [CLIENT, "user:alice"]
        for counted in ([], [CLIENT], ["user:alice"], [CLIENT, "user:alice"]):
            for key in counted:
                backend.record_login_failure(key, at=T0, window=WINDOW, backoff=never)
            unheld = (_sorted(backend.login_failures(keys)), backend.login_record("alice"))
            with backend.pinned():
                held = (_sorted(backend.login_failures(keys)), backend.login_record("alice"))
            assert held == unheld
            assert [counter.key for counter in held[0]] == sorted(counted)
            assert held[1] == LoginRecord("alice", "stored-hash-a", True, False, ("devs",))
            for key in counted:
                backend.clear_login_failures(key)

    def test_held_lookup_of_one_key_and_of_an_unknown_user(self, sql_backend: SqlBackend) -> None:
        backend = sql_backend
        self._alice_in_devs(backend)
        backend.record_login_failure("user:nobody", at=T0, window=WINDOW, backoff=never)
        with backend.pinned():
            found = backend.login_failures(["user:nobody"])
            assert backend.login_record("nobody") is None
        assert [(counter.key, counter.failures) for counter in found] == [("user:nobody", 1)]
        with backend.pinned():
            assert backend.login_failures(["user:alice"]) == []
            record = backend.login_record("alice")
        assert record is not None
        assert record.username == "alice"

    def test_a_record_read_ahead_serves_only_its_user_and_only_once(
        self, sql_backend: SqlBackend, other_sql_handle: SqlBackend
    ) -> None:
        backend = sql_backend
        self._alice_in_devs(backend)
        with backend.pinned():
            backend.login_failures([CLIENT, "user:alice"])
            bob = backend.login_record("bob")  # another name reads its own row
            other_sql_handle.set_user_enabled("alice", False)
            alice = backend.login_record("alice")  # what was read ahead was dropped
        assert bob is not None
        assert bob.username == "bob"
        assert alice is not None
        assert not alice.enabled
        with backend.pinned():
            backend.login_failures([CLIENT, "user:alice"])
            first = backend.login_record("alice")
            other_sql_handle.set_user_enabled("alice", True)
            second = backend.login_record("alice")  # taken once: this one reads again
        assert first is not None
        assert not first.enabled
        assert second is not None
        assert second.enabled

    def test_a_write_in_the_request_drops_the_record_read_ahead(
        self, sql_backend: SqlBackend
    ) -> None:
        backend = sql_backend
        self._alice_in_devs(backend)
        with backend.pinned():
            backend.login_failures([CLIENT, "user:alice"])
            backend.set_password_hash("alice", "stored-hash-new")
            record = backend.login_record("alice")
        assert record is not None
        assert record.password_hash == "stored-hash-new"

    def test_a_record_read_ahead_ends_with_its_request(
        self, sql_backend: SqlBackend, other_sql_handle: SqlBackend
    ) -> None:
        backend = sql_backend
        self._alice_in_devs(backend)
        with backend.pinned():
            backend.login_failures([CLIENT, "user:alice"])
        other_sql_handle.remove_member("devs", "alice")
        with backend.pinned():
            record = backend.login_record("alice")
        assert record is not None
        assert record.groups == ()
        assert backend.login_record("alice") == record

    def test_idle_counters_are_left_out_but_a_users_own_and_blocked_ones(
        self, sql_backend: SqlBackend
    ) -> None:
        """A login taken back leaves idle counters (no failures, no block). The client's is
        left out of lookups, held or not; the user's is found, so that user's successful
        login clears it as it always did; an idle counter with a block is still found."""
        backend = sql_backend
        self._alice_in_devs(backend)
        keys = [CLIENT, "user:alice"]
        reservation = backend.reserve_login_attempt(keys, at=T0, window=WINDOW, backoff=never)
        backend.cancel_login_attempt(reservation)  # "cannot tell": both back to zero
        idle = [LoginFailures("user:alice", 0, T0, None)]
        assert backend.login_failures(keys) == idle
        assert backend.login_failures([CLIENT]) == []
        with backend.pinned():
            found = backend.login_failures(keys)
            assert found == idle
            assert backend.login_record("alice") is not None
        throttle = LoginThrottle(backend, clock=lambda: T0)
        throttle.succeeded("user:alice", found)
        assert backend.login_failures(["user:alice"]) == []

        with backend._session() as db:  # a block with no failures left: still a block
            LoginFailureRow.update(blocked_until=to_db(T0 + WINDOW)).where(
                LoginFailureRow.key == CLIENT
            ).execute(db)
        blocked = [LoginFailures(CLIENT, 0, T0, T0 + WINDOW)]
        assert backend.login_failures([CLIENT]) == blocked
        with backend.pinned():
            assert backend.login_failures(keys) == blocked
        with pytest.raises(TooManyAttempts):
            throttle.enforce(blocked, [CLIENT])
