"""``dockit_access_credentials_expiring``: robots and personal access tokens that still work
(enabled) but will soon stop, for an alert before a CI pipeline finds out.

Counted at scrape time from the store (:meth:`~libdockit.backends.credential_store.
AccessCredentialStore.access_credentials_expiring`, one indexed query) and kept for
:data:`CACHE_SECONDS`, so frequent scrapes cost nothing; a store that cannot answer leaves
the gauge out rather than reporting zeros.

Labels: ``kind`` (``robot``, ``pat``) and ``within``: ``7d`` and ``30d`` count those that
expire within that many days (cumulative: ``30d`` includes ``7d``), ``expired`` those past
their expiry that nobody has disabled or deleted yet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from libdockit.backends.credential_store import AccessCredentialStore
from libdockit.errors import BackendUnavailable
from libdockit.model import CREDENTIAL_KINDS

#: The windows reported, by label.
WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("7d", timedelta(days=7)),
    ("30d", timedelta(days=30)),
)
EXPIRED = "expired"
CACHE_SECONDS = 60.0

Counts = dict[tuple[str, str], int]


def expiring_counts(store: AccessCredentialStore, now: datetime) -> Counts:
    """(kind, within) -> how many enabled credentials expire in that window."""
    longest = max(span for _, span in WINDOWS)
    counts: Counts = {(kind, label): 0 for kind in CREDENTIAL_KINDS for label in _labels()}
    for credential in store.access_credentials_expiring(now + longest):
        expires_at = credential.expires_at
        if expires_at is None:  # pragma: no cover - the store returns only those with one
            continue
        if expires_at <= now:
            counts[(credential.kind, EXPIRED)] += 1
            continue
        for label, span in WINDOWS:
            if expires_at < now + span:
                counts[(credential.kind, label)] += 1
    return counts


def _labels() -> tuple[str, ...]:
    return (EXPIRED, *(label for label, _ in WINDOWS))


class CredentialExpiry(Collector):
    def __init__(self, store: AccessCredentialStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, Counts] | None = None

    def _counts(self) -> Counts | None:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
            try:
                counts = expiring_counts(self._store, self._clock())
            except BackendUnavailable:
                return None
            self._cached = (time.monotonic(), counts)
            return counts

    def collect(self) -> Iterator[Metric]:
        counts = self._counts()
        if counts is None:
            return
        family = GaugeMetricFamily(
            "dockit_access_credentials_expiring",
            "Enabled robot accounts and personal access tokens expiring within a window "
            "(7d, 30d: cumulative), or already expired (expired).",
            labels=["kind", "within"],
        )
        for (kind, within), count in sorted(counts.items()):
            family.add_metric([kind, within], count)
        yield family
