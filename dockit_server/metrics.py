"""Prometheus metrics, correct across gunicorn workers.

Each worker counts in its own process; ``dockit api-server`` points prometheus_client's
multiprocess mode at a fresh directory (``PROMETHEUS_MULTIPROC_DIR``) before the workers
fork, so a scrape of any worker sums every worker's counters and histograms. Certificate
expiry is computed at scrape time from the key ring, so it is never stale; so are the
robots and personal access tokens about to expire (cached a minute).

prometheus_client is used rather than a hand-written exposition: its multiprocess mode
(mmap'ed files per worker, merged on scrape) is the part that is easy to get wrong. The
token path writes its values through :mod:`.metric_values` (the same files, fewer steps
per write).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from libdockit.backends.credential_store import AccessCredentialStore
from libdockit.errors import BackendUnavailable
from libdockit.keys.ring import KeyRing

from .credential_metrics import CredentialExpiry
from .metric_values import CounterWriter, HistogramWriter
from .multiproc import MULTIPROC_ENV

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: The service label of a request for a service not in ``token.services`` (refused).
OTHER_SERVICE = "other"
#: The service label of every request when ``token.services`` is empty (any service).
ANY_SERVICE = "any"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _CertificateExpiry(Collector):
    def __init__(self, keys: KeyRing, clock: Callable[[], datetime]) -> None:
        self._keys = keys
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "dockit_certificate_expiry_days",
            "Days until each published signing certificate expires.",
            labels=["kid"],
        )
        now = self._clock()
        try:
            published = self._keys.published()
        except BackendUnavailable:
            published = []
        for key in published:
            family.add_metric([key.kid], (key.not_after - now).total_seconds() / 86400)
        yield family


class Metrics:
    """The server's metrics; one instance per app (a registry of its own, no globals)."""

    def __init__(
        self,
        keys: KeyRing | None = None,
        *,
        services: Sequence[str] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._collect_registry = self.registry
        if os.environ.get(MULTIPROC_ENV):
            self._collect_registry = CollectorRegistry()
            MultiProcessCollector(self._collect_registry)  # type: ignore[no-untyped-call]
        self.token_requests = Counter(
            "dockit_token_requests",
            "Token requests by outcome and service.",
            ["outcome", "service"],
            registry=self.registry,
        )
        self.token_seconds = Histogram(
            "dockit_token_request_seconds",
            "Time to answer a token request.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.backend_seconds = Histogram(
            "dockit_backend_seconds",
            "Time spent in each backend call.",
            ["backend", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.backend_errors = Counter(
            "dockit_backend_errors",
            "Backend calls that could not answer.",
            ["backend", "operation"],
            registry=self.registry,
        )
        self.audit_backlog = Gauge(
            "dockit_audit_backlog_events",
            "Audit events each worker still holds after its last write (0 while the store "
            "keeps up).",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.audit_dropped = Counter(
            "dockit_audit_dropped_events",
            "Audit events given up because the store could not take them for too long.",
            registry=self.registry,
        )
        self._clock = clock or (lambda: datetime.now(UTC))
        if keys is not None:
            self.watch_certificates(keys)
        self._services = frozenset(services)
        # Bounded: outcomes are few, and service labels the configured ones plus three.
        self._token_counters: dict[tuple[str, str], CounterWriter] = {}
        self._token_seconds = HistogramWriter(self.token_seconds)

    def watch_certificates(self, keys: KeyRing) -> None:
        """Report the published signing certificates' expiry (once per Metrics)."""
        self._collect_registry.register(_CertificateExpiry(keys, self._clock))

    def watch_credentials(self, store: AccessCredentialStore) -> None:
        """Report robots and personal access tokens about to expire (see
        :mod:`.credential_metrics`; once per Metrics)."""
        self._collect_registry.register(CredentialExpiry(store, self._clock))

    def token_request(self, outcome: str, service: str | None, seconds: float) -> None:
        """Count one answered token request and observe how long it took."""
        key = (outcome, self.service_label(service))
        counter = self._token_counters.get(key)
        if counter is None:  # labels() validates and looks the child up under a lock
            counter = self._token_counters[key] = CounterWriter(self.token_requests.labels(*key))
        counter.inc()
        self._token_seconds.observe(seconds)

    def service_label(self, service: str | None) -> str:
        """The label for ``service``: a configured service (``token.services``) is its own
        label; any other name, which Dockit refuses, is ``other``, so no client can add
        label values or take a real service's. With no services configured (any is
        allowed) every request is ``any``: the names are the clients' to choose."""
        if not service:
            return "none"
        if not self._services:
            return ANY_SERVICE
        return service if service in self._services else OTHER_SERVICE

    def backend_timer(self, backend: str, operation: str) -> BackendTimer:
        """Where one backend call's time and failure are counted (see :class:`BackendTimer`)."""
        return BackendTimer(self, backend, operation)

    def exposition(self) -> bytes:
        return generate_latest(self._collect_registry)


class BackendTimer:
    """``dockit_backend_seconds`` and ``dockit_backend_errors_total`` of one backend
    operation, for a caller that times the call itself (see :mod:`.instrument`): a lambda
    and a label lookup per call cost more than the observation. The labelled series are
    made at the first call or failure, as ``labels()`` made them, so none shows before."""

    __slots__ = ("_backend", "_errors", "_metrics", "_operation", "_seconds")

    def __init__(self, metrics: Metrics, backend: str, operation: str) -> None:
        self._metrics = metrics
        self._backend = backend
        self._operation = operation
        self._seconds: HistogramWriter | None = None
        self._errors: Counter | None = None

    def observe(self, seconds: float) -> None:
        histogram = self._seconds
        if histogram is None:
            histogram = self._seconds = HistogramWriter(
                self._metrics.backend_seconds.labels(self._backend, self._operation)
            )
        histogram.observe(seconds)

    def failed(self) -> None:
        errors = self._errors
        if errors is None:
            errors = self._errors = self._metrics.backend_errors.labels(
                self._backend, self._operation
            )
        errors.inc()
