"""Bounded background loops of registry reads, each attempt classified, for rotation tests.

A :class:`PullLoop` runs one attempt after another in a thread until it is stopped, or until
``max_attempts`` or ``max_seconds`` is reached, and keeps a :class:`Tally`. Each attempt says
what happened (:class:`Outcome`):

* ``ok``: the registry answered the read;
* ``connection``: the *registry* could not be reached (connection refused or reset, EOF) —
  expected for a moment while it restarts; the loop simply tries again;
* ``auth``: the registry refused the token (401: unauthorized, invalid token) — what a key
  rotation must never cause;
* ``other``: anything else (Dockit refusing, a timeout, an unknown error), kept with its text.

Every failure is recorded with its stderr or body (the first :data:`KEEP_FAILURES`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

KEEP_FAILURES = 50
KINDS = ("ok", "connection", "auth", "other")
_CONNECTION_WORDS = ("connection refused", "connection reset", "eof", "broken pipe", "remote end")
_AUTH_WORDS = ("unauthorized", "authentication required", "invalid token", "invalid_token", "401")


@dataclass(frozen=True)
class Outcome:
    kind: str
    detail: str = ""
    #: The kid of the token used, when the attempt knows it.
    kid: str | None = None


def classify(message: str, registry_host: str) -> str:
    """``connection`` only for the registry's own address (Dockit never restarts here)."""
    lowered = message.lower()
    if registry_host in message and any(word in lowered for word in _CONNECTION_WORDS):
        return "connection"
    if any(word in lowered for word in _AUTH_WORDS):
        return "auth"
    return "other"


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    ok_by_kid: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    #: Seconds the loop ran.
    elapsed: float = 0.0

    @property
    def attempts(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        parts = [f"{self.attempts} attempts in {self.elapsed:.1f}s"]
        parts += [f"{kind} {self.counts[kind]}" for kind in KINDS]
        return ", ".join(parts)


class PullLoop:
    """Run ``attempt`` repeatedly in a daemon thread; see the module docs."""

    def __init__(
        self,
        name: str,
        attempt: Callable[[], Outcome],
        *,
        max_attempts: int,
        max_seconds: float,
        pause: float = 0.0,
    ) -> None:
        self.name = name
        self._attempt = attempt
        self._max_attempts = max_attempts
        self._max_seconds = max_seconds
        self._pause = pause
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._tally = Tally()
        self._thread = threading.Thread(target=self._run, name=f"pull-loop-{name}", daemon=True)

    def start(self) -> PullLoop:
        self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        for _ in range(self._max_attempts):
            if self._stop.is_set() or time.monotonic() - started > self._max_seconds:
                break
            try:
                outcome = self._attempt()
            except Exception as exc:  # a bug in the attempt: count it, never hide it
                outcome = Outcome("other", f"{type(exc).__name__}: {exc}")
            with self._lock:
                self._tally.counts[outcome.kind] += 1
                if outcome.kind == "ok" and outcome.kid is not None:
                    self._tally.ok_by_kid[outcome.kid] += 1
                if outcome.kind != "ok" and len(self._tally.failures) < KEEP_FAILURES:
                    self._tally.failures.append(f"[{outcome.kind}] {outcome.detail.strip()}")
                self._tally.elapsed = time.monotonic() - started
            if self._pause:
                self._stop.wait(self._pause)

    def count(self, kind: str) -> int:
        with self._lock:
            return self._tally.counts[kind]

    def wait_for(self, kind: str, at_least: int, *, timeout: float) -> None:
        """Wait until ``kind`` was counted ``at_least`` times; AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._thread.is_alive():
            if self.count(kind) >= at_least:
                return
            time.sleep(0.05)
        if self.count(kind) < at_least:
            raise AssertionError(
                f"{self.name}: {self.count(kind)} {kind} after {timeout}s, wanted {at_least}; "
                f"{self.snapshot().summary()}; failures: {self.snapshot().failures[-5:]}"
            )

    def snapshot(self) -> Tally:
        with self._lock:
            return Tally(
                Counter(self._tally.counts),
                Counter(self._tally.ok_by_kid),
                list(self._tally.failures),
                self._tally.elapsed,
            )

    def stop(self, *, timeout: float = 90.0) -> Tally:
        """Stop after the current attempt; the final tally."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"{self.name}: the loop did not stop within {timeout}s")
        return self.snapshot()
