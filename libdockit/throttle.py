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

Concurrent guesses: a password that needs the slow check is counted *before* it is checked
(:meth:`LoginThrottle.reserve`, one atomic step in the store across every key, process and
instance), and the count is taken back when the password was right. So guesses sent at
once cannot all pass one check: the one that reaches ``max_failures`` blocks the rest
before their hash is computed. Since that block may be taken back (the passwords were
right, or the directory could not tell), the others wait for those checks (a short,
bounded wait: :meth:`LoginThrottle.reserve`) rather than being refused at once. A
password the authenticator already knows to be right (its verified-credentials cache)
needs no check, and so no write.

The same wrong secret sent again (containerd POSTs the password grant and, refused, sends
the same credentials again by GET; clients retry) counts once: each counted key remembers a
keyed hash (HMAC-SHA256 with the throttle's key, never the secret) of its last wrong
secret, and the same secret under the same key within ``repeat_window`` is refused at once,
neither checked nor counted again.

A lockout that starts (the failure that first reaches ``max_failures`` in a window) is
reported once to ``on_lockout``, e.g. to write the audit log.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from .backends.base import LoginFailureStore
from .clock import Clock, utc_now
from .errors import DockitError, TooManyAttempts, ValidationError
from .model import LoginFailures, LoginReservation, validate_name
from .secret import Secret

log = logging.getLogger("dockit.throttle")

USER_KEY = "user:"
CLIENT_KEY = "client:"
MAX_ADDRESS_LENGTH = 64
#: Forget counters that cannot matter any more after this many recorded failures.
PRUNE_EVERY = 500
#: Waiting for attempts still being checked: first and longest pause between tries (s).
_FIRST_PAUSE = 0.01
_LAST_PAUSE = 0.2


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    max_backoff: timedelta = timedelta(minutes=15)
    first_backoff: timedelta = timedelta(seconds=1)
    #: How long a wrong secret sent again under the same key counts once (0: always counts).
    repeat_window: timedelta = timedelta(seconds=60)

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
    """Checks, counts and clears failed logins in a shared store (see the module docs).

    ``secret_key`` keys the hashes of wrong secrets; processes that share a store should
    share it (the server derives it from ``keys.encryption_secret``, or makes one per
    instance before its workers start). Without it each throttle makes its own.
    ``while_waiting`` is entered around each pause of :meth:`reserve` (the server gives its
    database connection back meanwhile).
    """

    def __init__(
        self,
        store: LoginFailureStore,
        policy: ThrottlePolicy | None = None,
        *,
        clock: Clock = utc_now,
        on_lockout: Callable[[Lockout], None] | None = None,
        secret_key: bytes | None = None,
        wait_for_checks: float = 2.0,
        while_waiting: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        self._store = store
        self._while_waiting = while_waiting
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        self._on_lockout = on_lockout
        self._secret_key = secret_key or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._since_prune = 0
        #: How long an attempt waits for others still being checked (see :meth:`reserve`).
        self.wait_for_checks = wait_for_checks

    def lookup(self, keys: Sequence[str | None]) -> list[LoginFailures]:
        """The counters of ``keys`` (None entries are skipped), in one store read."""
        wanted = [k for k in keys if k]
        return self._store.login_failures(wanted) if wanted else []

    def enforce(self, found: Sequence[LoginFailures], keys: Sequence[str | None]) -> None:
        """Raise TooManyAttempts if any of ``keys`` is blocked now, per ``found``."""
        if not found:  # the common case: nobody failed lately, so no clock to read
            return
        now = self._clock()
        blocks = [f.blocked_until for f in found if f.key in keys and f.blocked_at(now)]
        if blocks:
            _refuse(max(b for b in blocks if b is not None) - now)

    def fingerprint(self, *parts: str) -> str:
        """A keyed hash of a secret and what it was sent with (never the secret itself)."""
        message = "\0".join(parts).encode("utf-8", "surrogatepass")
        return hmac.new(self._secret_key, message, hashlib.sha256).hexdigest()[:32]

    def password_fingerprint(self, username: str, password: Secret) -> str:
        return self.fingerprint("password", username, password.reveal())

    def reserve(
        self, keys: Sequence[str | None], *, fingerprint: str | None = None
    ) -> LoginReservation:
        """Count an attempt under each key before its secret is checked (see the module
        docs); TooManyAttempts, with nothing counted, if any key is blocked. A reservation
        that is ``known_wrong`` repeats a wrong secret: refuse it without a check.

        A block made by attempts still being checked may be taken back (they were counted
        ahead): such an attempt waits for them, up to ``wait_for_checks`` seconds in all,
        and tries again; so right passwords sent at once (a cluster logging in with one
        account) all pass, and guesses sent at once are still checked one budget at a
        time."""
        wanted = [key for key in keys if key]
        pause, waited = _FIRST_PAUSE, 0.0
        while True:
            now = self._clock()
            reservation = self._store.reserve_login_attempt(
                wanted,
                at=now,
                window=self.policy.window,
                backoff=self.policy.backoff,
                fingerprint=fingerprint,
                repeat_within=self.policy.repeat_window,
            )
            if reservation.blocked_until is None:
                return reservation
            if not reservation.checking or waited >= self.wait_for_checks:
                _refuse(reservation.blocked_until - now)
            with self._while_waiting():
                time.sleep(pause)  # looked up now: gevent's once a worker has patched it
            waited += pause
            pause = min(pause * 2, _LAST_PAUSE)

    def wrong(self, reservation: LoginReservation, attempt: Attempt) -> None:
        """The reserved attempt's secret was wrong: its counts stand; report lockouts that
        start."""
        now = self._clock()
        if reservation.counted:
            self._store.confirm_login_failure(reservation, at=now)
        self._report(reservation.counted, attempt)
        self._maybe_prune(now)

    def cancel(self, reservation: LoginReservation, *, clear: str | None = None) -> None:
        """The reserved attempt's secret was right (``clear``: the user key to forget) or
        could not be checked: take its counts back."""
        if reservation.counted or clear is not None:
            self._store.cancel_login_attempt(reservation, clear=clear)

    def failed(
        self, keys: Sequence[str | None], attempt: Attempt, *, fingerprint: str | None = None
    ) -> None:
        """Count one failure under each key (None entries are skipped); report lockouts
        that start. With ``fingerprint``, a key that has just seen it fail counts nothing."""
        now = self._clock()
        if fingerprint is not None:
            with contextlib.suppress(TooManyAttempts):  # blocked meanwhile: not counted
                self.wrong(self.reserve(keys, fingerprint=fingerprint), attempt)
            return
        counted = [
            self._store.record_login_failure(
                key, at=now, window=self.policy.window, backoff=self.policy.backoff
            )
            for key in filter(None, keys)
        ]
        self._report(counted, attempt)
        self._maybe_prune(now)

    def _report(self, counted: Sequence[LoginFailures], attempt: Attempt) -> None:
        if self._on_lockout is None:
            return
        for counter in counted:
            if counter.failures == self.policy.max_failures:
                self._on_lockout(Lockout(counter.key, counter, attempt))

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


def _refuse(wait: timedelta) -> None:
    seconds = max(1, math.ceil(wait.total_seconds()))
    raise TooManyAttempts(f"too many failed logins; try again in {seconds} s", retry_after=seconds)
