"""Limit password and refresh-token guessing: failed logins per user and per client address.

Policy (:class:`ThrottlePolicy`): after ``max_failures`` failures counted under one key
within ``window`` (from the first of them), each further failure blocks the key for a
backoff that doubles: 1 s, 2 s, 4 s ... up to ``max_backoff``. While a key is blocked every
login under it is refused with :class:`~libdockit.errors.TooManyAttempts` *before* any
credential is checked: no hash is computed, and the answer is the same whether the password
was right or not. Refused attempts do not count as failures (a client that retries at once
does not extend its own block). A successful login clears the user's counter, never the
client's (one valid account must not buy more guesses at the others).

Keys: ``user:NAME`` for the normalised name a password was tried for (known or not, so a
lockout does not tell whether a user exists) and ``client:ADDRESS`` for the caller. A
refresh token presented without a username counts under the client only. The counters live
in a :class:`~libdockit.backends.base.LoginFailureStore`, so with the SQL backend every worker
process sees the same ones.

A lockout that starts (the failure that first reaches ``max_failures`` in a window) is
reported once to ``on_lockout``, e.g. to write the audit log.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .backends.base import LoginFailures, LoginFailureStore
from .errors import DockitError, TooManyAttempts, ValidationError
from .model import validate_name
from .tokens import Clock, utc_now

log = logging.getLogger("dockit.throttle")

USER_KEY = "user:"
CLIENT_KEY = "client:"
MAX_ADDRESS_LENGTH = 64
#: Forget counters that cannot matter any more after this many recorded failures.
PRUNE_EVERY = 500


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    max_backoff: timedelta = timedelta(minutes=15)
    first_backoff: timedelta = timedelta(seconds=1)

    def backoff(self, failures: int) -> timedelta | None:
        """How long the ``failures``-th failure in a window blocks (None: not at all)."""
        if failures < self.max_failures:
            return None
        doublings = min(failures - self.max_failures, 40)  # 2**40 s is past any cap
        return min(self.first_backoff * (1 << doublings), self.max_backoff)


@dataclass(frozen=True, slots=True)
class Attempt:
    """Where a login attempt came from: the client address (None: unknown) and request id."""

    client_address: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Lockout:
    """A key that has just become blocked."""

    key: str
    failures: LoginFailures
    attempt: Attempt


def user_key(username: str) -> str | None:
    """The counter key of a username as sent; None for one no user can have."""
    try:
        return USER_KEY + validate_name(username)
    except ValidationError:
        return None


def client_key(address: str | None) -> str | None:
    if not address:
        return None
    return CLIENT_KEY + address[:MAX_ADDRESS_LENGTH]


class LoginThrottle:
    """Checks, counts and clears failed logins in a shared store (see the module docs)."""

    def __init__(
        self,
        store: LoginFailureStore,
        policy: ThrottlePolicy | None = None,
        *,
        clock: Clock = utc_now,
        on_lockout: Callable[[Lockout], None] | None = None,
    ) -> None:
        self._store = store
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        self._on_lockout = on_lockout
        self._lock = threading.Lock()
        self._since_prune = 0

    def lookup(self, keys: Sequence[str | None]) -> list[LoginFailures]:
        """The counters of ``keys`` (None entries are skipped), in one store read."""
        wanted = [k for k in keys if k]
        return self._store.login_failures(wanted) if wanted else []

    def enforce(self, found: Sequence[LoginFailures], keys: Sequence[str | None]) -> None:
        """Raise TooManyAttempts if any of ``keys`` is blocked now, per ``found``."""
        if not found:  # the common case: nobody failed lately, so no clock to read
            return
        now = self._clock()
        waits = [
            f.blocked_until - now
            for f in found
            if f.key in keys and f.blocked_until is not None and f.blocked_until > now
        ]
        if waits:
            seconds = math.ceil(max(waits).total_seconds())
            raise TooManyAttempts(
                f"too many failed logins; try again in {seconds} s", retry_after=seconds
            )

    def failed(self, keys: Sequence[str | None], attempt: Attempt) -> None:
        """Count one failure under each key (None entries are skipped); report lockouts
        that start."""
        now = self._clock()
        for key in filter(None, keys):
            counted = self._store.record_login_failure(
                key, at=now, window=self.policy.window, backoff=self.policy.backoff
            )
            if counted.failures == self.policy.max_failures and self._on_lockout is not None:
                self._on_lockout(Lockout(key, counted, attempt))
        self._maybe_prune(now)

    def succeeded(self, key: str | None, found: Sequence[LoginFailures]) -> None:
        """Clear ``key``'s counter if :meth:`lookup` found one (no write when there is none)."""
        if key is not None and any(f.key == key for f in found):
            self._store.clear_login_failures(key)

    def _maybe_prune(self, now: datetime) -> None:
        with self._lock:
            self._since_prune += 1
            due = self._since_prune >= PRUNE_EVERY
            if due:
                self._since_prune = 0
        if not due:
            return
        horizon = max(self.policy.window, self.policy.max_backoff)
        try:
            self._store.prune_login_failures(now - horizon)
        except DockitError as exc:
            log.warning("could not prune failed-login counters: %s", exc.code)
