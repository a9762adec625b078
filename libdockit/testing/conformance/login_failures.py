"""Failed-login counters: counted atomically, windowed, blocked never backwards, cleared,
pruned; attempts reserved before their check; a wrong secret sent again counted once."""

from __future__ import annotations

from datetime import timedelta, timezone

from ...backends.base import LoginFailureStore
from ...model import LoginFailures, LoginReservation
from .support import T0, in_threads

WINDOW = timedelta(minutes=15)
SECOND = timedelta(seconds=1)
REPEAT = timedelta(seconds=60)


def never(failures: int) -> timedelta | None:
    return None


def from_third(failures: int) -> timedelta | None:
    """Block from the third failure on: 1 s, 2 s, 4 s ..."""
    return None if failures < 3 else SECOND * (1 << (failures - 3))


class LoginFailureConformance:
    """Mixed into :class:`~libdockit.testing.conformance.BackendConformance`."""

    def test_unknown_keys_have_no_counter(self, backend: LoginFailureStore) -> None:
        assert backend.login_failures([]) == []
        assert backend.login_failures(["user:alice", "client:10.0.0.1"]) == []

    def test_failures_count_under_their_key(self, backend: LoginFailureStore) -> None:
        first = backend.record_login_failure("user:alice", at=T0, window=WINDOW, backoff=never)
        assert first == LoginFailures("user:alice", 1, T0, None)
        assert first.window_start.utcoffset() == timedelta(0)
        later = T0 + timedelta(minutes=1)
        second = backend.record_login_failure("user:alice", at=later, window=WINDOW, backoff=never)
        assert second == LoginFailures("user:alice", 2, T0, None)  # the window stays
        backend.record_login_failure("client:::1", at=later, window=WINDOW, backoff=never)
        found = sorted(
            backend.login_failures(["user:alice", "client:::1", "user:bob"]), key=lambda f: f.key
        )
        assert found == sorted(
            [LoginFailures("client:::1", 1, later), LoginFailures("user:alice", 2, T0)],
            key=lambda f: f.key,
        )
        assert backend.login_failures(["user:ALICE"]) == []  # keys are exact

    def test_many_keys_at_once_and_repeated_keys(self, backend: LoginFailureStore) -> None:
        keys = [f"client:10.0.0.{i}" for i in range(12)]
        for key in keys[:10]:
            backend.record_login_failure(key, at=T0, window=WINDOW, backoff=never)
        for wanted in (keys[:2], keys[8:11], keys, [*keys, *keys]):
            found = sorted(f.key for f in backend.login_failures(wanted))
            assert found == sorted(k for k in dict.fromkeys(wanted) if k in keys[:10])

    def test_aware_times_in_any_zone(self, backend: LoginFailureStore) -> None:
        zoned = T0.astimezone(timezone(timedelta(hours=-5)))
        counted = backend.record_login_failure("user:a", at=zoned, window=WINDOW, backoff=never)
        assert counted.window_start == T0
        assert backend.login_failures(["user:a"])[0].window_start.utcoffset() == timedelta(0)

    def test_backoff_blocks_and_never_moves_back(self, backend: LoginFailureStore) -> None:
        key = "client:192.0.2.7"
        for n in (1, 2):
            counted = backend.record_login_failure(key, at=T0, window=WINDOW, backoff=from_third)
            assert (counted.failures, counted.blocked_until) == (n, None)
        third = backend.record_login_failure(key, at=T0, window=WINDOW, backoff=from_third)
        assert third.blocked_until == T0 + SECOND
        at = T0 + 2 * SECOND
        fourth = backend.record_login_failure(key, at=at, window=WINDOW, backoff=from_third)
        assert fourth.blocked_until == at + 2 * SECOND

        def shorter(failures: int) -> timedelta | None:
            return timedelta(milliseconds=1)

        fifth = backend.record_login_failure(key, at=at, window=WINDOW, backoff=shorter)
        assert (fifth.failures, fifth.blocked_until) == (5, at + 2 * SECOND)
        assert backend.login_failures([key]) == [fifth]

    def test_a_window_that_is_over_starts_again(self, backend: LoginFailureStore) -> None:
        for _ in range(2):
            backend.record_login_failure("user:a", at=T0, window=WINDOW, backoff=never)
        after = T0 + WINDOW
        again = backend.record_login_failure("user:a", at=after, window=WINDOW, backoff=never)
        assert again == LoginFailures("user:a", 1, after, None)

    def test_a_blocked_counter_survives_its_window(self, backend: LoginFailureStore) -> None:
        def long_block(failures: int) -> timedelta | None:
            return 2 * WINDOW if failures >= 2 else None

        backend.record_login_failure("user:a", at=T0, window=WINDOW, backoff=long_block)
        blocked = backend.record_login_failure("user:a", at=T0, window=WINDOW, backoff=long_block)
        assert blocked.blocked_until == T0 + 2 * WINDOW
        during = T0 + WINDOW + SECOND  # window over, still blocked: keeps counting
        counted = backend.record_login_failure("user:a", at=during, window=WINDOW, backoff=never)
        assert (counted.failures, counted.window_start) == (3, T0)
        after = T0 + 2 * WINDOW
        fresh = backend.record_login_failure("user:a", at=after, window=WINDOW, backoff=never)
        assert fresh == LoginFailures("user:a", 1, after, None)

    def test_clear(self, backend: LoginFailureStore) -> None:
        backend.record_login_failure("user:a", at=T0, window=WINDOW, backoff=never)
        backend.record_login_failure("user:b", at=T0, window=WINDOW, backoff=never)
        backend.clear_login_failures("user:a")
        backend.clear_login_failures("user:nobody")
        assert [f.key for f in backend.login_failures(["user:a", "user:b"])] == ["user:b"]
        counted = backend.record_login_failure("user:a", at=T0, window=WINDOW, backoff=never)
        assert counted.failures == 1

    def test_prune_keeps_recent_and_blocked(self, backend: LoginFailureStore) -> None:
        def day(failures: int) -> timedelta | None:
            return timedelta(days=1)

        old = T0 - timedelta(hours=2)
        backend.record_login_failure("user:old", at=old, window=WINDOW, backoff=never)
        backend.record_login_failure("user:blocked", at=old, window=WINDOW, backoff=day)
        backend.record_login_failure("user:recent", at=T0, window=WINDOW, backoff=never)
        assert backend.prune_login_failures(T0 - timedelta(hours=1)) == 1
        keys = ["user:old", "user:blocked", "user:recent"]
        assert sorted(f.key for f in backend.login_failures(keys)) == keys[1:]

    def test_concurrent_failures_each_count(self, backend: LoginFailureStore) -> None:
        def fail(n: int) -> int:
            at = T0 + timedelta(microseconds=n)
            return backend.record_login_failure(
                "client:10.1.1.1", at=at, window=WINDOW, backoff=from_third
            ).failures

        counts = in_threads(fail, 24)
        assert sorted(counts) == list(range(1, 25))
        [final] = backend.login_failures(["client:10.1.1.1"])
        assert final.failures == 24
        assert final.blocked_until is not None

    # -- reserving an attempt before its check; a wrong secret sent again counts once -----
    def test_a_reservation_counts_every_key_before_the_check(
        self, backend: LoginFailureStore
    ) -> None:
        keys = ["user:a", "client:10.0.0.1"]
        done = backend.reserve_login_attempt(keys, at=T0, window=WINDOW, backoff=never)
        assert done.blocked_until is None
        assert not done.known_wrong
        assert done.counted == (
            LoginFailures("user:a", 1, T0, None, checking=1),
            LoginFailures("client:10.0.0.1", 1, T0, None, checking=1),
        )
        assert done.blocks_before == (None, None)
        assert sorted(f.failures for f in backend.login_failures(keys)) == [1, 1]

    def test_a_blocked_key_stops_the_reservation_and_nothing_changes(
        self, backend: LoginFailureStore
    ) -> None:
        for _ in range(3):
            backend.record_login_failure("client:x", at=T0, window=WINDOW, backoff=from_third)
        done = backend.reserve_login_attempt(
            ["user:new", "client:x"], at=T0, window=WINDOW, backoff=from_third
        )
        assert done.blocked_until == T0 + SECOND
        assert done.counted == ()
        assert backend.login_failures(["user:new"]) == []  # no row left behind
        [client] = backend.login_failures(["client:x"])
        assert client.failures == 3

    def test_cancel_takes_the_count_and_its_block_back(self, backend: LoginFailureStore) -> None:
        for _ in range(2):
            backend.record_login_failure("client:x", at=T0, window=WINDOW, backoff=from_third)
        backend.record_login_failure("user:a", at=T0, window=WINDOW, backoff=never)
        done = backend.reserve_login_attempt(
            ["user:a", "client:x"], at=T0, window=WINDOW, backoff=from_third
        )
        assert [c.failures for c in done.counted] == [2, 3]
        assert done.counted[1].blocked_until == T0 + SECOND
        backend.cancel_login_attempt(done, clear="user:a")
        assert backend.login_failures(["user:a"]) == []
        assert backend.login_failures(["client:x"]) == [LoginFailures("client:x", 2, T0, None)]

    def test_reserved_attempts_are_checking_until_confirmed_or_cancelled(
        self, backend: LoginFailureStore
    ) -> None:
        def reserve() -> LoginReservation:
            return backend.reserve_login_attempt(
                ["client:x"], at=T0, window=WINDOW, backoff=from_third
            )

        first, second, third = reserve(), reserve(), reserve()
        assert [c.checking for c in (*first.counted, *second.counted, *third.counted)] == [
            1,
            2,
            3,
        ]
        # The third made a block while all three are still being checked: a fourth
        # attempt is refused, told that the block may yet be taken back.
        held = reserve()
        assert (held.blocked_until, held.checking, held.counted) == (T0 + SECOND, True, ())
        backend.confirm_login_failure(first, at=T0)
        backend.cancel_login_attempt(second)
        [client] = backend.login_failures(["client:x"])
        assert (client.failures, client.checking) == (2, 1)
        assert not client.blocked_at(T0)  # the third is still being checked
        backend.confirm_login_failure(third, at=T0)
        [client] = backend.login_failures(["client:x"])
        assert (client.failures, client.checking) == (2, 0)
        assert client.blocked_until == T0 + SECOND  # the third's block stands
        assert client.blocked_at(T0)
        refused = reserve()
        assert (refused.blocked_until, refused.checking) == (T0 + SECOND, False)

    def test_recorded_failures_are_not_checking(self, backend: LoginFailureStore) -> None:
        for _ in range(3):
            backend.record_login_failure("client:x", at=T0, window=WINDOW, backoff=from_third)
        refused = backend.reserve_login_attempt(
            ["client:x"], at=T0, window=WINDOW, backoff=from_third
        )
        assert (refused.blocked_until, refused.checking) == (T0 + SECOND, False)

    def test_cancel_keeps_a_block_a_later_failure_set(self, backend: LoginFailureStore) -> None:
        for _ in range(2):
            backend.record_login_failure("client:x", at=T0, window=WINDOW, backoff=from_third)
        done = backend.reserve_login_attempt(["client:x"], at=T0, window=WINDOW, backoff=from_third)
        later = T0 + 5 * SECOND
        moved = backend.record_login_failure(
            "client:x", at=later, window=WINDOW, backoff=from_third
        )
        assert moved.blocked_until == later + 2 * SECOND
        backend.cancel_login_attempt(done)
        assert backend.login_failures(["client:x"]) == [
            LoginFailures("client:x", 3, T0, later + 2 * SECOND)
        ]

    def test_a_wrong_secret_sent_again_counts_once(self, backend: LoginFailureStore) -> None:
        keys = ["user:a", "client:x"]

        def reserve(at_seconds: int, fingerprint: str) -> LoginReservation:
            return backend.reserve_login_attempt(
                keys,
                at=T0 + at_seconds * SECOND,
                window=WINDOW,
                backoff=never,
                fingerprint=fingerprint,
                repeat_within=REPEAT,
            )

        first = reserve(0, "fp-1")
        unconfirmed = reserve(1, "fp-1")  # not confirmed yet: counts like any attempt
        assert len(unconfirmed.counted) == 2
        backend.confirm_login_failure(unconfirmed, at=T0 + SECOND)
        again = reserve(2, "fp-1")
        assert again.known_wrong
        assert (again.counted, again.repeated) == ((), ("user:a", "client:x"))
        assert [f.failures for f in backend.login_failures(keys)] == [2, 2]
        other = reserve(3, "fp-2")
        assert len(other.counted) == 2
        assert not other.known_wrong
        backend.confirm_login_failure(other, at=T0 + 3 * SECOND)
        assert not reserve(4, "fp-1").known_wrong  # only the last wrong secret is remembered
        backend.confirm_login_failure(first, at=T0 + 5 * SECOND)
        late = reserve(5 + int(REPEAT.total_seconds()), "fp-1")
        assert not late.known_wrong  # remembered for repeat_within only
        assert len(late.counted) == 2

    def test_a_repeat_is_judged_per_key(self, backend: LoginFailureStore) -> None:
        def reserve(keys: list[str], fingerprint: str) -> LoginReservation:
            return backend.reserve_login_attempt(
                keys,
                at=T0,
                window=WINDOW,
                backoff=never,
                fingerprint=fingerprint,
                repeat_within=REPEAT,
            )

        backend.confirm_login_failure(reserve(["user:a", "client:x"], "alice-wrong"), at=T0)
        backend.confirm_login_failure(reserve(["user:b", "client:x"], "bob-wrong"), at=T0)
        mixed = reserve(["user:a", "client:x"], "alice-wrong")
        assert mixed.repeated == ("user:a",)
        assert [c.key for c in mixed.counted] == ["client:x"]
        assert not mixed.known_wrong

    def test_clear_forgets_the_wrong_secret(self, backend: LoginFailureStore) -> None:
        def reserve() -> LoginReservation:
            return backend.reserve_login_attempt(
                ["user:a"],
                at=T0,
                window=WINDOW,
                backoff=never,
                fingerprint="fp",
                repeat_within=REPEAT,
            )

        backend.confirm_login_failure(reserve(), at=T0)
        backend.clear_login_failures("user:a")
        assert not reserve().known_wrong

    def test_concurrent_reservations_never_pass_a_block(self, backend: LoginFailureStore) -> None:
        def attempt(n: int) -> LoginReservation:
            return backend.reserve_login_attempt(
                ["user:target", f"client:10.3.0.{n}"],
                at=T0 + timedelta(microseconds=n),
                window=WINDOW,
                backoff=from_third,
            )

        done = in_threads(attempt, 24)
        passed = [d for d in done if d.blocked_until is None]
        assert len(passed) == 3  # the third failure blocks: no fourth check gets through
        assert sorted(d.counted[0].failures for d in passed) == [1, 2, 3]
        [user] = backend.login_failures(["user:target"])
        assert user.failures == 3
        clients = backend.login_failures([f"client:10.3.0.{n}" for n in range(24)])
        assert sorted(c.failures for c in clients) == [1, 1, 1]  # the blocked left no rows
