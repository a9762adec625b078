"""Login time for an unknown user, a wrong password and the right one, through TokenService
with the real argon2id hasher (OWASP minimum parameters), and for a throttled attempt.

Measures, never asserts: an unknown user should cost what a wrong password costs (the
dummy verify in :mod:`libdockit.passwords`), and a throttled attempt should cost no hash at
all. Run ``python -m bench.guessing_login_timing [ROUNDS]`` (default 50 of each, interleaved
so drift hits every kind alike).
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from libdockit.backends.local import LocalAuthenticator
from libdockit.backends.memory.backend import MemoryBackend
from libdockit.errors import AuthenticationFailed, TooManyAttempts
from libdockit.keys.ring import KeyRing, ensure_active_key
from libdockit.passwords import PasswordHasher
from libdockit.secret import Secret
from libdockit.service import TokenService
from libdockit.throttle import Attempt, LoginThrottle, ThrottlePolicy
from libdockit.tokens import TokenSigner

SERVICE = "registry.test"
PASSWORD = "alice-password-1"


def service(store: MemoryBackend, hasher: PasswordHasher, policy: ThrottlePolicy) -> TokenService:
    return TokenService(
        authenticator=LocalAuthenticator(store, hasher),  # no verified-credentials cache
        grants=store,
        keys=KeyRing(store),
        signer=TokenSigner("bench"),
        throttle=LoginThrottle(store, policy),
    )


def timed(attempt: Callable[[], object]) -> float:
    started = time.perf_counter()
    with contextlib.suppress(AuthenticationFailed, TooManyAttempts):
        attempt()
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main(rounds: int) -> None:
    hasher = PasswordHasher()
    store = MemoryBackend()
    store.create_user("alice", hasher.hash(Secret(PASSWORD)))
    ensure_active_key(store, now=datetime.now(UTC))
    open_door = service(store, hasher, ThrottlePolicy(max_failures=10**9))
    hour = timedelta(hours=1)
    blocked = service(store, hasher, ThrottlePolicy(max_failures=1, first_backoff=hour))
    with contextlib.suppress(AuthenticationFailed):  # blocks the client 203.0.113.9
        blocked.logins.login(
            "mallory", Secret("x"), service=SERVICE, attempt=Attempt("203.0.113.9")
        )
    kinds: dict[str, Callable[[], object]] = {
        "unknown user": lambda: open_door.logins.login("nobody", Secret("wrong"), service=SERVICE),
        "wrong password": lambda: open_door.logins.login("alice", Secret("wrong"), service=SERVICE),
        "right password": lambda: open_door.logins.login(
            "alice", Secret(PASSWORD), service=SERVICE
        ),
        "throttled": lambda: blocked.logins.login(
            "alice", Secret(PASSWORD), service=SERVICE, attempt=Attempt("203.0.113.9")
        ),
    }
    for attempt in kinds.values():  # warm up
        timed(attempt)
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(rounds):
        for name, attempt in kinds.items():
            samples[name].append(timed(attempt))
    print(
        f"{rounds} logins of each kind, argon2id m={hasher.parameters.memory_kib} KiB "
        f"t={hasher.parameters.time_cost} p={hasher.parameters.parallelism}; milliseconds"
    )
    print(f"{'kind':<16}{'mean':>8}{'stdev':>8}{'min':>8}{'p50':>8}{'p90':>8}{'max':>8}")
    for name, values in samples.items():
        row = [
            statistics.fmean(values),
            statistics.stdev(values),
            min(values),
            percentile(values, 0.5),
            percentile(values, 0.9),
            max(values),
        ]
        print(f"{name:<16}" + "".join(f"{v:>8.2f}" for v in row))
    unknown, wrong = samples["unknown user"], samples["wrong password"]
    ratio = statistics.median(unknown) / statistics.median(wrong)
    print(f"median unknown user / median wrong password = {ratio:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
