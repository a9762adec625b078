"""Failed-login counters: counted atomically, windowed, blocked never backwards, cleared,
pruned."""

from __future__ import annotations

from datetime import timedelta, timezone

from ...backends.base import LoginFailures, LoginFailureStore
from .support import T0, in_threads

WINDOW = timedelta(minutes=15)
SECOND = timedelta(seconds=1)


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
